"""Chapter 9's explorable: the margin of one dominant logit, and how many float32 ulps the max-shifted
log-softmax and ``log_softmax_log1p`` lose against the float64 reference.

The row is the running example's first row with class 0 set ``margin`` above the largest other logit. ``compute``
is torch's answer with the package's own functions (``xentbook.scratch.log_softmax``,
``xentbook.accuracy.log_softmax_log1p`` and ``reference_log_softmax``); ``margin.js`` follows the same algorithms
in the browser, rounding where torch rounds (the max-shifted form at every float32 step, log_softmax_log1p once,
from float64), and the test compares the two, so a change of the package's algorithm that the browser does not
follow fails it.
"""

import torch
import traitlets

from xentbook.accuracy import log_softmax_log1p, reference_log_softmax, ulp_bucket, ulp_error
from xentbook.example import LOGITS
from xentbook.explorables.base import Explorable, Result, fmt, parse_number
from xentbook.scratch import log_softmax

OTHERS = LOGITS[0][1:]  # the running example's first row, classes 1 and 2
DOMINANT = 0  # the class set `margin` above the others
HALF_EPS = torch.finfo(torch.float32).eps / 2
LARGEST_MARGIN = 1e30  # beyond this the row's logits stop being ordinary float32 numbers for this figure


def row_for(margin):
    """The float32 row: class 0 at max(others) + margin (computed in float64, then rounded), then the others."""
    values = [max(OTHERS) + margin, *OTHERS]
    return torch.tensor(values, dtype=torch.float64).to(torch.float32)


def describe(s, max_shifted_d, reference_d, ulps_shifted, ulps_log1p):
    """The sentence under the figure (the same words as margin.js)."""
    head = (f"The other classes' terms exp(z − max) add up to s = {fmt(s)}; added to 1 one at a time in float32, a "
            f"term below half of float32's eps ({fmt(HALF_EPS)}) rounds away.")
    if max_shifted_d == 0:
        return (f"{head} Here the float32 sum comes out as exactly 1, so the max-shifted log-softmax returns log p0 = 0 "
                f"exactly: an error of {ulp_bucket(ulps_shifted)} ulps against the reference {fmt(reference_d)}. "
                f"log_softmax_log1p never adds the 1; its error: {ulp_bucket(ulps_log1p)} ulps.")
    return (f"{head} On the dominant class the max-shifted log-softmax's error is {ulp_bucket(ulps_shifted)} ulps "
            f"against the reference {fmt(reference_d)}; log_softmax_log1p's: {ulp_bucket(ulps_log1p)} ulps.")


def compute(inputs):
    """torch's numbers for one margin: the row, both float32 log-softmaxes and the float64 reference."""
    margin, problem = parse_number(inputs["margin"], "the margin", "20")
    if problem:
        return Result(False, problem)
    if not 0 <= margin <= LARGEST_MARGIN:
        return Result(False, f"The margin must be between 0 and {fmt(LARGEST_MARGIN)}, not {fmt(margin)}.")
    row = row_for(margin)
    shifted = log_softmax(row)
    log1p = log_softmax_log1p(row)
    reference = reference_log_softmax(row)
    ulps_shifted = ulp_error(shifted, reference)
    ulps_log1p = ulp_error(log1p, reference)
    wide = row.double()
    s = torch.exp(wide[1:] - wide.max()).sum().item()  # the sum over the other classes, in float64
    message = describe(s, shifted[DOMINANT].item(), reference[DOMINANT].item(), ulps_shifted[DOMINANT].item(),
                       ulps_log1p[DOMINANT].item())
    return Result(True, message, "float32", {
        "logits": row, "max_shifted": shifted, "log1p": log1p, "reference": reference.to(torch.float32),
    })


class MarginExplorable(Explorable):
    """Chapter 9: slide the dominant logit's margin; count the ulps each log-softmax loses."""

    front_end = "margin.js"
    style = "margin.css"
    INPUTS = ("margin",)

    margin = traitlets.Unicode("20").tag(sync=True)

    @classmethod
    def compute(cls, inputs):
        return compute(inputs)
