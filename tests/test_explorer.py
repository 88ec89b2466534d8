"""The overflow explorer's logic (xentbook.explorables.overflow), called as the chapter cells and the widget call it."""

import math

import pytest
import torch
import torch.nn.functional as F

from xentbook.explorables.base import bundle
from xentbook.explorables.overflow import (
    BASE_LOGITS,
    FAILED_STEP,
    OUTCOMES,
    STEPS,
    TARGET,
    OverflowExplorer,
    exp_overflow_threshold,
    explore,
    outcome,
)
from xentbook.floats import next_down

THRESHOLDS = {
    "float16": 11.09375,
    "bfloat16": 89.0,
    "float32": 88.72283935546875,
    "float64": 709.7827128933841,
}


@pytest.mark.parametrize("dtype", THRESHOLDS)
def test_exp_overflow_threshold_is_the_first_value_whose_exp_is_inf(dtype):
    threshold = exp_overflow_threshold(dtype)
    assert threshold == THRESHOLDS[dtype]
    at = torch.tensor(threshold, dtype=getattr(torch, dtype))
    below = next_down(at)  # the representable value just below
    assert torch.isinf(torch.exp(at))
    assert torch.isfinite(torch.exp(below))


def test_explore_at_scale_one_matches_torch_softmax_and_cross_entropy():
    result = explore(scale=1.0)
    logits = torch.tensor(BASE_LOGITS)
    assert result.ok
    torch.testing.assert_close(result.naive_probs, torch.softmax(logits, -1))
    torch.testing.assert_close(result.stable_probs, torch.softmax(logits, -1))
    expected = F.cross_entropy(logits[None], torch.tensor([TARGET])).item()
    assert result.naive_loss == pytest.approx(expected, rel=1e-6)
    assert result.stable_loss == pytest.approx(expected, rel=1e-6)
    assert "agree" in result.message


def test_naive_softmax_returns_nan_past_float32_overflow_and_stable_stays_finite():
    largest = max(BASE_LOGITS)
    threshold = exp_overflow_threshold("float32")
    just_past = explore(push=threshold - largest + 1e-4)
    assert just_past.ok and just_past.logits.max().item() >= threshold
    assert torch.isnan(just_past.naive_probs).any()
    assert torch.isfinite(just_past.stable_probs).all()
    assert math.isfinite(just_past.stable_loss)
    assert "overflows float32" in just_past.message and just_past.diagnosis == "overflow-other"
    just_below = explore(push=threshold - largest - 1e-3)
    assert torch.isfinite(just_below.naive_probs).all()
    assert just_below.diagnosis != "overflow-other"


@pytest.mark.parametrize("push", [1e4, -1e4])
def test_pushing_one_logit_by_1e4_breaks_naive_but_not_stable(push):
    result = explore(push=push, push_class=TARGET)
    logits = result.logits.double()
    expected = -torch.log_softmax(logits, -1)[TARGET].item()
    assert result.ok
    assert not math.isfinite(result.naive_loss)
    assert result.stable_loss == pytest.approx(expected, rel=1e-6)


def test_target_probability_underflow_makes_naive_loss_inf():
    result = explore(push=-200, push_class=TARGET)
    assert result.naive_loss == math.inf
    reference = -torch.log_softmax(result.logits.double(), -1)[TARGET].item()
    assert result.stable_loss == pytest.approx(reference, rel=1e-6)
    assert "underflows to 0" in result.message and result.diagnosis == "target-exp-underflow"


def test_float16_overflows_at_a_far_smaller_logit_than_float32():
    float16 = explore(scale=10.0, dtype="float16")  # largest logit 13.877: past 11.09375, far below 88.72
    assert torch.isnan(float16.naive_probs).any()
    assert torch.isfinite(float16.stable_probs).all()
    assert "overflows float16" in float16.message
    assert "agree" in explore(scale=10.0, dtype="float32").message


def test_every_exp_underflowing_gives_zero_over_zero_in_float16():
    result = explore(scale=20, push=-100, push_class=0, dtype="float16")  # logits -72.25, -25.3, -18.2
    assert result.ok
    assert torch.isnan(result.naive_probs).all()
    assert torch.isfinite(result.stable_probs).all()
    assert "every exp underflows to 0 in float16" in result.message and result.diagnosis == "all-underflow"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"scale": float("nan")}, "Scale is NaN"),
        ({"scale": "nan"}, "Scale is NaN"),
        ({"push": float("inf")}, "Push is infinite"),
        ({"push": "-inf"}, "Push is infinite"),
        ({"scale": "abc"}, "must be a number such as 70"),
        ({"scale": ""}, "must be a number such as 70"),
        ({"scale": "1e999"}, "beyond any floating-point range"),
        ({"scale": 1e39}, "past the largest float32"),
        ({"push": 1e5, "dtype": "float16"}, "past the largest float16"),
        ({"push_class": 3}, "must be 0, 1 or 2"),
        ({"target": -1}, "The target class must be 0, 1 or 2"),
        ({"dtype": "float8"}, "format must be one of"),
    ],
)
def test_bad_input_gives_a_message_not_an_exception(kwargs, words):
    result = explore(**kwargs)
    assert result.ok is False
    assert words in result.message
    assert result.message in str(result)


def test_widget_recomputes_with_torch_when_a_control_changes():
    widget = OverflowExplorer()
    assert widget.kernel["ok"] and "agree" in widget.kernel["message"]
    widget.scale = "70"
    assert widget.kernel["inputs"]["scale"] == "70"
    assert widget.kernel["values"]["naive_loss"] == "inf"
    assert widget.kernel["values"]["stable_loss"] == pytest.approx(explore(scale=70).stable_loss)
    widget.scale = "NaN"
    assert widget.kernel["ok"] is False and "Scale is NaN" in widget.kernel["message"]
    assert repr(widget) == "OverflowExplorer(scale='NaN', push='0', push_class=0, target=2, dtype='float32')"


# The cases, as a reader met them (running example's first row, target class 2 unless said).
@pytest.mark.parametrize(
    ("kwargs", "diagnosis"),
    [
        ({"scale": 70, "target": 0}, "overflow-target"),  # the target's exp overflows: inf / inf = nan
        ({"scale": 70}, "overflow-other"),  # another class's exp overflows: finite / inf = 0, loss inf
        ({"scale": 50}, "target-underflow"),  # no overflow, yet the naive loss is inf
        ({"push": -200, "push_class": 2}, "target-exp-underflow"),  # the target's own exp is 0
        ({"scale": 63.5, "push": 146, "push_class": 2}, "sum-overflow"),  # no single exp overflows, the sum does
        ({"scale": 45}, "subnormal-disagree"),  # the naive loss 103.3 against the stable 103.5
        ({"push": -95, "push_class": 2}, "subnormal-exp-disagree"),  # the target's own exp is subnormal
        ({"scale": 1}, "agree"),
    ],
)
def test_explorer_names_the_first_failure_and_the_loss_torch_gives_has_that_outcome(kwargs, diagnosis):
    result = explore(**kwargs)
    assert result.diagnosis == diagnosis, result.message
    assert outcome(result.naive_loss, result.stable_loss, result.dtype) == OUTCOMES[diagnosis]
    logits = result.logits.double()
    reference = -torch.log_softmax(logits, -1)[result.target].item()
    assert result.stable_loss == pytest.approx(reference, rel=1e-6)  # the stable loss stays right throughout


def test_explorer_shows_stable_log_probabilities_which_stay_finite_where_probabilities_round_to_0():
    result = explore(scale=70)
    assert (result.stable_probs[1:] == 0).all()
    assert torch.isfinite(result.stable_log_probs).all()
    assert "log-probs" in str(result)


def test_bundle_inlines_each_shared_module_once_and_no_relative_import_is_left():
    source = bundle(__import__("pathlib").Path(__file__).parents[1] / "xentbook" / "explorables" / "overflow.js")
    assert source.count("// ---- formats.js") == 1 and source.count("// ---- ui.js") == 1
    assert 'from "./' not in source
    assert OverflowExplorer._esm == source


def overflow_sweep():
    """Every format at scales around its thresholds, one class pushed up or down, each target."""
    scales_of = {"float16": [1, 3, 6.3, 7, 8, 20], "bfloat16": [1, 40, 64, 65], "float32": [1, 40.9, 45, 50, 63.5, 70],
                 "float64": [1, 300, 500, 520]}
    for dtype, scales in scales_of.items():
        for scale in scales:
            for push_class, push in [(0, 0), (2, -95), (2, -60), (1, -12), (2, -700), (2, 146), (0, -100)]:
                for target in range(len(BASE_LOGITS)):
                    result = explore(scale=scale, push=push, push_class=push_class, dtype=dtype, target=target)
                    if result.ok:
                        yield result


def test_the_step_the_explorer_highlights_is_the_step_its_message_names():
    """The row of steps lights FAILED_STEP[diagnosis]: 'First failure, <step>:' names the same step; a subnormal
    p blames the division that rounded it, a subnormal exp of the target blames exp; every diagnosis is reached."""
    import re

    assert set(FAILED_STEP) == set(OUTCOMES) - {"agree"} and set(FAILED_STEP.values()) <= set(STEPS)
    seen = set()
    for result in overflow_sweep():
        d, message, t = result.diagnosis, result.message, result.target
        seen.add(d)
        if d == "agree":
            continue
        named = re.match(r"First failure, ([^:]+):", message)
        if named:
            assert named.group(1) == STEPS[FAILED_STEP[d]], message
        exp_t = torch.exp(result.logits)[t]
        tiny = torch.finfo(result.logits.dtype).tiny
        if d in ("target-exp-underflow", "target-underflow"):
            assert result.naive_probs[t] == 0 and (exp_t == 0) == (FAILED_STEP[d] == "exp"), message
        if d in ("subnormal-exp-disagree", "subnormal-disagree"):
            assert (exp_t < tiny) == (FAILED_STEP[d] == "exp"), message
            assert ("the division rounds" in message) == (FAILED_STEP[d] == "divide"), message
    assert seen == set(OUTCOMES)
