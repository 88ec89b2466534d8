"""Chapter 10's memory explorable: its formulas against the memory meter, at small sizes, in every format, for the
package's own losses (F.cross_entropy, xentbook.chunked.chunked_cross_entropy, xentbook.fused.linear_cross_entropy)."""

import pytest
import torch
import torch.nn.functional as F

from xentbook.chunked import chunked_cross_entropy
from xentbook.explorables.memory import BYTES, memory
from xentbook.fused import linear_cross_entropy
from xentbook.measuring import memory_timeline

M, C, D, CHUNK = 128, 4000, 32, 32


@pytest.fixture(scope="module")
def measured():
    """Peak bytes of each loss's forward and backward, per format, from the memory meter."""
    torch.manual_seed(0)
    peaks = {}
    for name in BYTES:
        dtype = getattr(torch, name)
        logits = torch.randn(M, C, dtype=dtype, requires_grad=True)
        target = torch.randint(0, C, (M,))
        plain = max(memory_timeline(lambda: F.cross_entropy(logits, target).backward()))
        logits.grad = None
        chunked = max(memory_timeline(lambda: chunked_cross_entropy(logits, target, chunk_rows=CHUNK).backward()))
        hidden = torch.randn(M, D, dtype=dtype, requires_grad=True)
        weight = (torch.randn(C, D, dtype=dtype) / 8).requires_grad_()
        fused = max(memory_timeline(lambda: linear_cross_entropy(hidden, weight, target, chunk_size=CHUNK).backward()))
        peaks[name] = {"plain": plain, "chunked": chunked, "fused": fused}
    return peaks


@pytest.mark.parametrize("name", list(BYTES))
def test_plain_and_chunked_formulas_match_the_meter_within_2_percent(measured, name):
    formula = memory(M, C, BYTES[name], CHUNK, D)
    for method in ("plain", "chunked"):
        assert formula[method] <= measured[name][method] <= 1.02 * formula[method], (method, measured[name])


@pytest.mark.parametrize("name", list(BYTES))
def test_fused_formula_matches_the_meter_within_5_percent(measured, name):
    formula = memory(M, C, BYTES[name], CHUNK, D)["fused"]
    assert formula <= measured[name]["fused"] <= 1.05 * formula, measured[name]
