"""Chapter 12's library code (xentbook/real_data.py) and its explorable's torch side, on the real digits."""

import functools
import math

import pytest
import torch
import torch.nn.functional as F

from xentbook import real_data
from xentbook.explorables.calibration import CalibrationExplorable, compute, saved_logits


@functools.cache
def digits():
    return real_data.load_digits_tensors()


def test_digits_ship_in_the_package_with_ten_classes_and_pixels_in_0_1():
    features, target = digits()
    assert features.shape == (1797, 64) and features.dtype == torch.float32
    assert features.min() == 0 and features.max() == 1
    assert torch.equal(torch.unique(target), torch.arange(10))


def test_split_is_seeded_disjoint_and_covers_every_row():
    features, target = digits()
    first, second = real_data.split(features, target), real_data.split(features, target)
    other = real_data.split(features, target, seed=1)
    assert [len(y) for _, y in first.values()] == [real_data.TRAIN, 1797 - real_data.TRAIN - real_data.VALIDATION,
                                                   real_data.VALIDATION]
    assert all(torch.equal(first[k][1], second[k][1]) for k in first)
    assert not torch.equal(first["validation"][1], other["validation"][1])
    # Disjoint and complete: the sorted targets and the multiset of rows are the data set's.
    rows = torch.cat([x for x, _ in first.values()])
    assert torch.equal(rows.sum(dim=0), features.sum(dim=0)) and len(rows) == len(features)
    assert torch.equal(torch.cat([y for _, y in first.values()]).sort().values, target.sort().values)


def test_scratch_loss_trains_along_the_path_of_f_cross_entropy():
    sets = real_data.split(*digits())
    _, ours = real_data.train(sets, epochs=3, loss_fn=real_data.scratch_loss)
    _, torchs = real_data.train(sets, epochs=3)
    for key in ours:
        torch.testing.assert_close(torch.tensor(ours[key]), torch.tensor(torchs[key]))
    assert torchs["train_loss"][-1] < torchs["train_loss"][0] < 1.1 * math.log(10)


def test_training_is_deterministic_whatever_the_thread_count():
    sets = real_data.split(*digits())
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        _, two = real_data.train(sets, hidden=16, epochs=2)
        torch.set_num_threads(1)
        _, one = real_data.train(sets, hidden=16, epochs=2)
    finally:
        torch.set_num_threads(threads)
    assert two == one
    assert torch.get_num_threads() == threads


def test_loss_at_initialisation_is_close_to_log_c():
    (x_train, y_train), _, _ = real_data.split(*digits()).values()
    for hidden in (0, 128):
        with torch.no_grad():
            loss = F.cross_entropy(real_data.make_model(hidden)(x_train), y_train).item()
        assert abs(loss - math.log(10)) < 0.1, (hidden, loss)


def ece_by_loop(probs, target, bins):
    rows = [[] for _ in range(bins)]
    for p, y in zip(probs.tolist(), target.tolist()):
        confidence = max(p)
        rows[min(int(confidence * bins), bins - 1)].append((confidence, p.index(confidence) == y))
    return sum(len(r) / len(target) * abs(sum(c for _, c in r) / len(r) - sum(s for s, _ in r) / len(r))
               for r in rows if r)


@pytest.mark.parametrize("bins", [1, 5, 10, 15])
def test_reliability_bins_and_ece_follow_their_definition(bins):
    torch.manual_seed(0)
    probs = torch.softmax(3 * torch.randn(500, 10, dtype=torch.float64), dim=1)
    target = torch.randint(0, 10, (500,))
    probs[0] = 0.0
    probs[0, 3] = 1.0  # confidence exactly 1: the last bin
    count, accuracy, confidence, ece = real_data.reliability(probs, target, bins)
    assert count.sum() == 500 and count[-1] >= 1
    assert ((confidence[count > 0] >= 0) & (confidence[count > 0] <= 1)).all()
    torch.testing.assert_close(ece.item(), ece_by_loop(probs, target, bins))


def test_fitted_temperature_is_the_minimum_of_the_nll():
    torch.manual_seed(0)
    target = torch.randint(0, 10, (300,))
    logits = 4 * torch.randn(300, 10)
    logits[range(300), target] += 3  # a confident model, often right
    fitted = real_data.fit_temperature(logits, target)
    nll = lambda t: F.cross_entropy(logits.double() / t, target).item()
    assert nll(fitted) <= min(nll(fitted * 0.97), nll(fitted * 1.03), nll(1.0))


def test_explorable_saves_the_chapters_validation_logits_as_float32():
    logits, target = real_data.calibration_logits()
    assert logits.shape == (real_data.VALIDATION, 10) and logits.dtype == torch.float32
    assert torch.equal(torch.tensor(saved_logits(), dtype=torch.float32), logits)  # 9 digits give float32 back
    widget = CalibrationExplorable()
    assert widget.target == target.tolist() and widget.kernel["ok"]


def test_explorable_accuracy_ignores_the_temperature_and_ece_follows_reliability():
    logits, target = real_data.calibration_logits()
    answers = [compute(dict(temperature=t, bins=10)) for t in ("0.1", "1", "3")]
    assert len({a.values["accuracy"].item() for a in answers}) == 1
    probs = torch.softmax(logits.double() / 3, dim=1)
    torch.testing.assert_close(answers[2].values["ece"], real_data.reliability(probs, target)[3].float())
    torch.testing.assert_close(answers[2].values["nll"], F.cross_entropy(logits.double() / 3, target).float())


@pytest.mark.parametrize(("temperature", "bins", "words"), [
    ("0", 10, "between 0.01 and 100"), ("abc", 10, "must be a number"), ("NaN", 10, "NaN"), ("1", 7, "5, 10, 15 or 20"),
])
def test_explorable_refuses_bad_input_with_a_message(temperature, bins, words):
    result = compute(dict(temperature=temperature, bins=bins))
    assert not result.ok and words in result.message
