"""Chapter 8's explorable: drag the logits and watch the gradient softmax - q as bars, with or without label
smoothing (q is the one-hot target, or (1 - eps) onehot + eps / C).

``compute`` is torch's answer: autograd's gradient of ``F.cross_entropy(..., label_smoothing=eps)`` for one row
(float32). ``gradients.js`` computes the same backward pass in the browser with float32 rounding.
"""

import torch
import torch.nn.functional as F
import traitlets

from xentbook.example import LOGITS, TARGET
from xentbook.explorables.base import Explorable, Result, fmt, parse_number

BASE_LOGITS = LOGITS[0]  # the running example's first row, its worst
CLASSES = len(BASE_LOGITS)
FLOAT32_MAX = torch.finfo(torch.float32).max


def read_inputs(inputs):
    """(logits, target, eps) from the reader's inputs, or a message saying what to type."""
    logits = []
    for k in range(CLASSES):
        value, problem = parse_number(inputs[f"z{k}"], f"the logit of class {k}", "2")
        if problem:
            return None, problem
        if abs(value) > FLOAT32_MAX:
            return None, (f"The logit of class {k} would be {fmt(value)}, past the largest float32 "
                          f"({fmt(FLOAT32_MAX)}): type a smaller number.")
        logits.append(value)
    target = inputs["target"]
    if isinstance(target, bool) or target not in range(CLASSES):
        return None, f"The target class must be 0, 1 or 2, not {target!r}."
    eps, problem = parse_number(inputs["eps"], "label_smoothing", "0.1")
    if problem:
        return None, problem
    if not 0 <= eps <= 1:
        return None, f"The label_smoothing must be between 0 and 1 (torch refuses anything else), not {fmt(eps)}."
    return (logits, target, eps), None


def _names(classes):
    if len(classes) == 1:
        return f"class {classes[0]}"
    listed = ", ".join(str(k) for k in classes[:-1])
    return f"classes {listed} and {classes[-1]}"


def describe(grad, probs, q, target, eps, loss):
    """The sentence under the figure (the same words as gradients.js)."""
    raised = [k for k, g in enumerate(grad) if g < 0]
    lowered = [k for k, g in enumerate(grad) if g > 0]
    still = [k for k, g in enumerate(grad) if g == 0]
    parts = []
    if raised:
        parts.append(f"raises the logit of {_names(raised)}")
    if lowered:
        parts.append(f"lowers {_names(lowered)}")
    if still:
        parts.append(f"leaves {_names(still)} where {'it is' if len(still) == 1 else 'they are'}")
    moves = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    text = f"The gradient p − q is [{', '.join(fmt(g) for g in grad)}]: a descent step {moves}, each in proportion."
    if eps > 0 and grad[target] > 0:
        text += (f" With ε = {fmt(eps)} the target's own entry is positive: p = {fmt(probs[target])} is past the best "
                 f"confidence q = {fmt(q[target])}, so descent lowers even the target's logit.")
    elif eps > 0:
        text += f" With ε = {fmt(eps)} the target asks for q = {fmt(q[target])}, not 1."
    return text + f" The loss is {fmt(loss)}."


def compute(inputs):
    """torch's numbers: logits, p = softmax, q, autograd's gradient of the smoothed loss, the loss (float32)."""
    read, problem = read_inputs(inputs)
    if problem:
        return Result(False, problem)
    values, target, eps = read
    logits = torch.tensor(values, dtype=torch.float64).to(torch.float32).requires_grad_()
    loss = F.cross_entropy(logits[None], torch.tensor([target]), label_smoothing=eps)
    (grad,) = torch.autograd.grad(loss, logits)
    logits = logits.detach()
    probs = torch.exp(F.log_softmax(logits, dim=-1))
    q = torch.tensor([eps / CLASSES] * CLASSES, dtype=torch.float64)
    q[target] = (1 - eps) + eps / CLASSES
    q = q.to(torch.float32)
    message = describe(grad.tolist(), probs.tolist(), q.tolist(), target, eps, loss.item())
    return Result(True, message, "float32",
                  {"logits": logits, "probs": probs, "q": q, "grad": grad, "loss": loss.detach()})


class GradientsExplorable(Explorable):
    """Chapter 8: drag three logits, pick the target and label_smoothing; the gradient p - q as bars."""

    front_end = "gradients.js"
    style = "gradients.css"
    INPUTS = ("z0", "z1", "z2", "target", "eps")

    z0 = traitlets.Unicode(str(BASE_LOGITS[0])).tag(sync=True)
    z1 = traitlets.Unicode(str(BASE_LOGITS[1])).tag(sync=True)
    z2 = traitlets.Unicode(str(BASE_LOGITS[2])).tag(sync=True)
    target = traitlets.Int(TARGET[0]).tag(sync=True)
    eps = traitlets.Unicode("0").tag(sync=True)

    @classmethod
    def compute(cls, inputs):
        return compute(inputs)
