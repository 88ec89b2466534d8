"""The torch side of chapters 5, 6, 8, 9 and 10's explorables: each compute() checked against an independent
computation (the chapter's formula, autograd, the package's functions, the memory meter)."""

import math

import pytest
import torch
import torch.nn.functional as F

from xentbook.accuracy import log_softmax_log1p, reference_log_softmax, ulp_error
from xentbook.example import running_example
from xentbook.explorables import gradients, margin, memory, pipeline, smoothing
from xentbook.scratch import log_softmax

BAD = ["NaN", "abc", "1e400"]


# --- chapter 5: the pipeline ---------------------------------------------------------------------------------------

def test_pipeline_default_is_the_running_example_cross_entropy():
    logits, target = running_example()
    result = pipeline.compute(pipeline.pipeline_inputs())
    assert result.ok
    assert torch.equal(result.values["log_probs"], F.log_softmax(logits, dim=1))
    assert torch.equal(result.values["loss"], F.cross_entropy(logits, target))
    assert torch.equal(result.values["picked"], F.log_softmax(logits, dim=1)[range(5), target])


def test_pipeline_weighted_mean_divides_by_the_kept_rows_weights():
    logits, target = running_example()
    weight = torch.tensor([1.0, 2.0, 0.5])
    result = pipeline.compute(pipeline.pipeline_inputs(w1="2", w2="0.5", t3="ignore"))
    keep = torch.tensor([True, True, True, False, True])
    per_row = -F.log_softmax(logits, dim=1)[range(5), target] * weight[target]
    torch.testing.assert_close(result.values["total"], per_row[keep].sum())
    torch.testing.assert_close(result.values["divisor"], weight[target][keep].sum())
    torch.testing.assert_close(result.values["loss"], per_row[keep].sum() / weight[target][keep].sum())
    assert result.values["row_loss"][3] == 0 and result.values["row_weight"][3] == 0
    assert "1 of the 5 rows have the ignore_index -100" in result.message


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pipeline_reductions_match_f_nll_loss_and_every_row_ignored_gives_nan_for_mean(reduction):
    logits, target = running_example()
    result = pipeline.compute(pipeline.pipeline_inputs(reduction=reduction, ignore_index="0"))
    expected = F.nll_loss(F.log_softmax(logits, dim=1), target, reduction=reduction, ignore_index=0)
    assert torch.equal(result.values["loss"], expected)
    everything = pipeline.compute(pipeline.pipeline_inputs(reduction=reduction, **{f"t{i}": "ignore" for i in range(5)}))
    if reduction == "mean":
        assert everything.values["loss"].isnan() and "0 / 0 = nan" in everything.message
    else:
        assert (everything.values["loss"] == 0).all()


@pytest.mark.parametrize("field", ["z2_1", "w0", "ignore_index"])
@pytest.mark.parametrize("typed", BAD + ["1e39"])
def test_pipeline_refuses_bad_input_with_a_message(field, typed):
    result = pipeline.compute(pipeline.pipeline_inputs(**{field: typed}))
    if field == "ignore_index" and typed == "1e39":
        assert "whole number" in result.message
    assert not result.ok and result.message and not result.values


# --- chapter 6: label smoothing ------------------------------------------------------------------------------------

@pytest.mark.parametrize("eps", [0.05, 0.1, 0.4])
@pytest.mark.parametrize("classes", [2, 3, 7])
def test_smoothing_loss_is_the_soft_target_loss_and_the_floor_is_the_entropy_of_q(eps, classes):
    result = smoothing.compute(dict(eps=str(eps), classes=classes, confidence="0.7"))
    q = result.values["q"]
    logits = result.values["logits"]
    torch.testing.assert_close(result.values["loss"], F.cross_entropy(logits[None], q[None]))
    torch.testing.assert_close(result.values["floor"], torch.special.entr(q.double()).sum().float())
    assert result.values["best"] == q[-1]
    assert math.isclose(q[-1].item(), 1 - eps + eps / classes, rel_tol=1e-6)


def test_smoothing_floor_is_the_lowest_loss_and_the_best_confidence_its_place():
    eps, classes = 0.1, 3
    grid = torch.linspace(0.5, 0.999, 500).tolist()
    losses = [smoothing.compute(dict(eps=str(eps), classes=classes, confidence=repr(p))).values["loss"].item() for p in grid]
    best = smoothing.compute(dict(eps=str(eps), classes=classes, confidence="0.5"))
    assert min(losses) >= best.values["floor"].item() - 1e-6
    assert abs(grid[losses.index(min(losses))] - best.values["best"].item()) < 2e-3


@pytest.mark.parametrize("confidence", ["0.5", "0.9", "0.95", "0.999"])
def test_smoothing_message_gives_the_sign_of_the_target_gradient_that_autograd_finds(confidence):
    result = smoothing.compute(dict(eps="0.1", classes=3, confidence=confidence))
    logits = result.values["logits"].clone().requires_grad_()
    F.cross_entropy(logits[None], torch.tensor([2]), label_smoothing=0.1).backward()
    says_positive = "is positive" in result.message
    assert says_positive == (logits.grad[2].item() > 0)
    assert ("is negative" in result.message) == (logits.grad[2].item() < 0)


@pytest.mark.parametrize("inputs", [dict(eps=b, classes=3, confidence="0.9") for b in BAD + ["-0.1", "1.5"]]
                         + [dict(eps="0.1", classes=3, confidence=b) for b in BAD + ["0", "1"]]
                         + [dict(eps="0.1", classes=c, confidence="0.9") for c in (1, 8, True)])
def test_smoothing_refuses_bad_input_with_a_message(inputs):
    result = smoothing.compute(inputs)
    assert not result.ok and result.message


# --- chapter 8: gradients ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("eps", ["0", "0.1", "1"])
@pytest.mark.parametrize("target", [0, 1, 2])
def test_gradient_is_softmax_minus_q(eps, target):
    result = gradients.compute(dict(z0="1.3877", z1="-1.2656", z2="-0.9112", target=target, eps=eps))
    torch.testing.assert_close(result.values["grad"], result.values["probs"] - result.values["q"])
    onehot = F.one_hot(torch.tensor(target), 3).float()
    e = float(eps)
    torch.testing.assert_close(result.values["q"], (1 - e) * onehot + e / 3)


def test_gradient_message_names_the_classes_descent_raises_and_lowers():
    result = gradients.compute(dict(z0="1.3877", z1="-1.2656", z2="-0.9112", target=2, eps="0"))
    assert "raises the logit of class 2" in result.message and "lowers classes 0 and 1" in result.message
    confident = gradients.compute(dict(z0="0", z1="0", z2="6", target=2, eps="0.1"))
    assert confident.values["grad"][2] > 0 and "lowers even the target's logit" in confident.message


@pytest.mark.parametrize("inputs", [dict(z0=b, z1="0", z2="0", target=0, eps="0") for b in BAD + ["1e39"]]
                         + [dict(z0="0", z1="0", z2="0", target=0, eps=b) for b in BAD + ["2"]]
                         + [dict(z0="0", z1="0", z2="0", target=3, eps="0")])
def test_gradients_refuse_bad_input_with_a_message(inputs):
    result = gradients.compute(inputs)
    assert not result.ok and result.message


# --- chapter 9: the margin of a dominant logit ---------------------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "2.2989", "16", "17", "30", "100"])
def test_margin_uses_the_package_functions(value):
    result = margin.compute(dict(margin=value))
    row = margin.row_for(float(value))
    assert torch.equal(result.values["logits"], row)
    assert torch.equal(result.values["max_shifted"], log_softmax(row))
    assert torch.equal(result.values["log1p"], log_softmax_log1p(row))
    assert torch.equal(result.values["reference"], reference_log_softmax(row).float())


def test_margin_message_says_log_p0_is_exactly_0_exactly_when_it_is():
    for value in torch.arange(0, 40.5, 0.5).tolist():
        result = margin.compute(dict(margin=repr(value)))
        is_zero = result.values["max_shifted"][0].item() == 0
        assert ("returns log p0 = 0 exactly" in result.message) == is_zero, value
        row = result.values["logits"]
        assert ulp_error(log_softmax_log1p(row), reference_log_softmax(row)).max() < 4
    assert "returns log p0 = 0 exactly" in margin.compute(dict(margin="30")).message


@pytest.mark.parametrize("typed", BAD + ["-1", "1e31"])
def test_margin_refuses_bad_input_with_a_message(typed):
    result = margin.compute(dict(margin=typed))
    assert not result.ok and result.message


# --- chapter 10: memory --------------------------------------------------------------------------------------------

def test_memory_formula_reads_the_chapters_numbers():
    result = memory.compute(dict(tokens="8192", vocabulary="128256", dtype="float32", chunk="1024", width="4096"))
    assert result.values["logits"] == 8192 * 128256 * 4
    assert result.values["plain"] == 3 * result.values["logits"]
    assert result.values["chunked"] == result.values["logits"]
    assert "4.203 GB" in result.message  # chapter 10's "4.2 GB" for the logits of 8192 tokens over Llama 3's vocabulary


@pytest.mark.parametrize("name", ["tokens", "vocabulary", "chunk", "width"])
@pytest.mark.parametrize("typed", BAD + ["0", "1.5", "1e9"])
def test_memory_refuses_bad_input_with_a_message(name, typed):
    inputs = dict(tokens="8192", vocabulary="128256", dtype="float32", chunk="1024", width="4096") | {name: typed}
    result = memory.compute(inputs)
    assert not result.ok and result.message
