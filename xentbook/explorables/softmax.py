"""Chapter 2's explorable: three logits and a temperature; the probabilities as bars; add one constant to every
logit and nothing moves (until the naive exp overflows or underflows, which chapter 4 fixes).

Chapter 2's softmax, ``exp(x) / exp(x).sum()``, of ``logits / temperature`` and of ``(logits + shift) /
temperature``, in float32: with torch here and with float32 rounding in the browser (``softmax.js``).
"""

import math

import torch
import traitlets

from xentbook.example import LOGITS
from xentbook.explorables.base import Explorable, Result, fmt, parse_number
from xentbook.explorables.overflow import exp_overflow_threshold
from xentbook.scratch import softmax  # chapter 2's

NAMES = {"z0": "logit 0", "z1": "logit 1", "z2": "logit 2", "temperature": "temperature", "shift": "the added constant"}
MOVED = 1e-3  # a probability "moved" when it changed by more than this


def explore(z0=LOGITS[0][0], z1=LOGITS[0][1], z2=LOGITS[0][2], temperature=1.0, shift=0.0):
    """Probabilities of logits / T and of (logits + shift) / T, and how far adding the shift moved them."""
    values = {}
    for name, value in (("z0", z0), ("z1", z1), ("z2", z2), ("temperature", temperature), ("shift", shift)):
        number, problem = parse_number(value, NAMES[name], example="2")
        if problem:
            return Result(False, problem[0].upper() + problem[1:])
        values[name] = number
    big = [n for n in NAMES if abs(values[n]) > torch.finfo(torch.float32).max]
    if big:
        return Result(False, f"{NAMES[big[0]].capitalize()} {fmt(values[big[0]])} is past the largest float32: type a smaller number.")
    if values["temperature"] <= 0:
        return Result(False, f"The temperature must be positive (it divides the logits), not {fmt(values['temperature'])}.")
    logits = torch.tensor([values["z0"], values["z1"], values["z2"]])
    temperature = torch.tensor(values["temperature"])
    scaled = logits / temperature
    shifted = (logits + torch.tensor(values["shift"])) / temperature
    probs, shifted_probs = softmax(scaled), softmax(shifted)
    message = explain(scaled, shifted, probs, shifted_probs, values["temperature"], values["shift"])
    return Result(True, message, "float32", {
        "scaled": scaled, "shifted": shifted, "probs": probs, "shifted_probs": shifted_probs,
    })


def explain(scaled, shifted, probs, shifted_probs, temperature, shift):
    """Say what the temperature did and whether the shift moved anything, and why."""
    info = torch.finfo(torch.float32)
    first, subnormal, zero = [], [], False
    for name, z in (("logits / T", scaled), ("(logits + c) / T", shifted)):
        exps = torch.exp(z)
        largest = fmt(z.max().item())
        if torch.isinf(exps).any():
            first.append(
                f"exp overflows float32 for {name} (largest {largest}, exp is inf from "
                f"{fmt(exp_overflow_threshold('float32'), 16)} on): inf / inf = nan."
            )
        elif torch.isinf(exps.sum()):
            first.append(
                f"no exp overflows for {name} (largest {largest}), but their sum passes float32's largest number "
                f"{fmt(info.max)} and is inf: every probability is finite / inf = 0."
            )
        elif (exps == 0).all():
            first.append(f"every exp underflows to 0 for {name} (largest {largest}): 0 / 0 = nan.")
        elif exps.max() < info.tiny:  # every exp subnormal (or 0): they keep fewer significant digits
            some = " or 0" if (exps == 0).any() else ""
            zero = zero or bool(some)
            subnormal.append(f"every exp of {name} is subnormal{some} (the largest of {name} is {largest})")
    if first:
        return (
            f"Chapter 2's softmax fails: {' '.join(first)} Mathematically nothing moved; chapter 4 subtracts the "
            f"largest logit first, and this failure goes away."
        )
    top = int(probs.argmax())
    temper = f"At temperature {fmt(temperature)} the largest probability is {fmt(probs[top].item())} (class {top})"
    moved = (shifted_probs - probs).abs().max().item()
    if shift == 0:
        return f"{temper}. Set the added constant c to add it to every logit and compare the bars."
    if moved <= MOVED:
        return (
            f"{temper}. Adding {fmt(shift)} to every logit moved no probability by more than {MOVED:g}: softmax "
            f"depends only on the differences between the logits."
        )
    moved_by = f"{temper}. Adding {fmt(shift)} to every logit moved a probability by {fmt(moved, 2)}"
    if not subnormal:  # not reached: in float32, rounding alone moves a probability by far less than MOVED
        return f"{moved_by}."
    return (
        f"{moved_by}: {', and '.join(subnormal)}. Below float32's smallest normal number, {fmt(info.tiny)} (exp(x) "
        f"for x < {fmt(math.log(info.tiny))}), numbers are subnormal and keep fewer significant digits"
        f"{' (0 keeps none)' if zero else ''}, so these exps' ratios, the probabilities, are off."
    )


class SoftmaxExplorer(Explorable):
    """Three logits, a temperature and a constant added to every logit; the probabilities as bars."""

    front_end = "softmax.js"
    style = "softmax.css"
    INPUTS = ("z0", "z1", "z2", "temperature", "shift")

    z0 = traitlets.Unicode(str(LOGITS[0][0])).tag(sync=True)
    z1 = traitlets.Unicode(str(LOGITS[0][1])).tag(sync=True)
    z2 = traitlets.Unicode(str(LOGITS[0][2])).tag(sync=True)
    temperature = traitlets.Unicode("1").tag(sync=True)
    shift = traitlets.Unicode("0").tag(sync=True)

    def __init__(self, z0=LOGITS[0][0], z1=LOGITS[0][1], z2=LOGITS[0][2], temperature=1, shift=0, **kwargs):
        super().__init__(z0=str(z0), z1=str(z1), z2=str(z2), temperature=str(temperature), shift=str(shift), **kwargs)

    @classmethod
    def compute(cls, inputs):
        return explore(inputs["z0"], inputs["z1"], inputs["z2"], inputs["temperature"], inputs["shift"])
