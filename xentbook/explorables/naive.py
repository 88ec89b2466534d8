"""Chapter 3's explorable: -log p as a curve, each row's target probability on it, and the batch mean.

The running example's five rows, scaled by a factor, one row's target logit pushed; chapter 3's naive loss
(softmax, pick each row's target probability, -log, mean), and beside it chapter 4's stable one. One row whose
probability becomes nan or 0 is enough to make the mean nan or inf. In float32, with torch here and with float32
rounding in the browser (``naive.js``).
"""

import math

import torch
import traitlets

from xentbook.example import LOGITS, TARGET
from xentbook.explorables.base import Explorable, Result, fmt, parse_number
from xentbook.explorables.overflow import exp_overflow_threshold
from xentbook.scratch import log_softmax, softmax

NAMES = {"scale": "scale", "push": "push"}


def explain(logits, picked, losses, mean, stable_losses, stable_mean, target):
    """Say which row broke the mean, how, or what the mean is."""
    rows = range(len(picked))
    nan = [i for i in rows if math.isnan(picked[i])]
    inf = [i for i in rows if math.isinf(losses[i])]
    threshold = fmt(exp_overflow_threshold("float32"), 16)
    if nan:
        i = nan[0]
        largest = max(logits[i])
        if largest >= exp_overflow_threshold("float32"):
            how = (f"exp({fmt(largest)}) overflows float32 (inf from {threshold} on), "
                   f"so its probabilities are inf / inf = nan or finite / inf = 0")
        else:
            how = f"every exp underflows to 0 (largest logit {fmt(largest)}), so its probabilities are 0 / 0 = nan"
        return (
            f"Row {i}: {how}; its target's is nan, -log nan = nan, and the batch mean is nan: one row is enough. "
            f"Computed stably (chapter 4) row {i} costs {fmt(stable_losses[i])} and the mean is {fmt(stable_mean)}."
        )
    if inf:
        i = max(inf, key=lambda j: stable_losses[j])
        k, z = target[i], logits[i][target[i]]
        exps = torch.exp(torch.tensor(logits[i]))  # float32, as chapter 2's softmax computes them
        total = exps.sum().item()
        if torch.isinf(exps).any():  # not the target's own: its p would be inf / inf = nan
            largest = max(logits[i])
            how = (f"exp({fmt(largest)}) overflows float32 (inf from {threshold} on): the row sum is inf and its "
                   f"target's probability (class {k}) is exp({fmt(z)}) / inf = 0")
        elif math.isinf(total):
            how = (f"no exp overflows (largest logit {fmt(max(logits[i]))}), but the row sum passes float32's largest "
                   f"number {fmt(torch.finfo(torch.float32).max)}: it is inf and its target's probability (class {k}) "
                   f"is exp({fmt(z)}) / inf = 0")
        elif exps[k] == 0:
            how = (f"its target's exp, exp({fmt(z)}) (class {k}), underflows to 0 in float32: its probability is "
                   f"0 / {fmt(total)} = 0")
        else:
            how = (f"its target's exp, exp({fmt(z)}) (class {k}), is not 0, but divided by the row sum {fmt(total)} "
                   f"it underflows to 0 in float32")
        return (
            f"Row {i}: {how}, so -log p = inf, and the batch mean is inf: one row is enough. Its true -log p is "
            f"{fmt(stable_losses[i])} (chapter 4's stable loss), and the stable mean is {fmt(stable_mean)}."
        )
    worst = max(rows, key=lambda j: losses[j])
    return (
        f"The five rows' -log p average to {fmt(mean)} (chapter 4's stable loss: {fmt(stable_mean)}). The costliest "
        f"row is {worst}: its target's probability is {fmt(picked[worst])}, -log p = {fmt(losses[worst])}."
    )


def explore(scale=1.0, row=0, push=0.0):
    """The running example scaled, one row's target logit pushed: the naive loss and the stable one, in float32."""
    values = {}
    for name, value in (("scale", scale), ("push", push)):
        number, problem = parse_number(value, NAMES[name], example="40")
        if problem:
            return Result(False, problem[0].upper() + problem[1:])
        values[name] = number
    if row not in range(len(LOGITS)) or isinstance(row, bool):
        return Result(False, f"The row must be 0 to {len(LOGITS) - 1}, not {row!r}.")
    largest = torch.finfo(torch.float32).max
    extreme = max(abs(v) for r in LOGITS for v in r) * abs(values["scale"]) + abs(values["push"])
    if not extreme <= largest:
        return Result(False, f"A logit would pass the largest float32 ({fmt(largest)}): choose a smaller scale or push.")
    target = torch.tensor(TARGET)
    logits = torch.tensor(LOGITS) * torch.tensor(values["scale"])
    logits[row, TARGET[row]] += torch.tensor(values["push"])
    probs = softmax(logits)  # chapter 2's
    rows = torch.arange(len(TARGET))
    picked = probs[rows, target]
    losses = 0 - torch.log(picked)  # 0 - x, not -x: a loss of 0 prints as 0, not -0
    mean = losses.mean()  # chapter 3's nl
    stable_losses = 0 - log_softmax(logits)[rows, target]  # chapter 4's
    stable_mean = stable_losses.mean()
    message = explain(logits.tolist(), picked.tolist(), losses.tolist(), mean.item(), stable_losses.tolist(),
                      stable_mean.item(), TARGET)
    return Result(True, message, "float32", {
        "picked": picked, "losses": losses, "mean": mean, "stable_losses": stable_losses, "stable_mean": stable_mean,
    })


class NaiveLossExplorer(Explorable):
    """The -log p curve with the five rows' target probabilities on it and their mean; scale and push to break it."""

    front_end = "naive.js"
    style = "naive.css"
    INPUTS = ("scale", "row", "push")

    scale = traitlets.Unicode("1").tag(sync=True)
    row = traitlets.Int(0).tag(sync=True)
    push = traitlets.Unicode("0").tag(sync=True)
    logits = traitlets.List([list(r) for r in LOGITS]).tag(sync=True)
    target = traitlets.List(list(TARGET)).tag(sync=True)

    def __init__(self, scale=1, row=0, push=0, **kwargs):
        super().__init__(scale=str(scale), row=row, push=str(push), **kwargs)

    @classmethod
    def compute(cls, inputs):
        return explore(inputs["scale"], inputs["row"], inputs["push"])
