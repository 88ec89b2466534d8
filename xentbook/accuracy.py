"""Accuracy of log-softmax in float32, counted in ulps (chapter 9).

``log_softmax_log1p`` is the chapter's lesson and is defined, to the letter, in a cell of
``chapters/09_accuracy.ipynb``, which also proves its error bound (``log1p_ulp_bound``). Everything else here is
measuring equipment the chapter imports: the ulp counter, the references, the three input families, the four
methods and ``ulp_report``, which the benchmark reuses.

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
GAP = 30.0  # the "dominant" family's target logit is max + GAP rounded to float32: about 30 above the others
LOG1P_ULP_BOUND = 0.51  # log_softmax_log1p's proven error bound, float32 ulps, for float32 logits, up to 2**20 classes


def log1p_ulp_bound(classes):
    """Chapter 9's proven bound on log_softmax_log1p's error, float32 ulps, float32 logits: 0.5 + (C + 800) 2^-28."""
    return 0.5 + (classes + 800) * 2.0**-28


def log_softmax_log1p(z):
    """Log-softmax with log1p (Blanchard, Higham & Higham 2021), from the shift on in float64, rounded once."""
    max_values, argmax = z.max(dim=-1, keepdim=True)
    shifted = z.double() - max_values.double()  # z - M in float64: exact unless their exponents differ by over 28
    others = torch.exp(shifted).scatter(-1, argmax, 0.0)  # the terms of s: every exp(z_k - M) but the largest one
    return (shifted - torch.log1p(others.sum(dim=-1, keepdim=True))).to(z.dtype)


def ulp(reference):
    """The float32 spacing at each reference value: next float32 above |reference| minus |reference| (float64)."""
    magnitude = reference.to(torch.float32).abs()
    return (torch.nextafter(magnitude, torch.tensor(float("inf"))) - magnitude).to(torch.float64)


def ulp_error(computed, reference):
    """|computed - reference| in float32 ulps of the reference, elementwise (float64)."""
    return (computed.to(torch.float64) - reference.to(torch.float64)).abs() / ulp(reference)


def exact_log_softmax(row, digits=50):
    """Log-softmax of a 1-D tensor in decimal arithmetic, `digits` significant digits per entry, rounded to float64."""
    context = decimal.Context(prec=digits)
    values = [decimal.Decimal(v) for v in row.to(torch.float64).tolist()]  # exact: every float is a decimal
    largest = max(values)
    top = values.index(largest)
    others = decimal.Decimal(0)
    for k, v in enumerate(values):  # every addition in `context` too, not in the default context's 28 digits
        if k != top:
            others = context.add(others, context.exp(context.subtract(v, largest)))
    # log1p(others): 1 + others needs enough digits to keep `digits` of a tiny `others`
    wide = decimal.Context(prec=digits + max(0, -others.adjusted()))
    log1p = wide.ln(wide.add(1, others))
    return torch.tensor([float(context.subtract(context.subtract(v, largest), log1p)) for v in values],
                        dtype=torch.float64)


def reference_log_softmax(logits):
    """The float64 reference: log_softmax_log1p on the logits converted (exactly) to float64."""
    return log_softmax_log1p(logits.to(torch.float64))


def input_families(seed=0, rows=1000, cols=100):
    """Three seeded (rows, cols) float32 families: randn, randn + 1e4, and randn with one logit about 30 above the rest
    (the row's max + 30, rounded to float32)."""
    generator = torch.Generator().manual_seed(seed)
    ordinary = torch.randn(rows, cols, generator=generator)
    target = torch.randint(cols, (rows,), generator=generator)
    dominant = ordinary.clone()
    dominant[torch.arange(rows), target] = ordinary.max(dim=-1).values + GAP
    return {"ordinary": ordinary, "shifted": ordinary + SHIFT, "dominant": dominant}


def x_minus_logsumexp(logits):
    """Log-softmax as logits - logsumexp(logits): the formula read literally."""
    return logits - logits.logsumexp(-1, keepdim=True)


def f_log_softmax(logits):
    """PyTorch's F.log_softmax over the last dimension."""
    return F.log_softmax(logits, dim=-1)


METHODS = {
    "x - logsumexp": x_minus_logsumexp,
    "max-shifted": log_softmax,
    "F.log_softmax": f_log_softmax,
    "log_softmax_log1p": log_softmax_log1p,
}


def ulp_report(seed=0, rows=1000, cols=100):
    """{family: {method: (max_ulps, mean_ulps)}} for the three input families and the four methods, in float32."""
    report = {}
    for family, logits in input_families(seed, rows, cols).items():
        reference = reference_log_softmax(logits)
        report[family] = {}
        for name, method in METHODS.items():
            errors = ulp_error(method(logits), reference)
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
