"""Measuring equipment, apart from the lesson code: a meter of the bytes a function allocates.

``memory_timeline`` and ``peak_memory`` are what chapter 10, its tests and ``benchmarks/bench_xent.py`` use to
measure memory. They read torch.profiler's allocation records through a private torch API
(``torch._C._profiler`` and the profiler's ``kineto_results``), which may change in any torch release: the meter
was checked with torch 2.13 and refuses, with a clear error, to run under any other version.
"""

import contextlib
import os
import sys

import torch

CHECKED_TORCH = "2.13"  # the torch version (major.minor) whose private profiler API the meter was checked with


def _check_torch_version():
    """Raise a RuntimeError unless torch is the version whose private profiler API the meter was checked with."""
    version = torch.__version__.split("+")[0]
    if ".".join(version.split(".")[:2]) != CHECKED_TORCH:
        raise RuntimeError(
            f"xentbook.measuring reads torch.profiler's allocation records through a private torch API "
            f"(torch._C._profiler, kineto_results) that was checked with torch {CHECKED_TORCH}; this is torch "
            f"{torch.__version__}. Check the meter against a known allocation pattern (tests/test_large_vocab.py) "
            f"before changing CHECKED_TORCH."
        )


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
    _check_torch_version()
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
    _check_torch_version()
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
