"""Chapter 6's explorable: label smoothing moves the target distribution q, the loss, its floor H(q) and the best
confidence 1 - eps + eps/C.

The reader sets eps (``label_smoothing``), the number of classes C and the model's confidence p in the target
class (the other classes share the rest evenly, as in the chapter's picture). ``compute`` is torch's answer
(``F.cross_entropy(..., label_smoothing=eps)``, float32); ``smoothing.js`` computes it in the browser with float32
rounding.
"""

import math

import torch
import torch.nn.functional as F
import traitlets

from xentbook.explorables.base import Explorable, Result, fmt, parse_number

CLASS_CHOICES = tuple(range(2, 8))  # up to 7: fewer than 8 classes sum in the same order on every CPU


def read_inputs(inputs):
    """(eps, classes, confidence) from the reader's inputs, or a message saying what to type."""
    eps, problem = parse_number(inputs["eps"], "label_smoothing", "0.1")
    if problem:
        return None, problem
    if not 0 <= eps <= 1:
        return None, f"The label_smoothing must be between 0 and 1 (torch refuses anything else), not {fmt(eps)}."
    classes = inputs["classes"]
    if isinstance(classes, bool) or classes not in CLASS_CHOICES:
        return None, f"The number of classes must be a whole number from 2 to 7, not {classes!r}."
    confidence, problem = parse_number(inputs["confidence"], "the confidence", "0.9")
    if problem:
        return None, problem
    if not 0 < confidence < 1:
        return None, f"The confidence must be strictly between 0 and 1 (the other classes need some), not {fmt(confidence)}."
    return (eps, classes, confidence), None


def describe(eps, classes, confidence, best, other, loss, floor):
    """The sentence under the figure (the same words as smoothing.js)."""
    if eps == 0:
        return (f"No smoothing: q is one-hot, its floor H(q) is 0 and the best confidence is 1, so descent keeps "
                f"raising the target's logit. At p = {fmt(confidence)} the loss is {fmt(loss)}.")
    where = (f"past the best confidence {fmt(best)}: the gradient p − q on the target's logit is positive, so "
             f"descent lowers that logit" if confidence > best else
             f"below the best confidence {fmt(best)}: the gradient p − q on the target's logit is negative, so "
             f"descent raises that logit" if confidence < best else
             f"exactly the best confidence {fmt(best)}: the gradient p − q is 0")
    return (f"ε = {fmt(eps)} over {classes} classes: q puts 1 − ε + ε/C = {fmt(best)} on the target and "
            f"ε/C = {fmt(other)} on each other class. p = {fmt(confidence)} is {where}. The loss is {fmt(loss)}; "
            f"its floor, H(q), the loss of the best prediction p = q, is {fmt(floor)}.")


def compute(inputs):
    """torch's numbers: the row's logits, p, q, the smoothed loss, its floor and the best confidence (float32)."""
    read, problem = read_inputs(inputs)
    if problem:
        return Result(False, problem)
    eps, classes, confidence = read
    rest = (1 - confidence) / (classes - 1)
    best, other = (1 - eps) + eps / classes, eps / classes  # q, in float64: the same doubles as in the browser
    target = torch.tensor([classes - 1])  # the target is the last class
    logits = torch.tensor([math.log(rest)] * (classes - 1) + [math.log(confidence)], dtype=torch.float64)
    logits = logits.to(torch.float32)
    probs = torch.exp(F.log_softmax(logits, dim=-1))
    q = torch.tensor([other] * (classes - 1) + [best], dtype=torch.float64).to(torch.float32)
    loss = F.cross_entropy(logits[None], target, label_smoothing=eps)
    # The floor: the same loss for the best prediction, logits log q (for eps = 0 only the target's entry counts).
    best_logits = torch.log(torch.tensor([other] * (classes - 1) + [best], dtype=torch.float64)).to(torch.float32)
    floor = F.cross_entropy(best_logits[None], target, label_smoothing=eps)
    message = describe(eps, classes, confidence, best, other, loss.item(), floor.item())
    return Result(True, message, "float32", {
        "logits": logits, "probs": probs, "q": q, "loss": loss, "floor": floor,
        "best": torch.tensor(best, dtype=torch.float64).to(torch.float32),
    })


class SmoothingExplorable(Explorable):
    """Chapter 6: move label_smoothing, the number of classes and the model's confidence; watch q, the loss and its floor."""

    front_end = "smoothing.js"
    style = "smoothing.css"
    INPUTS = ("eps", "classes", "confidence")

    eps = traitlets.Unicode("0.1").tag(sync=True)
    classes = traitlets.Int(3).tag(sync=True)
    confidence = traitlets.Unicode("0.99").tag(sync=True)

    @classmethod
    def compute(cls, inputs):
        return compute(inputs)
