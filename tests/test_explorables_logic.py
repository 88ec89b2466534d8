"""The chapter explorables' logic with torch (xentbook.explorables), as the chapters and the widgets call it."""

import math

import pytest
import torch
import torch.nn.functional as F

from xentbook.example import LOGITS, TARGET
from xentbook.explorables import BCEExplorer, NaiveLossExplorer, SoftmaxExplorer
from xentbook.explorables import bce, chunks, naive, softmax
from xentbook.explorables.chunks import ChunksExplorable


def test_bce_at_chapter_1s_model_matches_torch_and_both_forms_agree():
    result = bce.explore()
    x, target = torch.tensor(bce.STUDENTS), torch.tensor(bce.PASSED)
    logits = x @ torch.tensor(bce.W) + bce.B
    torch.testing.assert_close(result.values["logits"], logits)
    expected = F.binary_cross_entropy_with_logits(logits, target)
    torch.testing.assert_close(result.values["stable_mean"], expected)
    torch.testing.assert_close(result.values["naive_mean"], expected)
    assert "agree" in result.message


def test_bce_confident_mistake_makes_the_naive_loss_inf_and_with_logits_finite():
    result = bce.explore(b=15)  # student 3 (failed) at z = 21.6: sigmoid rounds to 1
    naive, stable = result.values["naive"], result.values["stable"]
    assert math.isinf(naive[3]) and math.isfinite(stable[3])
    assert torch.isfinite(result.values["stable_mean"])
    assert "confident mistake" in result.message and "Student 3 failed" in result.message


@pytest.mark.parametrize(("kwargs", "words"), [({"w0": "nan"}, "is NaN"), ({"b": "x"}, "must be a number"),
                                              ({"w1": "1e400"}, "beyond any floating-point range"),
                                              ({"b": 1e39}, "past the largest float32")])
def test_bce_bad_input_gets_a_message(kwargs, words):
    result = bce.explore(**kwargs)
    assert not result.ok and words in result.message


def test_softmax_shift_moves_nothing_until_exp_overflows():
    still = softmax.explore(shift=50)
    assert (still.values["shifted_probs"] - still.values["probs"]).abs().max() <= softmax.MOVED
    assert "moved no probability" in still.message
    broken = softmax.explore(shift=90)
    assert torch.isnan(broken.values["shifted_probs"]).any() and "exp overflows float32" in broken.message


def test_softmax_temperature_sharpens_and_flattens():
    sharp, flat = softmax.explore(temperature=0.2), softmax.explore(temperature=5)
    assert sharp.values["probs"].max() > softmax.explore().values["probs"].max() > flat.values["probs"].max()
    torch.testing.assert_close(flat.values["probs"], torch.softmax(torch.tensor(LOGITS[0]) / 5, -1))
    assert not softmax.explore(temperature=0).ok and "must be positive" in softmax.explore(temperature=-1).message


def test_naive_loss_explorer_mean_is_f_cross_entropy_and_one_underflowing_row_makes_it_inf():
    result = naive.explore()
    expected = F.cross_entropy(torch.tensor(LOGITS), torch.tensor(TARGET))
    torch.testing.assert_close(result.values["mean"], expected)
    torch.testing.assert_close(result.values["stable_mean"], expected)
    pushed = naive.explore(push=-110)
    assert math.isinf(pushed.values["mean"]) and math.isfinite(pushed.values["stable_mean"])
    assert "one row is enough" in pushed.message
    overflow = naive.explore(scale=70)
    assert math.isnan(overflow.values["mean"]) and "overflows float32" in overflow.message


def chunk_inputs(chunk, tokens="4096", width="1024", vocabulary="32000"):
    return dict(tokens=tokens, width=width, vocabulary=vocabulary, chunk=chunk)


def test_chunks_at_make_bench_s_size_the_budget_is_under_a_tenth_and_liger_s_rule_is_not():
    budget, liger = chunks.compute(chunk_inputs("64")), chunks.compute(chunk_inputs("128"))
    assert budget.values["budget"] == 64 and budget.values["liger"] == 128
    assert budget.values["fraction"] <= 0.1 < liger.values["fraction"]
    assert "at most a tenth" in budget.message and "more than a tenth" in liger.message
    parts = sum(budget.values[k] for k in ("grad_W", "grad_h", "logits"))
    assert parts == budget.values["fused"] == 4 * (32000 * 1024 + 4096 * 1024 + 64 * 32000)
    assert budget.values["plain"] == 3 * 4096 * 32000 * 4


def test_chunks_halving_the_chunk_doubles_the_weight_traffic_and_a_chunk_past_m_is_one_chunk():
    traffic = {c: chunks.compute(chunk_inputs(str(c))).values["fused_traffic"] for c in (4096, 2048, 64, 32)}
    assert traffic[2048] == 2 * traffic[4096] and traffic[32] == 2 * traffic[64]
    whole, past = chunks.compute(chunk_inputs("4096")), chunks.compute(chunk_inputs("10000"))
    assert past.values == whole.values and "(10000 asked, more than m = 4096)" in past.message
    assert whole.values["fused_traffic"] / whole.values["plain_traffic"] == 4 / 3  # 2 reads + 2 against 3


@pytest.mark.parametrize(("inputs", "words"), [
    (chunk_inputs("NaN"), "is NaN"), (chunk_inputs("64", tokens="abc"), "must be a number"),
    (chunk_inputs("64", width="1e400"), "beyond any floating-point range"),
    (chunk_inputs("0"), "whole number from 1"), (chunk_inputs("64", vocabulary="1.5"), "whole number from 1"),
    (chunk_inputs("64", tokens="1e9"), "whole number from 1"),
    (chunk_inputs("1", tokens="16777216", width="65536", vocabulary="4194304"), "past what this page counts"),
])
def test_chunks_bad_input_gets_a_message(inputs, words):
    result = chunks.compute(inputs)
    assert not result.ok and words in result.message and result.values == {}


@pytest.mark.parametrize("widget", [BCEExplorer, SoftmaxExplorer, NaiveLossExplorer, ChunksExplorable])
def test_widget_answers_every_change_with_torch_and_refuses_nan(widget):
    w = widget()
    assert w.kernel["ok"]
    name = next(n for n in w.INPUTS if isinstance(getattr(w, n), str))
    setattr(w, name, "NaN")
    assert w.kernel["inputs"][name] == "NaN" and not w.kernel["ok"] and "NaN" in w.kernel["message"]


def test_every_message_starts_with_a_capital_or_a_number():
    """The words under every explorable, on every input of the browser tests' grids (bad input too)."""
    from explorables import EXPLORABLES  # tests/explorables.py: the grids

    lower = {}
    for explorable in EXPLORABLES:
        for inputs in explorable.grid()[::3]:
            message = explorable.widget.compute(inputs).message
            if message[:1] in "abcdefghijklmnopqrstuvwxyz":  # a symbol such as ε may open a sentence
                lower.setdefault(explorable.name, message)
    assert lower == {}


def test_chapter_1_says_the_means_differ_only_where_the_printed_means_differ():
    import re

    said = 0
    for w0 in [f"{k / 10:g}" for k in range(-30, 31)]:
        message = bce.explore(w0=w0).message
        if "differ by" in message:
            said += 1
            naive_mean, stable_mean = re.search(r"naive ([-\d.e+]+), with logits ([-\d.e+]+)", message).groups()
            assert naive_mean != stable_mean, message
            apart = float(re.search(r"differ by ([\d.e+]+) ulps", message).group(1))
            assert apart > bce.AGREE_ULPS
    assert said, "no weight in the sweep reaches the case where the means differ"
    assert "differ by" in bce.explore(w0="1.9").message


def test_chapter_4s_subnormal_diagnosis_is_named_for_all_it_requires():
    """'subnormal-disagree' exactly where the target's p is subnormal AND the losses are more than 4 ulps apart; a
    subnormal p alone (scales 38 to 40.8 in float32) is not enough."""
    from xentbook.explorables.overflow import AGREE_ULPS, explore, ulps_apart

    tiny = torch.finfo(torch.float32).tiny
    subnormal_alone = 0
    for tenth in range(350, 460):
        result = explore(scale=tenth / 10)
        p = result.naive_probs[result.target]
        both = 0 < p < tiny and ulps_apart(result.naive_loss, result.stable_loss, "float32") > AGREE_ULPS
        assert (result.diagnosis == "subnormal-disagree") == both, (tenth / 10, result.diagnosis)
        subnormal_alone += 0 < p < tiny and not both
    assert subnormal_alone > 0


def test_ratios_above_one_say_times_and_that_the_fused_path_needs_more():
    import re

    from xentbook.explorables import memory

    small = chunks.compute(dict(tokens="3", width="1024", vocabulary="32000", chunk="64")).message
    assert " times the plain path's " in small and "MORE than the plain path" in small, small
    one = memory.compute(dict(tokens="1", vocabulary="128256", dtype="float32", chunk="1024", width="4096")).message
    assert " times one buffer" in one and "MORE than F.cross_entropy's 3 buffers" in one, one
    for message in (small, one, chunks.compute(dict(tokens="8192", width="4096", vocabulary="128256", chunk="64")).message):
        for number in re.findall(r"([\d.e+]+) of (?:the plain path's|one buffer)", message):
            assert float(number) <= 1, message


def test_every_explorable_says_how_to_bring_it_to_life_before_its_cell_runs():
    from explorables import EXPLORABLES

    for explorable in EXPLORABLES:
        data, _ = explorable.widget()._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in data
        assert "Run this cell" in data["text/plain"] and len(data["text/plain"]) > 110, data["text/plain"]


def test_margin_log1p_column_is_the_reference_rounded_once_and_within_half_an_ulp_at_every_margin():
    """Chapter 9's explorable: its log_softmax_log1p is the float64 reference rounded once to float32 (so the words
    say < 0.5 ulps), while the max-shifted form's error is 2^23 to 2^24 ulps only until the reference is subnormal."""
    from xentbook.explorables.margin import compute

    for margin in ("0", "5", "20", "60", "90", "104", "200", "1e3"):
        values = compute({"margin": margin}).values
        assert torch.equal(values["log1p"], values["reference"]), margin
    assert "log_softmax_log1p never adds the 1; its error: < 0.5 ulps." in compute({"margin": "20"}).message
    assert "an error of 2^23 to 2^24 ulps" in compute({"margin": "20"}).message
    assert "an error of 2^23 to 2^24 ulps" not in compute({"margin": "100"}).message


def test_bce_names_the_first_student_to_break_each_way_and_lists_every_broken_one():
    """At bias 15: the inf and the nan student with the largest |z| (the first to break as the bias grows), then all
    six; 'with logits' claims only that no probability is rounded to 0 or 1, not that nothing is rounded."""
    result = bce.explore(b=15)
    z, naive_terms = result.values["logits"], result.values["naive"]
    inf = [k for k in range(len(z)) if torch.isinf(naive_terms[k])]
    nan = [k for k in range(len(z)) if torch.isnan(naive_terms[k])]
    assert inf and nan
    confident = lambda ks: max(ks, key=lambda k: abs(z[k]))  # noqa: E731
    message = result.message
    assert f"Student {confident(inf)} failed, yet z = " in message
    assert f"Student {confident(nan)} passed and z = " in message
    assert f"The naive loss is inf for {bce.students(inf)}, nan for {bce.students(nan)}." in message
    assert "nothing is rounded" not in message and "no probability is rounded to 1" in message
    # raise the bias from chapter 1's model in steps of 0.1: the student named for nan is the first one nan
    x, target = torch.tensor(bce.STUDENTS), torch.tensor(bce.PASSED)
    logits = (x @ torch.tensor(bce.W))[None] + (bce.B + 0.1 * torch.arange(400))[:, None]
    probs = torch.sigmoid(logits)
    terms = -(target * torch.log(probs) + (1 - target) * torch.log(1 - probs))
    first = int(terms.isnan().any(1).nonzero()[0])
    assert terms[first].isnan().nonzero().flatten().tolist() == [confident(nan)]


def test_bce_prints_a_right_call_s_cost_below_float32_s_normal_range_as_e_to_the_minus_z():
    """torch rounds (or flushes) such a cost differently from the browser: the words give e^-|z|, never -0."""
    result = bce.explore(w0="-1", w1="0.3", b="-100")
    stable, z = result.values["stable"], result.values["logits"]
    k = max((j for j in range(len(z)) if torch.isnan(result.values["naive"][j])), key=lambda j: abs(z[j]))
    assert stable[k] < torch.finfo(torch.float32).tiny
    assert f"that student costs about e^{bce.fmt(-abs(z[k].item()))}, below" in result.message
    assert "costs -0" not in result.message


@pytest.mark.parametrize("shift", [-100, -104])
def test_softmax_blames_subnormal_exps_not_rounded_logits_for_a_moved_probability(shift):
    result = softmax.explore(shift=shift)
    shifted, probs = result.values["shifted"], result.values["probs"]
    assert (result.values["shifted_probs"] - probs).abs().max() > softmax.MOVED
    # the float32-rounded shifted logits still hold the differences: exact softmax of them is the unshifted one
    torch.testing.assert_close(torch.softmax(shifted.double(), -1).float(), probs)
    exps = torch.exp(shifted)
    assert (exps < torch.finfo(torch.float32).tiny).all()
    state = "subnormal or 0" if (exps == 0).any() else "subnormal"
    assert (exps == 0).any() == (shift == -104)
    assert f"every exp of (logits + c) / T is {state} (" in result.message
    assert "rounding" not in result.message


def test_softmax_names_subnormal_exps_exactly_when_a_shift_moves_a_probability():
    for shift in range(-80, -106, -1):  # the largest shifted logit from -78.6 to -103.6
        result = softmax.explore(shift=shift)
        moved = (result.values["shifted_probs"] - result.values["probs"]).abs().max() > softmax.MOVED
        assert moved == ("subnormal" in result.message), (shift, result.message)


def test_softmax_prints_the_exact_overflow_threshold_and_fails_when_only_the_sum_overflows():
    from xentbook.explorables.overflow import exp_overflow_threshold

    threshold = exp_overflow_threshold("float32")
    message = softmax.explore(shift=90).message
    assert f"exp is inf from {threshold!r} on" in message and "88.72 on" not in message
    summed = softmax.explore(z0="88.5", z1="88.5", z2="-1")
    exps = torch.exp(summed.values["scaled"])
    assert torch.isfinite(exps).all() and torch.isinf(exps.sum()) and (summed.values["probs"] == 0).all()
    assert "fails: no exp overflows for logits / T" in summed.message and "finite / inf = 0" in summed.message


def naive_row(scale, row, push):
    """The logits row the naive explorer names, in float32, as it builds them."""
    logits = torch.tensor(LOGITS) * torch.tensor(float(scale))
    logits[row, TARGET[row]] += torch.tensor(float(push))
    return logits


@pytest.mark.parametrize(("kwargs", "case"), [
    ({"push": -110}, "the target's exp is 0"),
    ({"scale": 64, "row": 3, "push": -10}, "another exp overflows"),  # the reader's case: row 0 breaks, not row 3
    ({"scale": 63.5, "row": 0, "push": 146.36}, "the row sum overflows"),
    ({"scale": 50}, "the quotient underflows"),
])
def test_naive_names_the_way_the_target_s_probability_became_0(kwargs, case):
    import re

    from xentbook.explorables.overflow import exp_overflow_threshold

    result = naive.explore(**kwargs)
    assert math.isinf(result.values["mean"])
    i = int(re.match(r"Row (\d):", result.message).group(1))
    k = TARGET[i]
    assert result.values["picked"][i] == 0
    exps = torch.exp(naive_row(kwargs.get("scale", 1), kwargs.get("row", 0), kwargs.get("push", 0))[i])
    facts = {
        "the target's exp is 0": exps[k] == 0,
        "another exp overflows": torch.isinf(exps).any() and torch.isfinite(exps[k]),
        "the row sum overflows": torch.isfinite(exps).all() and torch.isinf(exps.sum()),
        "the quotient underflows": exps[k] > 0 and torch.isfinite(exps.sum()),
    }
    assert [name for name, holds in facts.items() if holds] == [case]
    words = {
        "the target's exp is 0": "underflows to 0 in float32: its probability is 0 / ",
        "another exp overflows": f"overflows float32 (inf from {exp_overflow_threshold('float32')!r} on): the row sum is inf",
        "the row sum overflows": "no exp overflows (largest logit",
        "the quotient underflows": "is not 0, but divided by the row sum",
    }
    assert [name for name, said in words.items() if said in result.message] == [case], result.message
