"""Row-chunked cross entropy that writes its gradient during the forward pass (chapter 10), and a memory meter.

``ChunkedCrossEntropy`` and ``chunked_cross_entropy`` are defined, to the letter, in cells of
``chapters/10_large_vocab.ipynb``; ``tests/test_large_vocab.py`` checks that they match. The memory meter below
(``memory_timeline``, ``peak_memory``) is not the lesson: the chapter and ``benchmarks/bench_xent.py`` import it.
"""

import contextlib
import os
import sys

import torch


class ChunkedCrossEntropy(torch.autograd.Function):
    """Mean cross entropy, a chunk of rows at a time, with its gradient written during the forward pass."""

    @staticmethod
    def forward(ctx, logits, target, chunk_rows):
        m = logits.shape[0]
        grad_logits = torch.empty_like(logits)  # the one m x C buffer: it ends up as logits.grad
        row_losses = torch.empty(m, dtype=logits.dtype, device=logits.device)
        for start in range(0, m, chunk_rows):
            chunk = logits[start : start + chunk_rows]
            chunk_target = target[start : start + chunk_rows]
            rows = torch.arange(chunk.shape[0], device=logits.device)
            grad_chunk = grad_logits[start : start + chunk_rows]  # a view: this chunk's rows of the buffer
            row_max = chunk.max(dim=-1, keepdim=True).values
            torch.sub(chunk, row_max, out=grad_chunk)  # z - M, written straight into the buffer
            shifted_target = grad_chunk[rows, chunk_target]  # z_y - M (indexing with a tensor copies it out)
            grad_chunk.exp_()  # exp(z - M)
            sum_exp = grad_chunk.sum(dim=-1, keepdim=True)
            row_losses[start : start + chunk_rows] = torch.log(sum_exp[:, 0]) - shifted_target  # -log p_y
            grad_chunk.div_(sum_exp)  # p
            grad_chunk[rows, chunk_target] -= 1  # p - onehot
            grad_chunk.div_(m)  # (p - onehot) / m, the gradient of the mean
        ctx.grad_logits = grad_logits
        return row_losses.mean()

    @staticmethod
    def backward(ctx, grad_output):
        grad_logits = ctx.grad_logits
        del ctx.grad_logits  # hand the buffer to autograd rather than keep a second reference (backward runs once)
        if grad_output.item() != 1.0:  # loss.backward() sends 1.0: then there is nothing to scale
            grad_logits.mul_(grad_output)
        return grad_logits, None, None


def chunked_cross_entropy(logits, target, chunk_rows=64):
    """F.cross_entropy(logits, target) for m x C logits and class-index targets, chunk_rows rows at a time."""
    return ChunkedCrossEntropy.apply(logits, target, chunk_rows)


@contextlib.contextmanager
def _stderr_silenced():
    """Send file descriptor 2 to /dev/null for a while: the profiler writes two trace lines there, unasked."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _allocation_events(profiler):
    """Every CPU allocation (+bytes) and free (-bytes) the profiler saw, as (time in ns, address, bytes)."""
    from torch._C._profiler import _EventType

    events, stack = [], list(profiler.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.tag == _EventType.Allocation and node.extra_fields.device.type == "cpu":
            fields = node.extra_fields
            events.append((node.start_time_ns, fields.ptr, fields.alloc_size))
    return sorted(events)


def memory_timeline(fn):
    """Bytes that fn has allocated and not yet freed, after each of its allocations and frees (starts at 0).

    torch.profiler (profile_memory=True) records every allocation and free of PyTorch's CPU allocator, in order;
    replaying them gives the live bytes at every step. Tensors that existed before fn (its inputs) are not
    counted, and neither are their frees. Whatever fn returns is dropped before the profiler stops.
    """
    from torch.profiler import ProfilerActivity, profile

    with _stderr_silenced(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        fn()
    live, timeline, ours = 0, [0], set()
    for _, ptr, size in _allocation_events(profiler):
        if size > 0:
            ours.add(ptr)
        elif ptr in ours:
            ours.discard(ptr)
        else:
            continue  # the free of a tensor fn did not allocate
        live += size
        timeline.append(live)
    return timeline


def peak_memory(fn):
    """The most bytes fn had allocated at any one time (its own allocations only; see memory_timeline)."""
    return max(memory_timeline(fn))
