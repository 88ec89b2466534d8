"""Benchmark the book's cross entropies next to PyTorch's: time, page faults, peak memory, accuracy.

    python benchmarks/bench_xent.py            # full run (make bench): minutes; bench.md says how long it took
    python benchmarks/bench_xent.py --quick    # small sizes: a few seconds; what tests/test_bench.py runs

Writes _build/bench.md (the tables and the goals) and _build/bench.json (every record, every sample). This script
holds the two configurations and runs them; its parts, beside it, each read on their own: the methods
(bench_methods.py), the measuring (bench_measuring.py), the goals (bench_goals.py) and the report (bench_report.py).

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
import json
import os
import pathlib
import platform
import sys
import time

import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # its parts, beside it (benchmarks/ is no package)

# The parts, each readable on its own; their names stay importable from here (tests/test_bench.py uses them).
from bench_goals import evaluate_goals, time_goal  # noqa: E402,F401
from bench_measuring import (  # noqa: E402,F401
    PAGE, cpu_name, load_average, measure_accuracy, measure_memory, measure_rss, meter_check, rss_case, time_family,
    torch_chunked_refusals, transparent_hugepages,
)
from bench_methods import (  # noqa: E402,F401
    CHUNKED, CROSS_ENTROPY, FAMILIES, FUSED, LS, NLL_LOG1P, NLL_LOG_SOFTMAX, PLAIN, SCRATCH, SWEEP_ROWS, Z,
    COMPILED_PLAIN, default_chunk_size, fused_chunk, fused_variant, make_inputs,
)
from bench_report import _faults, _ms, render, variant_rows  # noqa: E402,F401
import bench_variants  # noqa: E402
from xentbook.accuracy import LOG1P_ULP_BOUND  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "_build" / "bench.md"

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
    results["compile_seconds"] = dict(bench_variants.COMPILE_SECONDS)
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
