"""Chapter 12's explorable: the validation set's saved logits under a temperature, as a reliability diagram, the
expected calibration error (ECE), the NLL and the accuracy.

The logits are those of chapter 12's hidden-layer model on the 360 validation digits (``xentbook.real_data
.calibration_logits``), float32, saved in the widget's state (``logits``, ``target``) so that the page needs no
kernel. ``compute`` is torch's answer, in float64 from those float32 logits, its numbers rounded to float32;
``calibration.js`` computes the same in the browser's float64 and rounds the same way.
"""

import torch
import torch.nn.functional as F
import traitlets

from xentbook.explorables.base import Explorable, Result, fmt, parse_number
from xentbook.real_data import calibration_logits, reliability

BIN_CHOICES = (5, 10, 15, 20)
LOWEST, HIGHEST = 0.01, 100  # the temperatures the explorable accepts


def saved_logits():
    """The logits as the widget saves them: each float32 with 9 significant digits (enough to give it back)."""
    logits, _ = calibration_logits()
    return [[float(f"{z:.9g}") for z in row] for row in logits.tolist()]


def read_inputs(inputs):
    """(temperature, bins) from the reader's inputs, or a message saying what to type."""
    temperature, problem = parse_number(inputs["temperature"], "The temperature T", "1.5")
    if problem:
        return None, problem
    if not LOWEST <= temperature <= HIGHEST:
        return None, f"The temperature T must be between {fmt(LOWEST)} and {fmt(HIGHEST)}, not {fmt(temperature)}."
    bins = inputs["bins"]
    if isinstance(bins, bool) or bins not in BIN_CHOICES:
        return None, f"The number of bins must be 5, 10, 15 or 20, not {bins!r}."
    return (temperature, bins), None


def describe(temperature, bins, nll, accuracy, ece, confidence):
    """The sentence under the figure (the same words as calibration.js)."""
    side = ("above the accuracy: overconfident" if confidence > accuracy else
            "below the accuracy: underconfident" if confidence < accuracy else "equal to the accuracy")
    return (f"T = {fmt(temperature)}: the NLL of the 360 validation digits is {fmt(nll)} and the accuracy "
            f"{fmt(accuracy)} (the same at every T, since dividing a row by T > 0 keeps its largest logit the "
            f"largest). Over {bins} equal-width bins of confidence the ECE is {fmt(ece)}; the mean confidence, "
            f"{fmt(confidence)}, is {side}.")


def compute(inputs):
    """torch's numbers for one temperature: NLL, accuracy, mean confidence, ECE and the reliability bins."""
    read, problem = read_inputs(inputs)
    if problem:
        return Result(False, problem)
    temperature, bins = read
    logits, target = calibration_logits()
    log_probs = F.log_softmax(logits.double() / temperature, dim=1)
    probs = log_probs.exp()
    nll = F.nll_loss(log_probs, target)
    accuracy = (probs.argmax(dim=1) == target).double().mean()
    confidence = probs.max(dim=1).values.mean()
    count, bin_accuracy, bin_confidence, ece = reliability(probs, target, bins)
    values = {"nll": nll, "accuracy": accuracy, "confidence": confidence, "ece": ece, "count": count,
              "bin_accuracy": bin_accuracy, "bin_confidence": bin_confidence}
    values = {k: v.to(torch.float32) for k, v in values.items()}
    message = describe(temperature, bins, *(values[k].item() for k in ("nll", "accuracy", "ece", "confidence")))
    return Result(True, message, "float32", values)


class CalibrationExplorable(Explorable):
    """Chapter 12: divide the validation logits by a temperature; watch the reliability diagram, ECE and NLL."""

    front_end = "calibration.js"
    style = "calibration.css"
    INPUTS = ("temperature", "bins")

    temperature = traitlets.Unicode("1").tag(sync=True)
    bins = traitlets.Int(10).tag(sync=True)
    logits = traitlets.List().tag(sync=True)
    target = traitlets.List().tag(sync=True)

    def __init__(self, temperature=1, bins=10, **kwargs):
        kwargs.setdefault("logits", saved_logits())
        kwargs.setdefault("target", calibration_logits()[1].tolist())
        super().__init__(temperature=str(temperature), bins=bins, **kwargs)

    @classmethod
    def compute(cls, inputs):
        return compute(inputs)
