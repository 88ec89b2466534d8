"""Chapter 11's chunk-size explorable: its peak against the memory meter, its weight traffic against a count of the
matrix products xentbook.fused.linear_cross_entropy (and the plain path) really run, and its Liger Kernel rule
against the chapter's."""

import ast
import inspect
import pathlib

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from xentbook.explorables import chunks
from xentbook.fused import default_chunk_size, linear_cross_entropy
from xentbook.measuring import memory_timeline

CHAPTER = pathlib.Path(__file__).resolve().parent.parent / "chapters" / "11_fused_linear.ipynb"
M, D, C = 96, 32, 1000  # small, and all different, so that a tensor's shape says what it is


def problem(m=M, d=D, classes=C, seed=0):
    """Seeded hidden states, output weight and targets (the weight scaled as in chapter 11)."""
    generator = torch.Generator().manual_seed(seed)
    hidden = torch.randn(m, d, generator=generator).requires_grad_()
    weight = (torch.randn(classes, d, generator=generator) / 8).requires_grad_()
    return hidden, weight, torch.randint(0, classes, (m,), generator=generator)


@pytest.mark.parametrize("chunk", [default_chunk_size(M, D), 7, 40, M, 500], ids=lambda c: f"chunk{c}")
def test_peak_formula_matches_the_meter_within_5_percent(chunk):
    """The gradients of W and h plus one chunk of logits (min(chunk, m) rows) are the fused loss's peak."""
    hidden, weight, target = problem()
    measured = max(memory_timeline(lambda: linear_cross_entropy(hidden, weight, target, chunk_size=chunk).backward()))
    formula = chunks.bill(M, D, C, chunk)["fused"]
    assert formula <= measured <= 1.05 * formula, (measured, formula)


class WeightTraffic(TorchDispatchMode):
    """Bytes of W (C x d) or of its gradient that the matrix products read (operands, an in-place product's own
    tensor) and write (their result), told apart by shape: m, d, C and the chunk are all different."""

    PRODUCTS = ("aten.mm.", "aten.addmm.", "aten.addmm_.", "aten.bmm.", "aten.matmul.", "aten.linear.")

    def __init__(self, shapes):
        super().__init__()
        self.shapes, self.bytes, self.products = shapes, 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if str(func).startswith(self.PRODUCTS):
            self.products += 1
            reads = [a for a in args if isinstance(a, torch.Tensor)]
            writes = [out] if isinstance(out, torch.Tensor) else list(out)
            self.bytes += sum(t.numel() * t.element_size() for t in reads + writes if tuple(t.shape) in self.shapes)
        return out


def traffic(step, d=D, classes=C):
    """What step() moves of the weight and its gradient, in bytes, and how many matrix products it ran."""
    counter = WeightTraffic({(classes, d), (d, classes)})
    with counter:
        step()
    return counter.bytes, counter.products


@pytest.mark.parametrize(("m", "chunk"), [(M, 7), (M, 16), (M, 48), (M, M), (M, 500), (37, 5)])
def test_traffic_formula_is_what_the_fused_loss_moves(m, chunk):
    hidden, weight, target = problem(m)
    moved, products = traffic(lambda: linear_cross_entropy(hidden, weight, target, chunk_size=chunk).backward())
    bill = chunks.bill(m, D, C, chunk)
    assert products == 3 * bill["chunks"]  # z_c = h_c W^T, g_c W, and g_c^T h_c added to the gradient of W
    assert moved == bill["fused_traffic"]


def test_traffic_formula_is_what_the_plain_path_moves():
    hidden, weight, target = problem()
    moved, products = traffic(lambda: F.cross_entropy(F.linear(hidden, weight), target).backward())
    assert products == 3 and moved == chunks.bill(M, D, C, 16)["plain_traffic"]


def test_liger_rule_is_the_chapters_letter_for_letter():
    """The explorable's liger_chunk_size is the one chapter 11 defines (in a cell with predicted_peak)."""
    import nbformat

    nb = nbformat.read(CHAPTER, as_version=4)
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "def liger_chunk_size" not in cell.source:
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef) and node.name == "liger_chunk_size":
                found.append(ast.get_source_segment(cell.source, node))
    assert found == [inspect.getsource(chunks.liger_chunk_size).strip()]


def test_the_explorable_is_in_chapter_11_and_starts_at_make_bench_s_size():
    import nbformat

    nb = nbformat.read(CHAPTER, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code" and "ChunksExplorable()" in c.source]
    assert len(cells) == 1 and "from xentbook.explorables.chunks import ChunksExplorable" in cells[0]
    widget = chunks.ChunksExplorable()
    assert (widget.tokens, widget.width, widget.vocabulary) == ("4096", "1024", "32000")
    assert widget.chunk == str(default_chunk_size(4096, 1024))
