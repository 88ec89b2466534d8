"""The benchmark's methods: each cross entropy it compares, by family, with their names and their inputs.

Two families, each on its own size: **logits** (the gradient wanted for the logits) and **linear** (hidden states
into classes, the gradients wanted for the hidden states and the weight). Every method takes its family's inputs
(a dict from make_inputs) and returns the loss. benchmarks/bench_xent.py runs them; tests/test_bench.py checks that
every one agrees with torch.
"""

import inspect

import torch
import torch.nn.functional as F

from xentbook.accuracy import log_softmax_log1p
from xentbook.chunked import chunked_cross_entropy
from xentbook.scratch import log_softmax, nll

try:
    from xentbook.fused import default_chunk_size, linear_cross_entropy
except ImportError:  # the fused loss is not in this version of the package
    default_chunk_size = linear_cross_entropy = None
else:
    import bench_variants  # the fused loss's variants, beside this file

SMOOTHING = 0.1
Z_LOSS = 1e-4
CHUNK_ROWS = 64

# The methods, by family. Each takes the family's inputs (a dict) and returns the loss.
SCRATCH = "from scratch: nll(log_softmax)"
CROSS_ENTROPY = "F.cross_entropy"
CHUNKED = f"chunked_cross_entropy ({CHUNK_ROWS} rows)"
NLL_LOG_SOFTMAX = "F.nll_loss(F.log_softmax)"
NLL_LOG1P = "F.nll_loss(log_softmax_log1p)"
PLAIN = "F.linear + F.cross_entropy"
TORCH_REFERENCE = "F.linear_cross_entropy (reference path)"
TORCH_CHUNKED = "F.linear_cross_entropy (chunked: LinearCrossEntropyOptions())"
FUSED = "linear_cross_entropy (the book's fused loss)"
COMPILED_PLAIN = "torch.compile(F.linear + F.cross_entropy)"
SWEEP_ROWS = (32, 128, 256)  # the fused loss's chunk size, besides its default (a memory budget: d // 16 rows)
LS = f", label smoothing {SMOOTHING}"
Z = f", z-loss {Z_LOSS:g}"


def z_term(logits):
    """PaLM's z-loss term: the mean of each row's log-sum-exp squared (no row is ignored in the benchmark)."""
    return Z_LOSS * logits.logsumexp(dim=-1).pow(2).mean()


def logits_methods():
    """{name: loss(inputs)} for the logits family (chunked label smoothing only when the package has it)."""
    methods = {
        SCRATCH: lambda i: nll(log_softmax(i["logits"]), i["target"]),
        CROSS_ENTROPY: lambda i: F.cross_entropy(i["logits"], i["target"]),
        CROSS_ENTROPY + LS: lambda i: F.cross_entropy(i["logits"], i["target"], label_smoothing=SMOOTHING),
        CHUNKED: lambda i: chunked_cross_entropy(i["logits"], i["target"], chunk_rows=CHUNK_ROWS),
        CHUNKED + LS: lambda i: chunked_cross_entropy(i["logits"], i["target"], label_smoothing=SMOOTHING,
                                                      chunk_rows=CHUNK_ROWS),
        NLL_LOG_SOFTMAX: lambda i: F.nll_loss(F.log_softmax(i["logits"], dim=-1), i["target"]),
        NLL_LOG1P: lambda i: F.nll_loss(log_softmax_log1p(i["logits"]), i["target"]),
    }
    if "label_smoothing" not in inspect.signature(chunked_cross_entropy).parameters:
        del methods[CHUNKED + LS]
    return methods


def linear_methods():
    """{name: loss(inputs)} for the linear family (the book's fused loss only when the package has it)."""
    options = torch.nn.LinearCrossEntropyOptions()
    methods = {
        PLAIN: lambda i: F.cross_entropy(F.linear(i["hidden"], i["weight"]), i["target"]),
        PLAIN + LS: lambda i: F.cross_entropy(F.linear(i["hidden"], i["weight"]), i["target"],
                                              label_smoothing=SMOOTHING),
        PLAIN + Z: lambda i: _plain_with_z_loss(i),
        TORCH_REFERENCE: lambda i: F.linear_cross_entropy(i["hidden"], i["weight"], i["target"]),
        TORCH_CHUNKED: lambda i: F.linear_cross_entropy(i["hidden"], i["weight"], i["target"], options=options),
    }
    if linear_cross_entropy is not None:
        methods[FUSED] = lambda i: linear_cross_entropy(i["hidden"], i["weight"], i["target"])
        methods[FUSED + LS] = lambda i: linear_cross_entropy(i["hidden"], i["weight"], i["target"],
                                                             label_smoothing=SMOOTHING)
        methods[FUSED + Z] = lambda i: linear_cross_entropy(i["hidden"], i["weight"], i["target"], z_loss=Z_LOSS)
        for rows in SWEEP_ROWS:
            methods[fused_chunk(rows)] = lambda i, rows=rows: linear_cross_entropy(i["hidden"], i["weight"],
                                                                                   i["target"], chunk_size=rows)
        for variant, walk in bench_variants.VARIANTS.items():
            methods[fused_variant(variant)] = lambda i, walk=walk: bench_variants.run_with(
                walk, i["hidden"], i["weight"], i["target"])
        methods[COMPILED_PLAIN] = lambda i: bench_variants.compiled_plain(i["hidden"], i["weight"], i["target"])
    return methods


def fused_variant(variant):
    """The name of one of the fused loss's variants (benchmarks/bench_variants.py) at its default chunk size."""
    return f"{FUSED}, variant: {variant}"


def compiles(name):
    """True for the methods that torch.compile: their first call at a shape compiles (timed apart)."""
    return name == COMPILED_PLAIN or any(name == fused_variant(v) for v in bench_variants.COMPILED)


def fused_chunk(rows):
    """The name of the fused loss with a chunk size other than its default."""
    return f"{FUSED}, chunks of {rows} rows"


def _plain_with_z_loss(inputs):
    """F.linear + F.cross_entropy + the z-loss term, the logits built once."""
    logits = F.linear(inputs["hidden"], inputs["weight"])
    return F.cross_entropy(logits, inputs["target"]) + z_term(logits)


FAMILIES = {"logits": logits_methods, "linear": linear_methods}


def family_of(name):
    """The family a method belongs to."""
    return next(family for family, methods in FAMILIES.items() if name in methods())


def make_inputs(family, size, seed=0):
    """Seeded float32 inputs of a family (leaves that require grad) and random class-index targets."""
    generator = torch.Generator().manual_seed(seed)
    if family == "logits":
        rows, classes = size
        inputs = {"logits": torch.randn(rows, classes, generator=generator).requires_grad_()}
    else:
        rows, hidden, classes = size
        inputs = {"hidden": torch.randn(rows, hidden, generator=generator).requires_grad_(),
                  "weight": (torch.randn(classes, hidden, generator=generator) / hidden**0.5).requires_grad_()}
    inputs["target"] = torch.randint(0, classes, (rows,), generator=generator)
    return inputs
