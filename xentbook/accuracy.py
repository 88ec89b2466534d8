"""Accuracy of log-softmax in float32, counted in ulps (chapter 9).

``log_softmax_log1p`` is the chapter's lesson and is defined, to the letter, in a cell of
``chapters/09_accuracy.ipynb``. Everything else here is measuring equipment the chapter imports: the ulp counter,
the reference, the three input families, the four methods and ``ulp_report``, which the benchmark reuses.

The last digits of an ulp count depend on the CPU: PyTorch picks its ``exp``, ``log`` and sum kernels for the
machine it runs on (plain C++, AVX2 or AVX-512), and they round differently. ``ulp_bucket`` turns a count into a
coarse bound that those kernels share, which is what the chapter prints.
"""

import decimal
import math

import torch
import torch.nn.functional as F

from xentbook.scratch import log_softmax

FAMILIES = ("ordinary", "shifted", "dominant")
SHIFT = 1e4  # added to every logit of the "shifted" family
GAP = 30.0  # how far the "dominant" family's target logit sits above the row's other logits
LOG1P_ULP_BOUND = 4  # log_softmax_log1p's largest error, in float32 ulps, on every family at 10 to 32000 classes


def log_softmax_log1p(x):
    """Log-softmax with log1p (Blanchard, Higham & Higham 2021), the rounding of x - max made up for (TwoSum)."""
    max_values, argmax = x.max(dim=-1, keepdim=True)
    shifted = x - max_values  # rounded; x - max = shifted + lost exactly (Knuth's TwoSum, below)
    with torch.no_grad():  # lost is a rounding error: no gradient flows through it
        back = shifted + max_values
        lost = ((x - back) - (max_values + (shifted - back))).nan_to_num(nan=0.0)  # nan where a logit is -inf
    others = torch.exp(shifted).scatter(-1, argmax, 0.0)
    # exp(shifted + lost) = exp(shifted) (1 + lost), to rounding: lost is at most half an ulp of shifted
    others_sum = others.sum(dim=-1, keepdim=True) + (others * lost).sum(dim=-1, keepdim=True)
    return shifted - torch.log1p(others_sum)


def ulp(reference):
    """The float32 spacing at each reference value: next float32 above |reference| minus |reference| (float64)."""
    magnitude = reference.to(torch.float32).abs()
    return (torch.nextafter(magnitude, torch.tensor(float("inf"))) - magnitude).to(torch.float64)


def ulp_error(computed, reference):
    """|computed - reference| in float32 ulps of the reference, elementwise (float64)."""
    return (computed.to(torch.float64) - reference.to(torch.float64)).abs() / ulp(reference)


def exact_log_softmax(row, digits=50):
    """Log-softmax of a 1-D tensor in decimal arithmetic with `digits` significant digits, rounded to float64."""
    context = decimal.Context(prec=digits)
    values = [decimal.Decimal(v) for v in row.to(torch.float64).tolist()]  # exact: every float is a decimal
    largest = max(values)
    total = sum((context.exp(context.subtract(v, largest)) for v in values), decimal.Decimal(0))
    lse = context.add(largest, context.ln(total))
    return torch.tensor([float(context.subtract(v, lse)) for v in values], dtype=torch.float64)


def reference_log_softmax(x):
    """The float64 reference: log_softmax_log1p on the inputs converted (exactly) to float64."""
    return log_softmax_log1p(x.to(torch.float64))


def input_families(seed=0, rows=1000, cols=100):
    """Three seeded (rows, cols) float32 families: randn, randn + 1e4, and randn with one logit 30 above the rest."""
    generator = torch.Generator().manual_seed(seed)
    ordinary = torch.randn(rows, cols, generator=generator)
    target = torch.randint(cols, (rows,), generator=generator)
    dominant = ordinary.clone()
    dominant[torch.arange(rows), target] = ordinary.max(dim=-1).values + GAP
    return {"ordinary": ordinary, "shifted": ordinary + SHIFT, "dominant": dominant}


def x_minus_logsumexp(x):
    """Log-softmax as x - logsumexp(x): the formula read literally."""
    return x - x.logsumexp(-1, keepdim=True)


def f_log_softmax(x):
    """PyTorch's F.log_softmax over the last dimension."""
    return F.log_softmax(x, dim=-1)


METHODS = {
    "x - logsumexp": x_minus_logsumexp,
    "max-shifted": log_softmax,
    "F.log_softmax": f_log_softmax,
    "log_softmax_log1p": log_softmax_log1p,
}


def ulp_report(seed=0, rows=1000, cols=100):
    """{family: {method: (max_ulps, mean_ulps)}} for the three input families and the four methods, in float32."""
    report = {}
    for family, x in input_families(seed, rows, cols).items():
        reference = reference_log_softmax(x)
        report[family] = {}
        for name, method in METHODS.items():
            errors = ulp_error(method(x), reference)
            report[family][name] = (errors.max().item(), errors.mean().item())
    return report


def ulp_bucket(errors):
    """An ulp count as a bound the CPU kernels share: '< 0.5', '< 4', or the powers of 2 around it ('2^9 to 2^10')."""
    value = float(errors)
    if value < 0.5:
        return "< 0.5"
    if value < 4:
        return "< 4"
    low = math.floor(math.log2(value))
    return f"2^{low} to 2^{low + 1}"


def ulp_table(report):
    """An aligned text table of a ulp_report: one line per family and method, max and mean ulps as ulp_bucket."""
    lines = [f"{'family':<10} {'method':<18} {'max ulps':<14} {'mean ulps'}"]
    for family, methods in report.items():
        for name, (largest, mean) in methods.items():
            lines.append(f"{family:<10} {name:<18} {ulp_bucket(largest):<14} {ulp_bucket(mean)}")
    return "\n".join(lines)
