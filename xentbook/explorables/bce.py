"""Chapter 1's explorable: move w and b, watch six students on the sigmoid, their losses and the mean.

The naive loss is chapter 1's ``bce(sigmoid(z), y)``; the stable one stays with the logits,
``-(y logsigmoid(z) + (1 - y) logsigmoid(-z))`` (what ``F.binary_cross_entropy_with_logits`` computes). Push a
student into a confident mistake and the naive mean becomes inf (or nan: 0 x log 0), while the stable one stays
finite. Computed in float32, with torch here and with float32 rounding in the browser (``bce.js``).
"""

import math

import torch
import torch.nn.functional as F
import traitlets

from xentbook.explorables.base import Explorable, Result, capital, fmt, parse_number
from xentbook.floats import ulp

# Chapter 1's six students: hours studied and hours slept, whether they passed, and the given model.
STUDENTS = ((1.0, 6.0), (2.0, 8.0), (4.0, 5.0), (5.0, 7.0), (7.0, 4.0), (8.0, 8.0))
PASSED = (0.0, 0.0, 1.0, 0.0, 1.0, 1.0)
W = (0.9, 0.3)
B = -5.0
AGREE_ULPS = 4
INPUTS = {"w0": "weight of hours studied", "w1": "weight of hours slept", "b": "bias"}


def logits_of(w0, w1, b):
    """z = w . x + b for the six students, in float32, as two products and two sums (the browser's order)."""
    x = torch.tensor(STUDENTS)
    return x[:, 0] * torch.tensor(w0) + x[:, 1] * torch.tensor(w1) + torch.tensor(b)


def students(ks):
    """'student 3' or 'students 0, 1 and 3'."""
    if len(ks) == 1:
        return f"student {ks[0]}"
    return f"students {', '.join(str(k) for k in ks[:-1])} and {ks[-1]}"


def small_cost(z, cost):
    """A right call's cost log(1 + e^-|z|), printed; below float32's smallest normal number as about e^-|z| (there
    torch and the browser may round exp's last bit differently, or flush it to 0)."""
    if cost < torch.finfo(torch.float32).tiny:
        return f"about e^{fmt(-abs(z))}, below float32's smallest normal number"
    return fmt(cost)


def explain(logits, probs, target, naive, stable, naive_mean, stable_mean):
    """The sentence under the figure: which student breaks the naive loss and how, or how far the two agree."""
    verdict = lambda k: "passed" if target[k] == 1 else "failed"  # noqa: E731
    nan = [k for k in range(len(naive)) if math.isnan(naive[k])]
    inf = [k for k in range(len(naive)) if math.isinf(naive[k])]
    means = f"mean loss: naive {fmt(naive_mean)}, with logits {fmt(stable_mean)}"
    parts = []
    confident = lambda ks: max(ks, key=lambda j: abs(logits[j]))  # noqa: E731  the first to break as |z| grows
    if inf:
        k = confident(inf)
        side = "1" if probs[k] == 1 else "0"
        log = "log(1 - p) = log 0" if side == "1" else "log p = log 0"
        parts.append(
            f"Student {k} {verdict(k)}, yet z = {fmt(logits[k])} is a confident mistake: the computed sigmoid(z) "
            f"is exactly {side} in float32, so {log} = -inf and the naive loss is inf. With logits no probability is "
            f"rounded to {side}: that student costs {fmt(stable[k])}."
        )
    if nan:
        k = confident(nan)
        side = "0" if probs[k] == 0 else "1"
        parts.append(
            f"Student {k} {verdict(k)} and z = {fmt(logits[k])} is a confident right call, but the computed sigmoid(z) "
            f"is {side} in float32 and the naive formula still computes the term its label switches off: "
            f"0 x log 0 = 0 x -inf = nan. With logits that student costs {small_cost(logits[k], stable[k])}."
        )
    if len(inf) > 1 or len(nan) > 1:
        broken = [f"{word} for {students(ks)}" for word, ks in (("inf", inf), ("nan", nan)) if ks]
        parts.append(f"The naive loss is {', '.join(broken)}.")
    if parts:
        return " ".join(parts) + f" {means[0].upper() + means[1:]}."
    apart = abs(naive_mean - stable_mean) / ulp(torch.tensor(stable_mean)).item()
    if apart > AGREE_ULPS:
        k = max(range(len(naive)), key=lambda j: abs(naive[j] - stable[j]))
        return (  # 9 digits tell any two float32 numbers apart: the printed means differ as the words say
            f"Every probability is strictly between 0 and 1, but the two means differ by {fmt(apart, 3)} ulps of "
            f"float32, more than {AGREE_ULPS} (mean loss: naive {fmt(naive_mean, 9)}, with logits "
            f"{fmt(stable_mean, 9)}): student {k}'s p = {fmt(probs[k])} was rounded to float32 before its log."
        )
    worst = max(range(len(stable)), key=lambda j: stable[j])
    return (
        f"Every probability is strictly between 0 and 1 in float32: naive and with-logits agree to within "
        f"{AGREE_ULPS} ulps, {means}. The costliest student is {worst} ({verdict(worst)}, "
        f"p = {fmt(probs[worst])}, loss {fmt(stable[worst])})."
    )


def explore(w0=W[0], w1=W[1], b=B):
    """The six students' logits, probabilities and losses (naive and with logits) for one model, in float32."""
    values = {}
    for name, value in (("w0", w0), ("w1", w1), ("b", b)):
        number, problem = parse_number(value, INPUTS[name], example="0.9")
        if problem:
            return Result(False, problem)
        if abs(number) > torch.finfo(torch.float32).max:
            return Result(False, f"{capital(INPUTS[name])} {fmt(number)} is past the largest float32: type a smaller number.")
        values[name] = number
    logits = logits_of(values["w0"], values["w1"], values["b"])
    target = torch.tensor(PASSED)
    probs = 1 / (1 + torch.exp(-logits))  # chapter 1's sigmoid
    naive = -(target * torch.log(probs) + (1 - target) * torch.log(1 - probs))  # chapter 1's bce, per student
    stable = -(target * F.logsigmoid(logits) + (1 - target) * F.logsigmoid(-logits))
    naive_mean, stable_mean = naive.mean(), stable.mean()
    message = explain(logits.tolist(), probs.tolist(), PASSED, naive.tolist(), stable.tolist(),
                      naive_mean.item(), stable_mean.item())
    return Result(True, message, "float32", {
        "logits": logits, "probs": probs, "naive": naive, "stable": stable,
        "naive_mean": naive_mean, "stable_mean": stable_mean,
    })


class BCEExplorer(Explorable):
    """Sliders for w and b; the six students on the sigmoid, each one's loss and the mean, naive and with logits."""

    front_end = "bce.js"
    style = "bce.css"
    INPUTS = tuple(INPUTS)

    w0 = traitlets.Unicode(str(W[0])).tag(sync=True)
    w1 = traitlets.Unicode(str(W[1])).tag(sync=True)
    b = traitlets.Unicode(str(B)).tag(sync=True)
    students = traitlets.List([list(s) for s in STUDENTS]).tag(sync=True)
    passed = traitlets.List(list(PASSED)).tag(sync=True)

    def __init__(self, w0=W[0], w1=W[1], b=B, **kwargs):
        super().__init__(w0=str(w0), w1=str(w1), b=str(b), **kwargs)

    @classmethod
    def compute(cls, inputs):
        return explore(inputs["w0"], inputs["w1"], inputs["b"])
