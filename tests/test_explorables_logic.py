"""The chapter explorables' logic with torch (xentbook.explorables), as the chapters and the widgets call it."""

import math

import pytest
import torch
import torch.nn.functional as F

from xentbook.example import LOGITS, TARGET
from xentbook.explorables import BCEExplorer, NaiveLossExplorer, SoftmaxExplorer
from xentbook.explorables import bce, naive, softmax


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


@pytest.mark.parametrize("widget", [BCEExplorer, SoftmaxExplorer, NaiveLossExplorer])
def test_widget_answers_every_change_with_torch_and_refuses_nan(widget):
    w = widget()
    assert w.kernel["ok"]
    name = next(n for n in w.INPUTS if isinstance(getattr(w, n), str))
    setattr(w, name, "NaN")
    assert w.kernel["inputs"][name] == "NaN" and not w.kernel["ok"] and "NaN" in w.kernel["message"]
