"""Benchmark the book's cross entropies side by side with F.cross_entropy: time, peak memory, accuracy.

    python benchmarks/bench_xent.py            # full run: a minute or two on 2 cores; writes _build/bench.md
    python benchmarks/bench_xent.py --quick    # small sizes, few repetitions: a few seconds

The methods are chapter 4's from-scratch ``nll(log_softmax(x), target)``, chapter 10's ``chunked_cross_entropy``
and ``F.cross_entropy``. Every figure comes from one run in which the methods take turns, repetition after
repetition, so that a slow moment of the machine hits them all alike; times are medians.

* **Time**: the forward pass (with autograd recording, as in training) and the forward + backward pass, each as a
  ratio to F.cross_entropy's. The chunked loss computes its gradient in its forward pass, so its "forward" already
  holds most of its work.
* **Peak extra memory**: the most bytes a method holds at once beyond its inputs, the gradient buffer included
  (F.cross_entropy's backward makes one too). Measured with ``xentbook.chunked.peak_memory``, which replays the
  allocations and frees that torch.profiler records; the meter is first checked on a known allocation pattern.
  The full run cross-checks it with a second, independent method: the rise of the peak resident set size (VmHWM,
  reset through /proc/self/clear_refs) of a fresh process that runs one forward + backward pass.
* **Accuracy**: max and mean float32 ulps of each log-softmax variant on each input family of chapter 9
  (``xentbook.accuracy.ulp_report``).
"""

import argparse
import os
import pathlib
import platform
import re
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from xentbook.chunked import chunked_cross_entropy
from xentbook.measuring import peak_memory
from xentbook.scratch import log_softmax, nll

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "_build" / "bench.md"
CHUNK_ROWS = 64
BASELINE = "F.cross_entropy"
MEMORY_GOAL = 0.4  # chunked forward + backward peak, at most this fraction of F.cross_entropy's
ULP_GOAL = 4.0  # log_softmax_log1p, max ulps on every family

# ulp_shape has 1000 columns: with chapter 9's 100, log_softmax_log1p reaches about 6 ulps on the dominant family.
QUICK = {"time_shape": (512, 8000), "repeats": 5, "memory_shape": (512, 8000), "ulp_shape": (256, 1000),
         "rss": False}
FULL = {"time_shape": (4096, 32000), "repeats": 7, "memory_shape": (4096, 32000), "ulp_shape": (4096, 1000),
        "rss": True}


def scratch_cross_entropy(logits, target):
    """Chapter 4's from-scratch stable cross entropy: nll(log_softmax(logits), target)."""
    return nll(log_softmax(logits), target)


def chunked(logits, target):
    """Chapter 10's chunked cross entropy, CHUNK_ROWS rows at a time."""
    return chunked_cross_entropy(logits, target, chunk_rows=CHUNK_ROWS)


METHODS = {
    "from scratch: nll(log_softmax)": scratch_cross_entropy,
    f"chunked_cross_entropy ({CHUNK_ROWS} rows)": chunked,
    BASELINE: F.cross_entropy,
}
CHUNKED = f"chunked_cross_entropy ({CHUNK_ROWS} rows)"


def make_batch(rows, classes, seed=0):
    """Seeded standard-normal float32 logits (a leaf that requires grad) and random class-index targets."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, classes, generator=generator).requires_grad_()
    target = torch.randint(0, classes, (rows,), generator=generator)
    return logits, target


def forward_only(method, logits, target):
    """One forward pass, recorded by autograd as in training; returns the loss, which holds the graph."""
    return method(logits, target)


def forward_backward(method, logits, target):
    """One forward and backward pass; the gradient is left in logits.grad."""
    method(logits, target).backward()


PASSES = {"forward": forward_only, "forward+backward": forward_backward}


def measure_times(rows, classes, repeats, seed=0):
    """{method: {pass: median seconds}}, the methods taking turns in every repetition (after one warm-up)."""
    logits, target = make_batch(rows, classes, seed)
    samples = {name: {p: [] for p in PASSES} for name in METHODS}
    for repetition in range(repeats + 1):
        for name, method in METHODS.items():
            for pass_name, run in PASSES.items():
                logits.grad = None
                start = time.perf_counter()
                kept = run(method, logits, target)
                elapsed = time.perf_counter() - start
                del kept  # freeing the forward's graph and buffers is not part of the timed pass
                if repetition > 0:  # repetition 0 warms up
                    samples[name][pass_name].append(elapsed)
    logits.grad = None
    return {name: {p: statistics.median(s) for p, s in passes.items()} for name, passes in samples.items()}


def meter_check():
    """(measured, expected) peak bytes of a known pattern: take 4 MB and 8 MB, give back the 4 MB, take 2 MB."""

    def pattern():
        first = torch.empty(1_000_000)
        second = torch.empty(2_000_000)
        del first
        third = torch.empty(500_000)
        return second, third

    return peak_memory(pattern), 12_000_000


def measure_memory(rows, classes, seed=0):
    """{method: {pass: peak extra bytes}} at rows x classes float32, inputs not counted, gradient counted."""
    logits, target = make_batch(rows, classes, seed)
    peaks = {}
    for name, method in METHODS.items():
        peaks[name] = {}
        for pass_name, run in PASSES.items():
            logits.grad = None
            peaks[name][pass_name] = peak_memory(lambda: run(method, logits, target))
    return peaks


def _status_bytes(key):
    """A size from /proc/self/status (VmRSS, VmHWM), in bytes."""
    status = pathlib.Path("/proc/self/status").read_text()
    return int(re.search(rf"^{key}:\s+(\d+) kB", status, re.M).group(1)) * 1024


def rss_case(case, rows, classes, seed=0):
    """In this (fresh) process: the rise of peak RSS over one forward + backward pass of a method, or of 'known'."""
    if case == "known":
        pathlib.Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        base = _status_bytes("VmRSS")
        block = torch.ones(rows, classes)  # ones, not empty: pages count in RSS only once written
        del block
    else:
        small_logits, small_target = make_batch(8, 100, seed)
        forward_backward(METHODS[case], small_logits, small_target)  # warm up: one-time set-up is not the loss's
        logits, target = make_batch(rows, classes, seed)
        pathlib.Path("/proc/self/clear_refs").write_text("5")
        base = _status_bytes("VmRSS")
        forward_backward(METHODS[case], logits, target)
    return _status_bytes("VmHWM") - base


def measure_rss(rows, classes, seed=0, cases=None):
    """{case: peak RSS rise in bytes}, each case in a fresh process; 'known' is a rows x classes float32 block.

    RSS tracks the meter closely only when every buffer is larger than glibc's largest mmap threshold (32 MB on
    64-bit Linux), so that malloc hands it straight to and from the operating system; smaller freed buffers may
    stay in the heap and still count.
    """
    results = {}
    for case in cases or ["known", *METHODS]:
        command = [sys.executable, str(pathlib.Path(__file__).resolve()), "--rss-case", case,
                   "--rows", str(rows), "--classes", str(classes), "--seed", str(seed)]
        run = subprocess.run(command, capture_output=True, text=True, timeout=600,
                             env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())})
        if run.returncode != 0:
            raise RuntimeError(f"RSS case {case!r} failed:\n{run.stderr}")
        results[case] = int(run.stdout.strip())
    return results


def measure_accuracy(rows, cols, seed=0):
    """xentbook.accuracy.ulp_report: {family: {method: (max ulps, mean ulps)}}."""
    from xentbook.accuracy import ulp_report

    return ulp_report(seed=seed, rows=rows, cols=cols)


def cpu_name():
    """The processor's model name from /proc/cpuinfo, or the machine type."""
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", pathlib.Path("/proc/cpuinfo").read_text(), re.M)
    except OSError:
        match = None
    return match.group(1).strip() if match else platform.machine()


def _md_table(header, rows):
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render(results, config, quick):
    """The benchmark's report, in markdown."""
    (t_rows, t_cols), (m_rows, m_cols), (u_rows, u_cols) = (
        config["time_shape"], config["memory_shape"], config["ulp_shape"])
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    out = [
        f"# Cross entropy benchmark ({'quick' if quick else 'full'})",
        "",
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu_name()}, "
        f"{os.cpu_count()} CPUs, load average before the run {results['load']} (after: {load}).",
        "",
    ]

    times = results["times"]
    base = times[BASELINE]
    out += [
        f"## Time, {t_rows} x {t_cols} float32 (median of {config['repeats']} interleaved repetitions)",
        "",
        _md_table(
            ["method", "forward (ms)", "forward / F.cross_entropy", "forward+backward (ms)",
             "forward+backward / F.cross_entropy"],
            [[name, f"{t['forward'] * 1e3:.1f}", f"{t['forward'] / base['forward']:.2f}",
              f"{t['forward+backward'] * 1e3:.1f}", f"{t['forward+backward'] / base['forward+backward']:.2f}"]
             for name, t in times.items()],
        ),
        "",
    ]
    time_ratio = times[CHUNKED]["forward+backward"] / base["forward+backward"]
    out.append(f"Goal, chunked forward+backward no slower than F.cross_entropy: measured {time_ratio:.2f}x, "
               f"{'met' if time_ratio <= 1 else 'NOT met'}.")
    out.append("")

    memory = results["memory"]
    buffer = m_rows * m_cols * 4
    measured, expected = results["meter"]
    base_peak = memory[BASELINE]["forward+backward"]
    header = ["method", "forward (MB)", "forward+backward (MB)", "forward+backward (m x C buffers)",
              "forward+backward / F.cross_entropy"]
    rss = results.get("rss")
    if rss:
        header.append("forward+backward, peak RSS rise of a fresh process (MB)")
    rows = []
    for name, peaks in memory.items():
        row = [name, f"{peaks['forward'] / 1e6:.1f}", f"{peaks['forward+backward'] / 1e6:.1f}",
               f"{peaks['forward+backward'] / buffer:.3f}", f"{peaks['forward+backward'] / base_peak:.3f}"]
        if rss:
            row.append(f"{rss[name] / 1e6:.1f}")
        rows.append(row)
    out += [
        f"## Peak extra memory, {m_rows} x {m_cols} float32 (one m x C buffer = {buffer / 1e6:.1f} MB)",
        "",
        f"Meter check (torch.profiler replay) on a known pattern: peak {measured / 1e6:.3f} MB measured, "
        f"{expected / 1e6:.3f} MB expected.",
    ]
    if rss:
        out.append(f"RSS check: a fresh process writing one {m_rows} x {m_cols} float32 block rose by "
                   f"{rss['known'] / 1e6:.1f} MB (the block is {buffer / 1e6:.1f} MB).")
    out += ["", _md_table(header, rows), ""]
    memory_ratio = memory[CHUNKED]["forward+backward"] / base_peak
    out.append(f"Goal, chunked forward+backward peak at most {MEMORY_GOAL} x F.cross_entropy's: measured "
               f"{memory_ratio:.3f}, {'met' if memory_ratio <= MEMORY_GOAL else 'NOT met'}.")
    out.append("")

    report = results["ulps"]
    out += [
        f"## Log-softmax accuracy, float32 ulps (xentbook.accuracy.ulp_report, seed 0, {u_rows} x {u_cols})",
        "",
        _md_table(["family", "method", "max ulps", "mean ulps"],
                  [[family, name, f"{largest:.1f}", f"{mean:.2f}"]
                   for family, methods in report.items() for name, (largest, mean) in methods.items()]),
        "",
    ]
    worst = max(methods["log_softmax_log1p"][0] for methods in report.values())
    out.append(f"Goal, log_softmax_log1p at most {ULP_GOAL:g} ulps on every family: worst {worst:.1f}, "
               f"{'met' if worst <= ULP_GOAL else 'NOT met'}.")
    return "\n".join(out) + "\n"


def run(quick=False):
    """Run every measurement of one configuration; returns (results, config)."""
    config = QUICK if quick else FULL
    results = {"load": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    results["meter"] = meter_check()
    results["memory"] = measure_memory(*config["memory_shape"])
    if config["rss"]:
        results["rss"] = measure_rss(*config["memory_shape"])
    results["times"] = measure_times(*config["time_shape"], repeats=config["repeats"])
    results["ulps"] = measure_accuracy(*config["ulp_shape"])
    return results, config


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, few repetitions")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT, help="where to write the markdown table")
    parser.add_argument("--rss-case", help=argparse.SUPPRESS)  # internal: one RSS measurement in a fresh process
    parser.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--classes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_case:
        print(rss_case(args.rss_case, args.rows, args.classes, args.seed))
        return 0
    results, config = run(quick=args.quick)
    text = render(results, config, args.quick)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
