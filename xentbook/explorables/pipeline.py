"""Chapter 5's explorable: the loss as a pipeline, logits -> log_softmax -> pick the target -> reduce.

Every logit, every target, the class weights, ``ignore_index`` and ``reduction`` are the reader's; every stage is
shown. ``compute`` is torch's answer (``F.log_softmax`` then ``F.nll_loss``, float32); ``pipeline.js`` computes
the same stages in the browser with float32 rounding.
"""

import math

import torch
import torch.nn.functional as F
import traitlets

from xentbook.example import LOGITS, TARGET
from xentbook.explorables.base import Explorable, Result, capital, fmt, parse_number

ROWS, CLASSES = len(LOGITS), len(LOGITS[0])
LOGIT_NAMES = tuple(f"z{i}_{j}" for i in range(ROWS) for j in range(CLASSES))
TARGET_NAMES = tuple(f"t{i}" for i in range(ROWS))
WEIGHT_NAMES = tuple(f"w{j}" for j in range(CLASSES))
TARGET_CHOICES = tuple(str(j) for j in range(CLASSES)) + ("ignore",)  # "ignore": the row's target is ignore_index
REDUCTIONS = ("mean", "sum", "none")
FLOAT32_MAX = torch.finfo(torch.float32).max


def _parse_finite32(text, name, example):
    """A typed number that is finite in float32: (value, None) or (None, message)."""
    value, problem = parse_number(text, name, example)
    if problem:
        return None, problem
    if abs(value) > FLOAT32_MAX:
        return None, f"{capital(name)} would be {fmt(value)}, past the largest float32 ({fmt(FLOAT32_MAX)}): type a smaller number."
    return value, None


def read_inputs(inputs):
    """Check the reader's inputs in a fixed order: (logits, weights, ignore_index, targets, reduction) or a message."""
    logits = []
    for i in range(ROWS):
        for j in range(CLASSES):
            value, problem = _parse_finite32(inputs[f"z{i}_{j}"], f"the logit of row {i}, class {j}", "1.5")
            if problem:
                return None, problem
            logits.append(value)
    weights = []
    for j in range(CLASSES):
        value, problem = _parse_finite32(inputs[f"w{j}"], f"the weight of class {j}", "2")
        if problem:
            return None, problem
        weights.append(value)
    ignore_index, problem = parse_number(inputs["ignore_index"], "ignore_index", "-100")
    if problem:
        return None, problem
    if ignore_index != math.floor(ignore_index) or abs(ignore_index) > 2**31:
        return None, f"The ignore_index must be a whole number such as -100, not {inputs['ignore_index']!s}."
    ignore_index = int(ignore_index)
    targets = []
    for i in range(ROWS):
        choice = inputs[f"t{i}"]
        if choice not in TARGET_CHOICES:
            return None, f"The target of row {i} must be one of {', '.join(TARGET_CHOICES)}, not {choice!r}."
        targets.append(ignore_index if choice == "ignore" else int(choice))
    if inputs["reduction"] not in REDUCTIONS:
        return None, f"The reduction must be one of {', '.join(REDUCTIONS)}, not {inputs['reduction']!r}."
    return (logits, weights, ignore_index, targets, inputs["reduction"]), None


def describe(reduction, ignore_index, kept, loss, total, divisor, row_loss):
    """The sentence under the figure: what the reduction did with the rows (the same words as pipeline.js)."""
    ignored = ROWS - kept
    if ignored:
        note = (f"{ignored} of the {ROWS} rows have the ignore_index {ignore_index} as their target: they leave both "
                f"the sum and the divisor, and show a loss of 0")
    else:
        note = f"No row has the ignore_index {ignore_index} as its target"
    if reduction == "mean" and kept == 0:
        return f"Reduction 'mean': every row's target is the ignore_index {ignore_index}, so nothing is left to average: 0 / 0 = nan."
    if reduction == "mean":
        return (f"Reduction 'mean': the kept rows' losses w·(−log p) add up to {fmt(total)}; divided by the sum of their targets' "
                f"weights, {fmt(divisor)}, that is {fmt(loss)}. {note}.")
    if reduction == "sum":
        return f"Reduction 'sum': the kept rows' losses w·(−log p) add up to {fmt(loss)}; nothing is divided. {note}."
    losses = ", ".join(fmt(v) for v in row_loss)
    return f"Reduction 'none': one loss per row, w·(−log p) of its target: [{losses}]. {note}."


def compute(inputs):
    """torch's stages for one setting: F.log_softmax(dim=1), the picked log-probabilities, F.nll_loss (float32)."""
    read, problem = read_inputs(inputs)
    if problem:
        return Result(False, problem)
    values, weights, ignore_index, targets, reduction = read
    logits = torch.tensor(values, dtype=torch.float64).reshape(ROWS, CLASSES).to(torch.float32)
    weight = torch.tensor(weights, dtype=torch.float64).to(torch.float32)
    target = torch.tensor(targets)
    log_probs = F.log_softmax(logits, dim=1)
    keep = target != ignore_index
    safe = torch.where(keep, target, 0)  # an index for every row; ignored rows are masked below
    rows = torch.arange(ROWS)
    zero = torch.zeros((), dtype=torch.float32)
    picked = torch.where(keep, log_probs[rows, safe], zero)
    row_weight = torch.where(keep, weight[safe], zero)
    options = dict(weight=weight, ignore_index=ignore_index)
    row_loss = F.nll_loss(log_probs, target, reduction="none", **options)
    loss = F.nll_loss(log_probs, target, reduction=reduction, **options)
    # F.nll_loss's own sum and divisor: aten's nll_loss_forward returns (output, total_weight); 1 is 'mean', 2 'sum'.
    total = torch.ops.aten.nll_loss_forward(log_probs, target, weight, 2, ignore_index)[0]
    divisor = torch.ops.aten.nll_loss_forward(log_probs, target, weight, 1, ignore_index)[1]
    message = describe(reduction, ignore_index, int(keep.sum()), loss.item() if loss.dim() == 0 else math.nan,
                       total.item(), divisor.item(), row_loss.tolist())
    return Result(True, message, "float32", {
        "logits": logits, "log_probs": log_probs, "picked": picked, "row_weight": row_weight,
        "row_loss": row_loss, "total": total, "divisor": divisor, "loss": loss,
    })


class PipelineExplorable(Explorable):
    """Chapter 5: edit the logits, targets, weights, ignore_index and reduction; watch every stage of the loss."""

    front_end = "pipeline.js"
    style = "pipeline.css"
    INPUTS = LOGIT_NAMES + TARGET_NAMES + WEIGHT_NAMES + ("ignore_index", "reduction")

    # One synced trait per logit, target and weight, kept as the text typed (so NaN or words reach the message).
    for _i, _row in enumerate(LOGITS):
        for _j, _z in enumerate(_row):
            locals()[f"z{_i}_{_j}"] = traitlets.Unicode(str(_z)).tag(sync=True)
        locals()[f"t{_i}"] = traitlets.Unicode(str(TARGET[_i])).tag(sync=True)
    for _j in range(CLASSES):
        locals()[f"w{_j}"] = traitlets.Unicode("1").tag(sync=True)
    del _i, _row, _j, _z
    ignore_index = traitlets.Unicode("-100").tag(sync=True)
    reduction = traitlets.Unicode("mean").tag(sync=True)

    @classmethod
    def compute(cls, inputs):
        return compute(inputs)


def pipeline_inputs(**changes):
    """The default inputs (the running example, weights 1, ignore_index -100, mean), with some changed."""
    inputs = {f"z{i}_{j}": str(LOGITS[i][j]) for i in range(ROWS) for j in range(CLASSES)}
    inputs |= {f"t{i}": str(TARGET[i]) for i in range(ROWS)}
    inputs |= {f"w{j}": "1" for j in range(CLASSES)}
    inputs |= {"ignore_index": "-100", "reduction": "mean"}
    unknown = set(changes) - set(inputs)
    if unknown:
        raise KeyError(f"not an input of the pipeline explorable: {sorted(unknown)}")
    return inputs | {k: str(v) for k, v in changes.items()}
