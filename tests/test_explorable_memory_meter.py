"""Chapter 10's memory explorable: its formulas against the memory meter, at small sizes, in every format."""

import pytest
import torch
import torch.nn.functional as F

from xentbook.chunked import chunked_cross_entropy
from xentbook.explorables.memory import BYTES, memory

try:  # the meter's home: xentbook.measuring once it moves there, xentbook.chunked before
    from xentbook.measuring import memory_timeline
except ImportError:
    from xentbook.chunked import memory_timeline

M, C, D, CHUNK = 128, 4000, 32, 32


def fused_linear_loss(hidden, weight, target, chunk_rows):
    """Mean cross entropy of hidden @ weight.T with its gradients for hidden and weight, chunk_rows rows of logits
    at a time, each chunk's gradient written in place over its logits (the explorable's "fused" loss)."""
    m = hidden.shape[0]
    loss = torch.zeros((), dtype=torch.float32)
    grad_hidden = torch.empty_like(hidden)
    grad_weight = torch.zeros_like(weight)
    for start in range(0, m, chunk_rows):
        h, t = hidden[start : start + chunk_rows], target[start : start + chunk_rows]
        rows = torch.arange(h.shape[0])
        z = h @ weight.T  # this chunk's logits: the only ones that ever exist
        lse = torch.logsumexp(z, dim=-1, keepdim=True)
        loss += (lse[:, 0] - z[rows, t]).sum().float() / m
        z.sub_(lse).exp_()  # p, in place
        z[rows, t] -= 1
        z.div_(m)  # (p - onehot) / m
        grad_hidden[start : start + chunk_rows] = z @ weight
        grad_weight.addmm_(z.T, h)
    return loss, grad_hidden, grad_weight


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
        chunked = max(memory_timeline(lambda: chunked_cross_entropy(logits, target, CHUNK).backward()))
        hidden, weight = torch.randn(M, D, dtype=dtype), torch.randn(C, D, dtype=dtype) / 8
        fused = max(memory_timeline(lambda: fused_linear_loss(hidden, weight, target, CHUNK)))
        peaks[name] = {"plain": plain, "chunked": chunked, "fused": fused}
    return peaks


@pytest.mark.parametrize("name", list(BYTES))
def test_plain_and_chunked_formulas_match_the_meter_within_1_percent(measured, name):
    formula = memory(M, C, BYTES[name], CHUNK, D)
    for method in ("plain", "chunked"):
        assert formula[method] <= measured[name][method] <= 1.01 * formula[method], (method, measured[name])


@pytest.mark.parametrize("name", list(BYTES))
def test_fused_formula_matches_the_meter_within_5_percent(measured, name):
    formula = memory(M, C, BYTES[name], CHUNK, D)["fused"]
    assert 0.95 * formula <= measured[name]["fused"] <= 1.05 * formula, measured[name]


def test_fused_reference_loss_and_gradients_match_autograd():
    torch.manual_seed(0)
    hidden, weight = torch.randn(64, 8), torch.randn(300, 8) / 4
    target = torch.randint(0, 300, (64,))
    loss, grad_hidden, grad_weight = fused_linear_loss(hidden, weight, target, 16)
    h, w = hidden.clone().requires_grad_(), weight.clone().requires_grad_()
    reference = F.cross_entropy(h @ w.T, target)
    reference.backward()
    torch.testing.assert_close(loss, reference)
    torch.testing.assert_close(grad_hidden, h.grad)
    torch.testing.assert_close(grad_weight, w.grad)
