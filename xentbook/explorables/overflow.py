"""The overflow explorer: push logits until the naive softmax fails and watch the stable one stay finite.

``explore`` is the plain logic, computed with torch; ``OverflowExplorer`` is the widget. Its front end
(``overflow.js``) recomputes the same numbers in the browser with the chosen format's rounding, so it stays live
on the static site where no kernel runs; with a kernel, every change is recomputed here with torch too and shown
beside the browser's numbers. Both name the *first* step of the naive computation that fails (exp, row sum,
division, log) and say whether naive and stable agree, in the same words.
"""

import math
from dataclasses import dataclass

import torch

from xentbook.example import LOGITS, TARGET as TARGETS
from xentbook.explorables.base import Explorable, Result, fmt, json_number, parse_number
from xentbook.floats import BITS, DTYPES, as_dtype, from_bits, ulp
from xentbook.scratch import log_softmax, softmax

import traitlets

BASE_LOGITS = LOGITS[0]  # the running example's first row
TARGET = TARGETS[0]  # its target class
AGREE_ULPS = 4  # naive and stable "agree" when their losses are at most this many ulps of the format apart
# What each diagnosis implies for the naive loss: the browser test checks it against torch's numbers.
OUTCOMES = {
    "overflow-target": "nan",
    "all-underflow": "nan",
    "overflow-other": "inf",
    "sum-overflow": "inf",
    "target-exp-underflow": "inf",  # the target's own exp underflows to 0
    "target-underflow": "inf",  # the target's exp is not 0, the division rounds its p to 0
    "subnormal-exp-disagree": "disagree",  # the target's exp is subnormal AND the losses are more than AGREE_ULPS apart
    "subnormal-disagree": "disagree",  # the division rounds the target's p to a subnormal AND the losses are apart
    "rounding": "disagree",
    "agree": "agree",
}

# The naive computation's steps, as the messages name them, and the step each diagnosis says fails first (the front
# end highlights it in its row of steps: overflow.js's FAILED_STEP is the same table).
STEPS = {"exp": "exp", "sum": "the row sum", "divide": "the division", "log": "the log"}
FAILED_STEP = {
    "overflow-target": "exp", "overflow-other": "exp", "all-underflow": "exp", "sum-overflow": "sum",
    "target-exp-underflow": "exp", "target-underflow": "divide", "subnormal-exp-disagree": "exp",
    "subnormal-disagree": "divide", "rounding": "log",
}


def exp_overflow_threshold(dtype="float32"):
    """The first value at which torch.exp returns inf in this dtype (bisection over representable values)."""
    dtype = as_dtype(dtype)
    max_bits = torch.tensor(torch.finfo(dtype).max, dtype=dtype).view(BITS[dtype]).item()
    finite, infinite = 0, max_bits  # exp(0.0) is finite, exp(max) is inf; positive floats sort like their bits
    while infinite - finite > 1:
        middle = (finite + infinite) // 2
        if torch.isinf(torch.exp(from_bits(middle, dtype))):
            infinite = middle
        else:
            finite = middle
    return from_bits(infinite, dtype).item()


def outcome(naive_loss, stable_loss, dtype):
    """What torch's two losses imply: 'nan', 'inf', 'agree' (within AGREE_ULPS ulps of the format) or 'disagree'."""
    if math.isnan(naive_loss):
        return "nan"
    if math.isinf(naive_loss):
        return "inf"
    return "agree" if ulps_apart(naive_loss, stable_loss, dtype) <= AGREE_ULPS else "disagree"


def ulps_apart(a, b, dtype):
    """|a - b| in ulps of the format at b."""
    return abs(a - b) / ulp(torch.tensor(b, dtype=as_dtype(dtype))).item()


@dataclass(frozen=True)
class Exploration:
    """What the explorer shows for one setting of its controls."""

    dtype: str
    ok: bool
    message: str
    threshold: float
    target: int = TARGET
    diagnosis: str = "refused"
    logits: torch.Tensor | None = None
    naive_probs: torch.Tensor | None = None
    stable_probs: torch.Tensor | None = None
    naive_log_probs: torch.Tensor | None = None
    stable_log_probs: torch.Tensor | None = None
    naive_loss: float = math.nan
    stable_loss: float = math.nan

    def __str__(self):
        if not self.ok:
            return f"{self.dtype}: {self.message}"

        def row(values):
            return "[" + ", ".join(fmt(v) for v in values.tolist()) + "]"

        return "\n".join(
            [
                f"{self.dtype} logits {row(self.logits)}, target class {self.target}",
                f"  naive : probs {row(self.naive_probs)}  log-probs {row(self.naive_log_probs)}  loss {fmt(self.naive_loss)}",
                f"  stable: probs {row(self.stable_probs)}  log-probs {row(self.stable_log_probs)}  loss {fmt(self.stable_loss)}",
                f"  {self.message}",
            ]
        )

    def to_result(self):
        """The explorable's Result (the keys the front end's compute returns)."""
        if not self.ok:
            return Result(False, self.message, self.dtype)
        values = {
            "logits": self.logits,
            "naive_probs": self.naive_probs,
            "naive_log_probs": self.naive_log_probs,
            "stable_probs": self.stable_probs,
            "stable_log_probs": self.stable_log_probs,
            "naive_loss": self.naive_loss,
            "stable_loss": self.stable_loss,
        }
        return Result(True, self.message, self.dtype, values)


def explain(dtype, logits, exps, total, probs, naive_loss, stable_log_probs, stable_loss, threshold, target):
    """Name the first step of the naive computation that fails, or say whether naive and stable agree, and why.

    Returns (diagnosis, message); the diagnosis is a key of OUTCOMES."""
    info = torch.finfo(as_dtype(dtype))
    largest = max(logits)
    stable = (
        f"The stable one subtracts the largest logit first, so exp never sees more than 0, and never takes the log "
        f"of a rounded probability: log p{target} = {fmt(stable_log_probs[target])}, stable loss {fmt(stable_loss)}."
    )
    overflowed = [k for k, e in enumerate(exps) if math.isinf(e)]
    if overflowed:
        k = target if target in overflowed else overflowed[0]
        where = f"exp({fmt(logits[k])}) overflows {dtype} (exp is inf from {fmt(threshold, 16)} on)"
        if k == target:
            return "overflow-target", (
                f"First failure, exp: {where} at the target, class {target}. The row sum is inf too, so "
                f"p{target} = inf / inf = nan and the naive loss is nan. " + stable
            )
        return "overflow-other", (
            f"First failure, exp: {where} at class {k}, not the target. The row sum is inf, so "
            f"p{target} = {fmt(exps[target])} / inf = 0 and the naive loss is -log 0 = inf. " + stable
        )
    if math.isinf(total):
        return "sum-overflow", (
            f"First failure, the row sum: no exp overflows (largest logit {fmt(largest)}, overflow from "
            f"{fmt(threshold, 16)}), but their sum passes {dtype}'s largest number {fmt(info.max)} and is inf, so "
            f"p{target} = {fmt(exps[target])} / inf = 0 and the naive loss is -log 0 = inf. " + stable
        )
    if total == 0:
        return "all-underflow", (
            f"First failure, exp: every exp underflows to 0 in {dtype} (the largest logit is {fmt(largest)}), "
            f"so the row sum is 0 and p = 0 / 0 = nan: the naive softmax and loss are nan. " + stable
        )
    smallest = info.tiny * info.eps  # the smallest positive (subnormal) number of the format
    if probs[target] == 0:
        why = (
            f"Its true log is {fmt(stable_log_probs[target])}, below log of the smallest {dtype} number "
            f"({fmt(math.log(smallest))}), so the naive loss is -log 0 = inf. " + stable
        )
        if exps[target] == 0:
            return "target-exp-underflow", (
                f"First failure, exp: exp({fmt(logits[target])}) underflows to 0 in {dtype} at the target, class "
                f"{target}, so p{target} = 0 / {fmt(total)} = 0. " + why
            )
        return "target-underflow", (
            f"First failure, the division: the target's exp, exp({fmt(logits[target])}), is not 0, but "
            f"p{target} = exp({fmt(logits[target])}) / {fmt(total)} underflows to 0 in {dtype}. " + why
        )
    pair = f"naive loss {fmt(naive_loss)}, stable loss {fmt(stable_loss)}"
    if ulps_apart(naive_loss, stable_loss, dtype) > AGREE_ULPS:
        pair += f", apart by {fmt(abs(naive_loss - stable_loss), 2)}"
        if exps[target] < info.tiny:
            return "subnormal-exp-disagree", (
                f"Naive and stable disagree ({pair}): the target's exp, exp({fmt(logits[target])}), is subnormal in "
                f"{dtype} (below {fmt(info.tiny)}), where fewer bits are left for it, so p{target} = "
                f"{fmt(probs[target])} and its log are off. The stable loss never rounds a probability."
            )
        if probs[target] < info.tiny:
            return "subnormal-disagree", (
                f"Naive and stable disagree ({pair}): the division rounds the target's probability to "
                f"{fmt(probs[target])}, subnormal in {dtype} (below {fmt(info.tiny)}), where fewer bits are left for "
                f"it, so its log is off. The stable loss never rounds a probability."
            )
        return "rounding", (
            f"Naive and stable disagree by more than {AGREE_ULPS} ulps of {dtype} ({pair}): the naive loss takes "
            f"the log of p{target} = {fmt(probs[target])} after it was rounded to {dtype}. "
            f"The stable loss never rounds a probability."
        )
    return "agree", (
        f"Every step is finite (largest logit {fmt(largest)}, overflow from {fmt(threshold, 16)}; target's "
        f"probability {fmt(probs[target])}): naive and stable agree to within {AGREE_ULPS} ulps of {dtype}, {pair}."
    )


def explore(scale=1.0, push=0.0, push_class=0, dtype="float32", target=TARGET):
    """Scale the running example's first row, push one logit, and compare naive and stable softmax."""
    if dtype not in DTYPES:
        return Exploration(str(dtype), False, f"The format must be one of {', '.join(DTYPES)}, not {dtype!r}.", math.nan)
    threshold = exp_overflow_threshold(dtype)

    def refuse(message):
        return Exploration(dtype, False, message, threshold)

    scale_value, problem = parse_number(scale, "scale")
    if problem:
        return refuse(problem)
    push_value, problem = parse_number(push, "push")
    if problem:
        return refuse(problem)
    classes = range(len(BASE_LOGITS))
    if push_class not in classes or isinstance(push_class, bool):
        return refuse(f"The pushed class must be 0, 1 or 2, not {push_class!r}.")
    if target not in classes or isinstance(target, bool):
        return refuse(f"The target class must be 0, 1 or 2, not {target!r}.")
    values = [b * scale_value for b in BASE_LOGITS]
    values[push_class] += push_value
    largest_finite = torch.finfo(DTYPES[dtype]).max
    too_big = [v for v in values if abs(v) > largest_finite]
    if too_big:
        return refuse(
            f"a logit would be {fmt(too_big[0])}, past the largest {dtype} ({fmt(largest_finite)}): "
            f"choose a smaller scale or push."
        )
    logits = torch.tensor(values, dtype=torch.float64).to(DTYPES[dtype])
    exps = torch.exp(logits)
    total = exps.sum()
    naive_probs = softmax(logits)
    naive_log_probs = torch.log(naive_probs)
    stable_log_probs = log_softmax(logits)
    naive_loss = 0.0 - naive_log_probs[target].item()  # 0 - x, not -x: a loss of 0 prints as 0, not -0
    stable_loss = 0.0 - stable_log_probs[target].item()
    diagnosis, message = explain(
        dtype, logits.tolist(), exps.tolist(), total.item(), naive_probs.tolist(), naive_loss,
        stable_log_probs.tolist(), stable_loss, threshold, target,
    )
    return Exploration(
        dtype, True, message, threshold, target, diagnosis, logits, naive_probs, torch.exp(stable_log_probs),
        naive_log_probs, stable_log_probs, naive_loss, stable_loss,
    )


class OverflowExplorer(Explorable):
    """Sliders and fields that push the logits until the naive softmax fails, live with or without a kernel."""

    front_end = "overflow.js"
    style = "overflow.css"
    INPUTS = ("scale", "push", "push_class", "target", "dtype")

    # What the reader sets, kept as the text typed so that NaN, inf or words reach the message, not an error.
    scale = traitlets.Unicode("1").tag(sync=True)
    push = traitlets.Unicode("0").tag(sync=True)
    push_class = traitlets.Int(0).tag(sync=True)
    target = traitlets.Int(TARGET).tag(sync=True)
    dtype = traitlets.Unicode("float32").tag(sync=True)
    # What the front end needs to redo the computation by itself.
    base = traitlets.List(list(BASE_LOGITS)).tag(sync=True)

    def __init__(self, scale=1, push=0, push_class=0, dtype="float32", target=TARGET, **kwargs):
        super().__init__(scale=str(scale), push=str(push), push_class=push_class, dtype=dtype, target=target, **kwargs)

    @classmethod
    def compute(cls, inputs):
        """torch's answer (a Result) for the front end's inputs."""
        return explore(inputs["scale"], inputs["push"], inputs["push_class"], inputs["dtype"], inputs["target"]).to_result()


__all__ = ["BASE_LOGITS", "TARGET", "OUTCOMES", "STEPS", "FAILED_STEP", "Exploration", "OverflowExplorer", "exp_overflow_threshold",
           "explore", "fmt", "json_number", "outcome", "parse_number"]
