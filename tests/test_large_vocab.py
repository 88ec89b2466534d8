"""Chapter 10's code: the chunked cross entropy and the vocabulary-parallel loss on real processes."""

import os
import re
import subprocess
import sys
import time

import pytest
import torch
import torch.nn.functional as F

from xentbook import vocab_parallel
from helpers import free_port
from xentbook.chunked import chunked_cross_entropy
from xentbook.measuring import memory_timeline, peak_memory
from xentbook.example import running_example
from xentbook.vocab_parallel import class_range, make_logits



def batch(rows, classes, seed, scale=1.0, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    logits = (scale * torch.randn(rows, classes, generator=generator, dtype=torch.float64)).to(dtype)
    target = torch.randint(0, classes, (rows,), generator=generator)
    return logits, target


def loss_and_grad(loss_fn, logits, target, **options):
    leaf = logits.clone().requires_grad_()
    loss = loss_fn(leaf, target, **options)
    loss.backward()
    return loss.detach(), leaf.grad


@pytest.mark.parametrize(
    "rows, classes, chunk_rows",
    [(512, 8000, 100), (512, 8000, 64), (37, 1000, 5), (1, 5, 7), (300, 32003, 64), (1000, 50, 999), (64, 128256, 7),
     (10, 3, 1)],
)
@pytest.mark.parametrize("scale", [1.0, 10.0, 100.0])
def test_chunked_loss_and_gradient_match_f_cross_entropy(rows, classes, chunk_rows, scale):
    logits, target = batch(rows, classes, seed=rows + classes, scale=scale)
    loss, grad = loss_and_grad(chunked_cross_entropy, logits, target, chunk_rows=chunk_rows)
    expected_loss, expected_grad = loss_and_grad(F.cross_entropy, logits, target)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-5)


def test_chunked_loss_matches_f_cross_entropy_in_float64():
    logits, target = batch(200, 3000, seed=1, scale=5.0, dtype=torch.float64)
    loss, grad = loss_and_grad(chunked_cross_entropy, logits, target, chunk_rows=33)
    expected_loss, expected_grad = loss_and_grad(F.cross_entropy, logits, target)
    torch.testing.assert_close(loss, expected_loss, rtol=1e-13, atol=0)
    torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-14)


def test_chunked_loss_of_the_running_example_is_1_3577():
    logits, target = running_example()
    for chunk_rows in (1, 2, 5, 64):
        assert f"{chunked_cross_entropy(logits, target, chunk_rows=chunk_rows).item():.4f}" == "1.3577"


def test_chunked_backward_scales_the_gradient_by_grad_output():
    logits, target = batch(96, 500, seed=3)
    leaf = logits.clone().requires_grad_()
    (2.5 * chunked_cross_entropy(leaf, target, chunk_rows=10)).backward()
    _, expected_grad = loss_and_grad(F.cross_entropy, logits, target)
    torch.testing.assert_close(leaf.grad, 2.5 * expected_grad, rtol=0, atol=1e-5)


def test_chunked_loss_adds_into_an_existing_gradient():
    logits, target = batch(64, 300, seed=4)
    leaf = logits.clone().requires_grad_()
    chunked_cross_entropy(leaf, target, chunk_rows=16).backward()
    chunked_cross_entropy(leaf, target, chunk_rows=16).backward()
    _, expected_grad = loss_and_grad(F.cross_entropy, logits, target)
    torch.testing.assert_close(leaf.grad, 2 * expected_grad, rtol=0, atol=1e-5)


def test_chunked_forward_backward_holds_one_logits_sized_buffer_and_f_cross_entropy_three():
    logits, target = batch(512, 8000, seed=0)
    buffer = logits.numel() * logits.element_size()
    leaf = logits.clone().requires_grad_()
    chunked_peak = peak_memory(lambda: chunked_cross_entropy(leaf, target, chunk_rows=64).backward())
    leaf.grad = None
    baseline_peak = peak_memory(lambda: F.cross_entropy(leaf, target).backward())
    assert buffer <= chunked_peak < 1.01 * buffer
    assert baseline_peak == pytest.approx(3 * buffer, rel=0.01)


def test_memory_timeline_ignores_frees_of_tensors_made_before_it():
    made_before = [torch.empty(1_000_000)]

    def frees_an_old_tensor_and_makes_a_new_one():
        made_before.clear()
        return torch.empty(250_000)

    assert memory_timeline(frees_an_old_tensor_and_makes_a_new_one) == [0, 1_000_000, 0]


def test_memory_meter_refuses_a_torch_version_it_was_not_checked_with(monkeypatch):
    monkeypatch.setattr(torch, "__version__", "2.14.0+cpu")
    with pytest.raises(RuntimeError, match=r"checked with torch 2\.13; this is torch 2\.14\.0\+cpu"):
        peak_memory(lambda: torch.empty(10))


@pytest.mark.parametrize("classes, world_size", [(50257, 2), (1001, 3), (5, 4), (3, 3)])
def test_class_ranges_are_contiguous_cover_every_class_and_differ_by_at_most_one(classes, world_size):
    ranges = [class_range(classes, rank, world_size) for rank in range(world_size)]
    assert ranges[0][0] == 0 and ranges[-1][1] == classes
    assert all(ranges[r][1] == ranges[r + 1][0] for r in range(world_size - 1))
    sizes = [stop - start for start, stop in ranges]
    assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("processes, rows, classes", [(2, 64, 50257), (3, 50, 1001)])
def test_vocab_parallel_loss_on_real_processes_matches_f_cross_entropy(processes, rows, classes, tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
               "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
               "-m", "xentbook.vocab_parallel", "--rows", str(rows), "--classes", str(classes), "--seed", "7"]
    start = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    elapsed = time.monotonic() - start
    assert run.returncode == 0, run.stderr[-4000:]
    assert elapsed < 60
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{vocab_parallel.RESULT_PREFIX} {processes} processes: ")
    distributed_loss = torch.tensor(float(re.search(r"processes: (\S+)$", lines[0]).group(1)))
    logits, target = make_logits(seed=7, rows=rows, classes=classes)
    torch.testing.assert_close(distributed_loss, F.cross_entropy(logits, target))
