"""The overflow explorer: push logits until the naive softmax overflows and watch the stable one stay finite.

``explore`` is the plain logic, computed with torch; ``OverflowExplorer`` is the widget. The widget's front end
(``overflow_explorer.js``) recomputes the same numbers in the browser with the chosen format's rounding, so it
stays live on the static site where no kernel runs; with a kernel, every change is recomputed here with torch too
and shown beside the browser's numbers.
"""

import math
import pathlib
import re
from dataclasses import dataclass

import anywidget
import torch
import traitlets

from xentbook.example import LOGITS, TARGET as TARGETS
from xentbook.floats import BITS, DTYPES, as_dtype, from_bits
from xentbook.scratch import log_softmax, softmax

BASE_LOGITS = LOGITS[0]  # the running example's first row
TARGET = TARGETS[0]  # its target class
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


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


def fmt(x, digits=4):
    """A float as the widget prints it (Python's %g), for the explorer's messages."""
    return f"{x:.{digits}g}"


def parse_number(value, name):
    """Read a number typed by a reader: (value, None) if usable, (None, message) if not."""
    if isinstance(value, bool):
        return None, f"{name} must be a number, not {value}."
    if isinstance(value, (int, float)):
        text = repr(float(value))
    else:
        text = str(value).strip()
    lowered = text.lower().lstrip("+-")
    if lowered == "nan":
        return None, f"{name} is NaN (not a number): type a finite number such as 70."
    if lowered in ("inf", "infinity"):
        return None, f"{name} is infinite: type a finite number such as 70."
    if not _NUMBER.match(text):
        return None, f"{name} must be a number such as 70 or 1e4, not {text!r}."
    number = float(text)
    if not math.isfinite(number):
        return None, f"{name} {text} is beyond any floating-point range: type a smaller number."
    return number, None


@dataclass(frozen=True)
class Exploration:
    """What the explorer shows for one setting of its controls."""

    dtype: str
    ok: bool
    message: str
    threshold: float
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
                f"{self.dtype} logits {row(self.logits)}, target class {TARGET}",
                f"  naive : probs {row(self.naive_probs)}  loss {fmt(self.naive_loss)}",
                f"  stable: probs {row(self.stable_probs)}  loss {fmt(self.stable_loss)}",
                f"  {self.message}",
            ]
        )

    def to_json(self):
        """A JSON-safe dict (non-finite floats as the strings 'nan', 'inf', '-inf')."""

        def number(x):
            return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))

        def numbers(values):
            return None if values is None else [number(v) for v in values.tolist()]

        return {
            "dtype": self.dtype,
            "ok": self.ok,
            "message": self.message,
            "threshold": self.threshold,
            "logits": numbers(self.logits),
            "naive_probs": numbers(self.naive_probs),
            "stable_probs": numbers(self.stable_probs),
            "naive_loss": number(self.naive_loss),
            "stable_loss": number(self.stable_loss),
        }


def explain(dtype, logits, naive_exps, naive_probs, naive_loss, stable_loss, threshold):
    """Say in plain words what happened to the naive softmax, and why the stable one is fine."""
    largest = max(logits)
    if any(math.isinf(e) for e in naive_exps):
        return (
            f"exp({fmt(largest)}) overflows {dtype} (exp is inf from {fmt(threshold, 16)} on), so the sum is inf: "
            f"inf / inf = nan for each class whose exp overflowed, finite / inf = 0 for the others, naive loss {fmt(naive_loss)}. "
            f"The stable one subtracts the largest logit first, so exp never sees more than 0: "
            f"stable loss {fmt(stable_loss)}."
        )
    if sum(naive_exps) == 0:
        return (
            f"Every exp underflows to 0 in {dtype} (the largest logit is {fmt(largest)}): 0 / 0 = nan, so the naive "
            f"softmax is nan. The stable one subtracts the largest logit first, so one exp is exactly 1: "
            f"stable loss {fmt(stable_loss)}."
        )
    if naive_probs[TARGET] == 0:
        return (
            f"The target's probability underflows to 0 in {dtype}: -log 0 = inf, so the naive loss is inf. "
            f"The stable one never takes the log of a rounded probability: stable loss {fmt(stable_loss)}."
        )
    return (
        f"Every exp is finite (largest logit {fmt(largest)}, overflow from {fmt(threshold, 16)}): naive and stable "
        f"agree, loss {fmt(naive_loss)} and {fmt(stable_loss)}."
    )


def explore(scale=1.0, push=0.0, push_class=0, dtype="float32"):
    """Scale the running example's first row, push one logit, and compare naive and stable softmax."""
    if dtype not in DTYPES:
        return Exploration(str(dtype), False, f"format must be one of {', '.join(DTYPES)}, not {dtype!r}.", math.nan)
    threshold = exp_overflow_threshold(dtype)

    def refuse(message):
        return Exploration(dtype, False, message, threshold)

    scale_value, problem = parse_number(scale, "scale")
    if problem:
        return refuse(problem)
    push_value, problem = parse_number(push, "push")
    if problem:
        return refuse(problem)
    if push_class not in range(len(BASE_LOGITS)) or isinstance(push_class, bool):
        return refuse(f"the pushed class must be 0, 1 or 2, not {push_class!r}.")
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
    naive_exps = torch.exp(logits)
    naive_probs = softmax(logits)
    naive_log_probs = torch.log(naive_probs)
    stable_log_probs = log_softmax(logits)
    naive_loss = -naive_log_probs[TARGET].item()
    stable_loss = -stable_log_probs[TARGET].item()
    message = explain(
        dtype, logits.tolist(), naive_exps.tolist(), naive_probs.tolist(), naive_loss, stable_loss, threshold
    )
    return Exploration(
        dtype,
        True,
        message,
        threshold,
        logits,
        naive_probs,
        torch.exp(stable_log_probs),
        naive_log_probs,
        stable_log_probs,
        naive_loss,
        stable_loss,
    )


class OverflowExplorer(anywidget.AnyWidget):
    """Sliders and fields that push the logits until the naive softmax overflows, live with or without a kernel."""

    _esm = pathlib.Path(__file__).with_name("overflow_explorer.js")
    _css = pathlib.Path(__file__).with_name("overflow_explorer.css")

    # What the reader sets, kept as the text typed so that NaN, inf or words reach the message, not an error.
    scale = traitlets.Unicode("1").tag(sync=True)
    push = traitlets.Unicode("0").tag(sync=True)
    push_class = traitlets.Int(0).tag(sync=True)
    dtype = traitlets.Unicode("float32").tag(sync=True)
    # What the front end needs to redo the computation by itself.
    base = traitlets.List(list(BASE_LOGITS)).tag(sync=True)
    target = traitlets.Int(TARGET).tag(sync=True)
    # torch's answer for the current inputs, written by the kernel after every change.
    kernel = traitlets.Dict().tag(sync=True)

    def __init__(self, scale=1, push=0, push_class=0, dtype="float32", **kwargs):
        super().__init__(scale=str(scale), push=str(push), push_class=push_class, dtype=dtype, **kwargs)
        self._recompute()

    @traitlets.observe("scale", "push", "push_class", "dtype")
    def _recompute(self, change=None):
        """Recompute with torch whenever the reader changes a control."""
        result = explore(self.scale, self.push, self.push_class, self.dtype)
        inputs = {"scale": self.scale, "push": self.push, "push_class": self.push_class, "dtype": self.dtype}
        self.kernel = {"inputs": inputs, **result.to_json()}

    def __repr__(self):
        return (
            f"OverflowExplorer(scale={self.scale!r}, push={self.push!r}, push_class={self.push_class}, "
            f"dtype={self.dtype!r})"
        )
