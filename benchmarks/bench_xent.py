"""Benchmark the book's cross entropies next to PyTorch's: time, page faults, peak memory, accuracy.

    python benchmarks/bench_xent.py            # full run (make bench): minutes; bench.md says how long it took
    python benchmarks/bench_xent.py --quick    # small sizes: a few seconds; what tests/test_bench.py runs

Writes _build/bench.md (the tables and the goals) and _build/bench.json (every record, every sample).

Two families of methods, each on its own size:

* **logits** (4096 x 32000 float32 logits, the gradient wanted for the logits): chapter 4's from-scratch
  ``nll(log_softmax)``, ``F.cross_entropy``, chapter 10's ``chunked_cross_entropy``, and, for chapter 9,
  ``F.nll_loss`` on ``F.log_softmax`` and on ``log_softmax_log1p``.
* **linear** (4096 x 1024 hidden states into 32000 classes, the gradients wanted for the hidden states and the
  weight): ``F.linear`` + ``F.cross_entropy``, torch's ``F.linear_cross_entropy`` (reference path, and chunked
  through ``torch.nn.LinearCrossEntropyOptions()``), the book's fused ``linear_cross_entropy`` at its default chunk
  size and at the chunk sizes of ``SWEEP_ROWS`` (memory against time).

Label smoothing off and on, z-loss on for the fused loss and for the plain path it is compared with.

How each figure is taken:

* **Time.** Every repetition runs every method once, in an order that rotates from one repetition to the next, so
  that a slow moment of a shared machine hits all methods alike. One pass is a forward (recorded by autograd, as
  in training) and a backward: "forward" is the time until the loss is returned, "forward+backward" the time
  until the backward has finished. The gradients are set to None before each pass (as ``zero_grad`` does), so
  every pass allocates its gradient buffers afresh. Reported: median, min and max of the repetitions. Before the
  repetitions, every method runs once at 1/8 of the rows (library set-up is not the loss's).
* **Page faults.** ``resource.getrusage``'s minor page faults (``ru_minflt``) and system CPU time around each pass:
  a freshly allocated buffer above glibc's mmap threshold comes from the kernel, and each of its 4 kB pages costs
  a fault the first time it is written.
* **Peak extra memory.** ``xentbook.measuring.peak_memory`` replays the allocations and frees that
  torch.profiler records (inputs not counted, gradients counted); it is first checked on a known pattern. The
  full run cross-checks the main methods with the peak RSS rise of a fresh process (VmHWM, reset through
  /proc/self/clear_refs).
* **Accuracy.** Max float32 ulps of each log-softmax on chapter 9's three input families at 10, 100, 1000 and
  32000 classes (``xentbook.accuracy.ulp_report``).

The goals are decided from the spread, never from a single number: a time goal "A <= k B" is met when even A's
slowest repetition is within k times B's fastest, not met when A's fastest is beyond k times B's slowest, and
otherwise "not supported by the spread".
"""

import argparse
import datetime
import inspect
import json
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

from xentbook.accuracy import LOG1P_ULP_BOUND, log_softmax_log1p, ulp_report
from xentbook.chunked import chunked_cross_entropy
from xentbook.measuring import memory_timeline, peak_memory
from xentbook.scratch import log_softmax, nll

try:
    from xentbook.fused import default_chunk_size, linear_cross_entropy
except ImportError:  # the fused loss is not in this version of the package
    default_chunk_size = linear_cross_entropy = None

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "_build" / "bench.md"
PAGE = resource.getpagesize()
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
    return methods


def fused_chunk(rows):
    """The name of the fused loss with a chunk size other than its default."""
    return f"{FUSED}, chunks of {rows} rows"


def _plain_with_z_loss(inputs):
    """F.linear + F.cross_entropy + the z-loss term, the logits built once."""
    logits = F.linear(inputs["hidden"], inputs["weight"])
    return F.cross_entropy(logits, inputs["target"]) + z_term(logits)


FAMILIES = {"logits": logits_methods, "linear": linear_methods}

QUICK = {
    "sizes": {"logits": (512, 4000), "linear": (2048, 32, 2000)},
    "repeats": 3,
    "threads": {"logits": {1: "all", 2: [CROSS_ENTROPY, CHUNKED]}, "linear": {1: "all", 2: [PLAIN, FUSED]}},
    "ulp_classes": (10, 100, 1000),
    "ulp_rows": 200,
    "rss": False,
}
FULL = {
    "sizes": {"logits": (4096, 32000), "linear": (4096, 1024, 32000)},
    "repeats": 7,
    # Each linear-family pass is three (4096 x 1024) x (1024 x 32000) matrix products: at one thread only the
    # plain path and the fused loss are timed, to keep the run near 10 minutes.
    "threads": {"logits": {1: "all", 2: "all"}, "linear": {1: [PLAIN, FUSED], 2: "all"}},
    "ulp_classes": (10, 100, 1000, 32000),
    "ulp_rows": 1000,
    "rss": True,
}
RSS_CASES = [SCRATCH, CROSS_ENTROPY, CHUNKED, PLAIN, FUSED]


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
        command = [sys.executable, str(pathlib.Path(__file__).resolve()), "--rss-case", case, "--family", family,
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


def time_goal(slow, fast, factor):
    """Verdict on "slow's forward+backward time <= factor x fast's", from the two min/max ranges."""
    a, b = slow["forward_backward_ms"], fast["forward_backward_ms"]
    if a["max"] <= factor * b["min"]:
        verdict = "met"
    elif a["min"] > factor * b["max"]:
        verdict = "not met"
    else:
        verdict = "not supported by the spread"
    return {"median": a["median"] / b["median"], "min": a["min"] / b["max"], "max": a["max"] / b["min"],
            "verdict": verdict}


def memory_goal(memory, name, baseline, factor):
    """Verdict on "name's forward+backward peak <= factor x baseline's" (the meter is exact: no spread)."""
    ratio = memory[name]["forward+backward"] / memory[baseline]["forward+backward"]
    return {"ratio": ratio, "verdict": "met" if ratio <= factor else "not met"}


def evaluate_goals(records, memory):
    """The issue's goals, each with its measured figure and verdict (a goal whose methods were not run is left out)."""
    goals = []

    def timing(name, baseline, threads, factor, text):
        key, base_key = (name, threads), (baseline, threads)
        if key in records and base_key in records:
            goals.append({"goal": text, "kind": "time", "threads": threads, "factor": factor,
                          **time_goal(records[key], records[base_key], factor)})

    def peak(name, baseline, factor, text):
        if name in memory and baseline in memory:
            goals.append({"goal": text, "kind": "memory", "factor": factor,
                          **memory_goal(memory, name, baseline, factor)})

    for suffix in ("", LS, Z):
        peak(FUSED + suffix, PLAIN + suffix, 0.1,
             f"fused forward+backward peak extra memory <= 0.1 x {PLAIN + suffix}'s")
    peak(CHUNKED, CROSS_ENTROPY, 0.4, f"chunked forward+backward peak extra memory <= 0.4 x {CROSS_ENTROPY}'s")
    peak(CHUNKED + LS, CROSS_ENTROPY + LS, 0.4,
         f"chunked{LS} forward+backward peak extra memory <= 0.4 x {CROSS_ENTROPY + LS}'s")
    timing(FUSED, PLAIN, 2, 1.1, f"fused forward+backward time <= 1.1 x {PLAIN}'s, 2 threads")
    timing(FUSED, TORCH_CHUNKED, 2, 1.0, f"fused forward+backward time faster than {TORCH_CHUNKED}, 2 threads")
    return goals


def run(config, log=print):
    """Every measurement of one configuration: a dict ready for json."""
    started = time.time()
    results = {
        "meta": {
            "torch": torch.__version__, "cpu": cpu_name(), "cpus": os.cpu_count(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "platform": platform.platform(),
            "transparent_hugepages": transparent_hugepages(), "page_bytes": PAGE,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_before": load_average(), "repeats": config["repeats"],
            "sizes": {family: list(size) for family, size in config["sizes"].items()},
        },
    }
    threads_before = torch.get_num_threads()
    measured, expected = meter_check()
    results["meter_check"] = {"measured": measured, "expected": expected}
    results["memory"] = {}
    for family, size in config["sizes"].items():
        log(f"memory: {family} {size}")
        results["memory"][family] = measure_memory(family, size, list(FAMILIES[family]()))
        for name, peaks in results["memory"][family].items():
            log(f"  {name}: {peaks['forward+backward'] / 1e6:.1f} MB")
    if config["rss"]:
        results["rss"] = {}
        for family, size in config["sizes"].items():
            cases = ["known"] + [c for c in RSS_CASES if c in FAMILIES[family]()]
            log(f"peak RSS of fresh processes: {family} {size}")
            results["rss"][family] = measure_rss(family, size, cases)
    results["torch_chunked_label_smoothing"] = torch_chunked_refusals(config["sizes"]["linear"])
    records = []
    for family, size in config["sizes"].items():
        available = list(FAMILIES[family]())
        for threads, names in sorted(config["threads"][family].items()):
            names = available if names == "all" else [n for n in names if n in available]
            log(f"time: {family} {size}, {threads} threads, {len(names)} methods x {config['repeats']} repetitions")
            timed = time_family(family, size, names, threads, config["repeats"])
            for name, record in timed.items():
                log(f"  {name}: forward+backward {_ms(record['forward_backward_ms'])} ms, "
                    f"faults {_faults(record['minor_faults_per_pass'])}, load {record['load_after']}")
            for name, record in timed.items():
                memory = results["memory"][family][name]
                record["peak_extra_bytes"] = {"forward": memory["forward"],
                                              "forward_backward": memory["forward+backward"]}
                record["allocated_bytes_per_pass"] = memory["allocated"]
                rss = results.get("rss", {}).get(family, {}).get(name)
                if rss is not None:
                    record["peak_rss_rise_bytes"] = rss
                records.append(record)
    torch.set_num_threads(threads_before)
    results["records"] = records
    log("accuracy")
    results["ulps"] = measure_accuracy(config["ulp_classes"], config["ulp_rows"])
    by_key = {(r["method"], r["threads"]): r for r in records}
    memory = {name: m for family in results["memory"].values() for name, m in family.items()}
    results["goals"] = evaluate_goals(by_key, memory)
    worst = max(methods["log_softmax_log1p"][0] for report in results["ulps"].values()
                for methods in report.values())
    results["goals"].append({"goal": f"log_softmax_log1p within {LOG1P_ULP_BOUND} ulps on every family at "
                                     f"{', '.join(map(str, config['ulp_classes']))} classes",
                             "kind": "accuracy", "worst": worst,
                             "verdict": "met" if worst <= LOG1P_ULP_BOUND else "not met"})
    results["meta"]["load_after"] = load_average()
    results["meta"]["elapsed_s"] = round(time.time() - started, 1)
    return results


def _md_table(header, rows):
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(figure):
    """'median [min, max]' in milliseconds."""
    return f"{figure['median']:.0f} [{figure['min']:.0f}, {figure['max']:.0f}]"


def _faults(figure):
    """Median minor faults per pass, in thousands, with the range."""
    return f"{figure['median'] / 1e3:.0f}k [{figure['min'] / 1e3:.0f}k, {figure['max'] / 1e3:.0f}k]"


def render(results, quick):
    """The benchmark's report, in markdown."""
    meta = results["meta"]
    out = [
        f"# Cross entropy benchmark ({'quick' if quick else 'full'})",
        "",
        f"torch {meta['torch']} ({meta['cpu_capability']} kernels), {meta['cpu']}, {meta['cpus']} CPUs, "
        f"transparent huge pages: {meta['transparent_hugepages']}; {meta['date']}; the run took "
        f"{meta['elapsed_s']:.0f} s. Load average (1, 5, 15 min) before the run {meta['load_before']}, after "
        f"{meta['load_after']}; each timing block below gives its own. With a load above the number of CPUs, "
        f"other processes share the cores and the times (not the memory or the page faults) are inflated.",
        "",
        f"Times are median [min, max] over {meta['repeats']} interleaved repetitions, in ms. One pass = forward "
        f"(autograd recording) + backward, gradients set to None before it; \"forward\" is the time until the loss "
        f"is returned. Faults are minor page faults (ru_minflt) per forward+backward pass; a {meta['page_bytes']}-"
        f"byte page is faulted in the first time a freshly mapped buffer is written.",
        "",
    ]
    records = results["records"]
    for family, size in meta["sizes"].items():
        shape = " x ".join(map(str, size))
        what = "float32 logits" if family == "logits" else "float32 hidden states x hidden x classes"
        baseline = CROSS_ENTROPY if family == "logits" else PLAIN
        out += [f"## {family}: {shape} {what}", ""]
        for threads in sorted({r["threads"] for r in records if r["family"] == family}):
            block = [r for r in records if r["family"] == family and r["threads"] == threads]
            base = next((r for r in block if r["method"] == baseline), None)
            rows = []
            for r in block:
                ratio = (f"{r['forward_backward_ms']['median'] / base['forward_backward_ms']['median']:.2f}"
                         if base else "")
                rows.append([r["method"], _ms(r["forward_ms"]), _ms(r["forward_backward_ms"]), ratio,
                             _faults(r["minor_faults_per_pass"]), f"{r['system_ms_per_pass']['median']:.0f}"])
            out += [f"### Time, {threads} thread{'s' if threads > 1 else ''} (load {block[0]['load_before']} "
                    f"before, {block[0]['load_after']} after)", "",
                    _md_table(["method", "forward (ms)", "forward+backward (ms)",
                               f"forward+backward / {baseline} (medians)", "minor faults per pass",
                               "system time per pass (ms, median)"], rows), ""]
        memory = results["memory"][family]
        rss = results.get("rss", {}).get(family, {})
        buffer = size[0] * size[-1] * 4
        header = ["method", "forward (MB)", "forward+backward (MB)", f"forward+backward / {baseline}",
                  "allocated per pass (MB)", "allocated / page size (thousands)"]
        if rss:
            header.append("peak RSS rise of a fresh process (MB)")
        rows = []
        for name, m in memory.items():
            row = [name, f"{m['forward'] / 1e6:.1f}", f"{m['forward+backward'] / 1e6:.1f}",
                   f"{m['forward+backward'] / memory[baseline]['forward+backward']:.3f}",
                   f"{m['allocated'] / 1e6:.0f}", f"{m['allocated'] / PAGE / 1e3:.0f}k"]
            if rss:
                row.append(f"{rss[name] / 1e6:.1f}" if name in rss else "")
            rows.append(row)
        out += [f"### Peak extra memory ({size[0]} x {size[-1]} float32 = {buffer / 1e6:.1f} MB)", "",
                _md_table(header, rows), ""]
        if rss:
            out += [f"RSS check: a fresh process writing one {size[0]} x {size[-1]} float32 block rose by "
                    f"{rss['known'] / 1e6:.1f} MB (the block is {buffer / 1e6:.1f} MB).", ""]
    measured, expected = results["meter_check"]["measured"], results["meter_check"]["expected"]
    out += [f"Memory meter check (torch.profiler replay) on a known pattern: peak {measured / 1e6:.3f} MB measured, "
            f"{expected / 1e6:.3f} MB expected. Memory does not depend on the thread count; it is measured once.", ""]
    if results.get("torch_chunked_label_smoothing"):
        out += [f"torch's chunked path does not take label smoothing: it warns "
                f"\"{results['torch_chunked_label_smoothing'].split('. Got')[0]}\" and runs the reference path, so "
                f"it has no label-smoothing row.", ""]

    out += ["## Page faults", "",
            "A buffer larger than glibc's mmap threshold (at most 32 MB) is mapped fresh from the kernel when it is "
            "allocated and unmapped when it is freed, so a pass faults in every page of every such buffer it writes, "
            "and the kernel zeroes each one: that is system time, inside the measured time. The pages a pass "
            "allocates (the memory meter's total) next to the faults it took, at the largest thread count:", ""]
    rows = []
    for family in meta["sizes"]:
        block = [r for r in records if r["family"] == family]
        top = max(r["threads"] for r in block) if block else None
        for r in block:
            if r["threads"] != top:
                continue
            pages = r["allocated_bytes_per_pass"] / PAGE
            faults = r["minor_faults_per_pass"]["median"]
            rows.append([r["method"], top, f"{pages / 1e3:.0f}k", f"{faults / 1e3:.0f}k",
                         f"{faults / pages:.2f}" if pages else "", f"{r['system_ms_per_pass']['median']:.0f}",
                         f"{r['forward_backward_ms']['median']:.0f}"])
    out += [_md_table(["method", "threads", "pages allocated per pass", "minor faults per pass (median)",
                       "faults / pages", "system time per pass (ms)", "forward+backward (ms)"], rows), "",
            "Where the buffers are above the threshold (the full sizes), each pass pays for its pages again and "
            "faults / pages is close to 1; below it (the quick sizes), freed buffers stay in glibc's heap for the "
            "next pass and the faults fall towards 0. So the time ratio of two losses that allocate different "
            "numbers of buffers depends on the allocator and on how fast the kernel hands out zeroed pages on this "
            "machine, at this load; the memory peaks and the fault counts do not depend on the load.", ""]

    out += chunk_size_section(results)
    out += ["## Log-softmax accuracy, max float32 ulps (xentbook.accuracy.ulp_report, seed 0)", ""]
    rows = []
    for classes, report in results["ulps"].items():
        for family, methods in report.items():
            rows.append([classes, family] + [f"{largest:.1f}" for largest, _ in methods.values()])
    methods = list(next(iter(next(iter(results["ulps"].values())).values())))
    out += [_md_table(["classes", "family", *methods], rows), ""]

    out += ["## Goals", ""]
    rows = []
    for goal in results["goals"]:
        if goal["kind"] == "time":
            figure = f"{goal['median']:.2f}x (range {goal['min']:.2f} to {goal['max']:.2f})"
        elif goal["kind"] == "memory":
            figure = f"{goal['ratio']:.3f}x"
        else:
            figure = f"worst {goal['worst']:.1f} ulps"
        rows.append([goal["goal"], figure, goal["verdict"]])
    out += [_md_table(["goal", "measured", "verdict"], rows), ""]
    by_key = {(r["method"], r["threads"]): r for r in records}
    for threads in (1, 2):
        for name, base in ((CHUNKED, CROSS_ENTROPY), (NLL_LOG1P, NLL_LOG_SOFTMAX)):
            if (name, threads) in by_key and (base, threads) in by_key:
                ratio = time_goal(by_key[(name, threads)], by_key[(base, threads)], 1.0)
                side = ("faster" if ratio["max"] < 1 else "slower" if ratio["min"] > 1
                        else "neither faster nor slower, as far as the spread shows")
                out.append(f"- {name} vs {base}, forward+backward, {threads} thread{'s' if threads > 1 else ''}: "
                           f"{ratio['median']:.2f}x the median (range {ratio['min']:.2f} to {ratio['max']:.2f}): "
                           f"{side}.")
    out.append("")
    return "\n".join(out)


def chunk_size_section(results):
    """Markdown lines: the fused loss's peak memory and time at each chunk size, next to the plain path's."""
    linear = results["meta"]["sizes"].get("linear")
    memory = results["memory"].get("linear", {})
    if linear is None or FUSED not in memory or default_chunk_size is None:
        return []
    rows, hidden = linear[0], linear[1]
    by_key = {(r["method"], r["threads"]): r for r in results["records"]}
    sizes = {default_chunk_size(rows, hidden): FUSED, **{n: fused_chunk(n) for n in SWEEP_ROWS}}
    timed = [t for t in {t for (_, t) in by_key} if all((n, t) in by_key for n in [PLAIN, *sizes.values()])]
    threads = max(timed, default=None)
    table = []
    for chunk, name in sorted(sizes.items()):
        if name not in memory:
            continue
        row = [f"{chunk}{' (default)' if name == FUSED else ''}",
               f"{memory[name]['forward+backward'] / 1e6:.1f}",
               f"{memory[name]['forward+backward'] / memory[PLAIN]['forward+backward']:.3f}"]
        for baseline in (PLAIN, TORCH_CHUNKED):
            if threads is None or (baseline, threads) not in by_key:
                row.append("not timed")
                continue
            ratio = time_goal(by_key[(name, threads)], by_key[(baseline, threads)], 1.0)
            row.append(f"{ratio['median']:.2f}x [{ratio['min']:.2f}, {ratio['max']:.2f}]")
        table.append(row)
    at = f", {threads} thread{'s' if threads != 1 else ''}" if threads else ""
    return ["## The fused loss's chunk size: memory against time", "",
            f"The default chunk is a memory budget (xentbook.fused.default_chunk_size: d // 16 rows, at least 16, at "
            f"most m): {default_chunk_size(rows, hidden)} rows here, with d = {hidden}. Time ratios are the ratio of the medians, then [fastest / "
            f"slowest, slowest / fastest] of the repetitions: a range that contains 1 does not say which is faster.",
            "",
            _md_table(["rows per chunk", "forward+backward peak (MB)", f"peak / {PLAIN}'s",
                       f"time / {PLAIN}'s{at}", f"time / {TORCH_CHUNKED}'s{at}"], table), ""]


def main(argv=None):
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, few repetitions")
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT,
                        help="where to write the markdown (the json goes beside it, as .json)")
    parser.add_argument("--rss-case", help=argparse.SUPPRESS)  # internal: one RSS measurement in a fresh process
    parser.add_argument("--family", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_case:
        print(rss_case(args.rss_case, args.family, tuple(int(n) for n in args.size.split("x")), args.seed))
        return 0
    results = run(QUICK if args.quick else FULL, log=lambda text: print(text, file=sys.stderr, flush=True))
    text = render(results, args.quick)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"written to {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
