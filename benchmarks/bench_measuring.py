"""The benchmark's measuring: time and page faults of interleaved passes, peak memory (the torch.profiler meter and a
fresh process's peak RSS), log-softmax accuracy, and what the machine is. Each function returns plain data for
the report (benchmarks/bench_report.py) and the goals (benchmarks/bench_goals.py); none decides anything.
"""

import os
import pathlib
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
import warnings

import torch
import torch.nn.functional as F

from bench_methods import FAMILIES, SMOOTHING, compiles, make_inputs
from xentbook.accuracy import ulp_report
from xentbook.measuring import memory_timeline, peak_memory

PAGE = resource.getpagesize()
SCRIPT = pathlib.Path(__file__).resolve().with_name("bench_xent.py")  # runs one RSS case in a fresh process

def clear_grads(inputs):
    """Drop the gradients, as optimizer.zero_grad() does by default."""
    for tensor in inputs.values():
        if tensor.requires_grad:
            tensor.grad = None


def timed_pass(method, inputs):
    """One forward + backward pass: seconds to the loss, seconds to the end of backward, minor faults, system time."""
    clear_grads(inputs)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    loss = method(inputs)
    forward = time.perf_counter() - start
    loss.backward()
    total = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    del loss
    clear_grads(inputs)  # freeing the gradients is not part of the timed pass
    return {"forward": forward, "forward+backward": total, "minor_faults": after.ru_minflt - before.ru_minflt,
            "system_s": after.ru_stime - before.ru_stime}


def spread(samples):
    """Median, min and max of a list of numbers."""
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def load_average():
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def time_family(family, size, names, threads, repeats, seed=0):
    """{name: record} for the named methods of a family at a number of threads, interleaved repetitions."""
    methods = {name: FAMILIES[family]()[name] for name in names}
    torch.set_num_threads(threads)
    small = make_inputs(family, (max(size[0] // 8, 1), *size[1:]), seed)
    for method in methods.values():  # warm-up at 1/8 of the rows
        timed_pass(method, small)
    del small
    inputs = make_inputs(family, size, seed)
    for name, method in methods.items():  # what compiles, compiles at the full size too, before the repetitions
        if compiles(name):
            timed_pass(method, inputs)
    load_before = load_average()
    samples = {name: [] for name in methods}
    order = list(methods)
    for repetition in range(repeats):
        shift = repetition % len(order)
        for name in order[shift:] + order[:shift]:
            samples[name].append(timed_pass(methods[name], inputs))
    load_after = load_average()
    records = {}
    for name, runs in samples.items():
        records[name] = {
            "method": name, "family": family, "size": "x".join(map(str, size)), "threads": threads,
            "repeats": repeats,
            "forward_ms": spread([r["forward"] * 1e3 for r in runs]),
            "forward_backward_ms": spread([r["forward+backward"] * 1e3 for r in runs]),
            "minor_faults_per_pass": spread([r["minor_faults"] for r in runs]),
            "system_ms_per_pass": spread([r["system_s"] * 1e3 for r in runs]),
            "samples": runs,
            "load_before": load_before, "load_after": load_after,
        }
    return records


def meter_check():
    """(measured, expected) peak bytes of a known pattern: take 4 MB and 8 MB, give back the 4 MB, take 2 MB."""

    def pattern():
        first = torch.empty(1_000_000)
        second = torch.empty(2_000_000)
        del first
        third = torch.empty(500_000)
        return second, third

    return peak_memory(pattern), 12_000_000


def forward_only(method, inputs):
    """One forward pass, recorded by autograd as in training; returns the loss, which holds the graph."""
    return method(inputs)


def forward_backward(method, inputs):
    """One forward and backward pass; the gradients are left in the inputs' .grad."""
    method(inputs).backward()


def measure_memory(family, size, names, seed=0):
    """{name: {forward, forward+backward: peak extra bytes, allocated: bytes allocated in forward+backward}}."""
    methods = FAMILIES[family]()
    inputs = make_inputs(family, size, seed)
    result = {}
    for name in names:
        if compiles(name):  # compiling is set-up, not the loss: it happens before the meter runs
            forward_backward(methods[name], inputs)
        clear_grads(inputs)
        forward = peak_memory(lambda: forward_only(methods[name], inputs))
        clear_grads(inputs)
        timeline = memory_timeline(lambda: forward_backward(methods[name], inputs))
        clear_grads(inputs)
        allocated = sum(max(b - a, 0) for a, b in zip(timeline, timeline[1:]))
        result[name] = {"forward": forward, "forward+backward": max(timeline), "allocated": allocated}
    return result


def _status_bytes(key):
    """A size from /proc/self/status (VmRSS, VmHWM), in bytes."""
    status = pathlib.Path("/proc/self/status").read_text()
    return int(re.search(rf"^{key}:\s+(\d+) kB", status, re.M).group(1)) * 1024


def rss_case(case, family, size, seed=0):
    """In this (fresh) process: the rise of peak RSS over one forward + backward pass of a method, or of 'known'."""
    if case == "known":  # one block of the family's output size: rows x classes float32
        pathlib.Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        base = _status_bytes("VmRSS")
        block = torch.ones(size[0], size[-1])  # ones, not empty: pages count in RSS only once written
        del block
    else:
        method = FAMILIES[family]()[case]
        forward_backward(method, make_inputs(family, (8, *size[1:]), seed))  # one-time set-up is not the loss's
        inputs = make_inputs(family, size, seed)
        pathlib.Path("/proc/self/clear_refs").write_text("5")
        base = _status_bytes("VmRSS")
        forward_backward(method, inputs)
    return _status_bytes("VmHWM") - base


def measure_rss(family, size, cases, seed=0):
    """{case: peak RSS rise in bytes}, each case in a fresh process.

    RSS tracks the meter closely only when every buffer is larger than glibc's largest mmap threshold (32 MB on
    64-bit Linux), so that malloc hands it straight to and from the operating system; smaller freed buffers may
    stay in the heap and still count.
    """
    results = {}
    for case in cases:
        command = [sys.executable, str(SCRIPT), "--rss-case", case, "--family", family,
                   "--size", "x".join(map(str, size)), "--seed", str(seed)]
        run = subprocess.run(command, capture_output=True, text=True, timeout=900,
                             env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())})
        if run.returncode != 0:
            raise RuntimeError(f"RSS case {case!r} failed:\n{run.stderr}")
        results[case] = int(run.stdout.strip().splitlines()[-1])
    return results


def measure_accuracy(classes, rows, seed=0):
    """{classes: {family: {method: (max ulps, mean ulps)}}} from xentbook.accuracy.ulp_report."""
    return {c: ulp_report(seed=seed, rows=rows if c <= 1000 else max(rows // 8, 1), cols=c) for c in classes}


def torch_chunked_refusals(family_size):
    """The warning torch's chunked path gives for label smoothing (it then runs the reference path), or None."""
    inputs = make_inputs("linear", (8, *family_size[1:]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.linear_cross_entropy(inputs["hidden"], inputs["weight"], inputs["target"], label_smoothing=SMOOTHING,
                               options=torch.nn.LinearCrossEntropyOptions())
    return str(caught[0].message) if caught else None


def cpu_name():
    """The processor's model name from /proc/cpuinfo, or the machine type."""
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", pathlib.Path("/proc/cpuinfo").read_text(), re.M)
    except OSError:
        match = None
    return match.group(1).strip() if match else platform.machine()


def transparent_hugepages():
    """The kernel's transparent huge page setting (the bracketed word), or 'unknown'."""
    try:
        text = pathlib.Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return "unknown"
    match = re.search(r"\[(\w+)\]", text)
    return match.group(1) if match else text.strip()
