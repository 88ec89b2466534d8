"""The benchmark (benchmarks/bench_xent.py) on its quick configuration: what it measures is right, its methods agree,
the memory goals hold, and its reports have one record per method, size and thread count.

Timings are not asserted: they depend on the machine and on whatever else runs on it.
"""

import importlib.util
import json
import pathlib
import re

import pytest
import torch

from conftest import ROOT
from xentbook.accuracy import LOG1P_ULP_BOUND


def load_bench():
    """benchmarks/bench_xent.py as a module (benchmarks/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_xent", ROOT / "benchmarks" / "bench_xent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pytestmark = pytest.mark.xdist_group("bench")  # the quick run (a module fixture, with two compiles) is made once, on one worker

bench = load_bench()
VERDICTS = {"met", "not met", "not supported by the spread"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One quick run of the command line: (markdown, json) it wrote."""
    out = tmp_path_factory.mktemp("bench") / "bench.md"
    assert bench.main(["--quick", "--out", str(out)]) == 0
    return out.read_text(), json.loads(out.with_suffix(".json").read_text())


def test_memory_meter_reports_the_exact_peak_of_a_known_allocation_pattern():
    measured, expected = bench.meter_check()
    assert measured == expected


def test_full_run_times_the_issue_sizes_at_1_and_2_threads_with_at_least_7_repetitions():
    assert bench.FULL["sizes"] == {"logits": (4096, 32000), "linear": (4096, 1024, 32000)}
    assert bench.FULL["repeats"] >= 7
    for family, plan in bench.FULL["threads"].items():
        assert set(plan) == {1, 2}, family
        assert plan[2] == "all", family
    assert bench.FULL["ulp_classes"] == (10, 100, 1000, 32000)


@pytest.mark.parametrize("family", list(bench.FAMILIES))
def test_every_method_agrees_with_torch_in_loss_and_gradients(family):
    size = (64, 300) if family == "logits" else (64, 16, 300)
    methods = bench.FAMILIES[family]()
    baseline = bench.CROSS_ENTROPY if family == "logits" else bench.PLAIN

    def run(name):
        inputs = bench.make_inputs(family, size)
        loss = methods[name](inputs)
        loss.backward()
        return loss.detach(), [t.grad for t in inputs.values() if t.requires_grad]

    for name in methods:
        suffix = bench.LS if name.endswith(bench.LS) else bench.Z if name.endswith(bench.Z) else ""
        reference = baseline + suffix if name not in (bench.NLL_LOG_SOFTMAX, bench.NLL_LOG1P) else baseline
        loss, grads = run(name)
        expected_loss, expected_grads = run(reference)
        torch.testing.assert_close(loss, expected_loss, msg=name)
        for grad, expected in zip(grads, expected_grads, strict=True):
            torch.testing.assert_close(grad, expected, msg=name)


def test_there_is_one_record_per_method_size_and_thread_count_with_median_min_max_and_faults(quick_run):
    _, results = quick_run
    keys = [(r["method"], r["size"], r["threads"]) for r in results["records"]]
    assert len(keys) == len(set(keys))
    for family, plan in bench.QUICK["threads"].items():
        size = "x".join(map(str, bench.QUICK["sizes"][family]))
        for threads, names in plan.items():
            for name in bench.FAMILIES[family]() if names == "all" else names:
                assert (name, size, threads) in keys, (name, threads)
    for record in results["records"]:
        assert len(record["samples"]) == record["repeats"] == bench.QUICK["repeats"]
        for figure in ("forward_ms", "forward_backward_ms", "minor_faults_per_pass", "system_ms_per_pass"):
            spread = record[figure]
            assert spread["min"] <= spread["median"] <= spread["max"], (record["method"], figure)
        assert record["forward_ms"]["min"] <= record["forward_backward_ms"]["max"]
        assert record["peak_extra_bytes"]["forward_backward"] > 0
        assert len(record["load_before"]) == 3
    meta = results["meta"]
    assert meta["torch"] == torch.__version__ and meta["cpu"] and len(meta["load_after"]) == 3


def test_chunked_and_fused_losses_keep_their_memory_goals(quick_run):
    _, results = quick_run
    logits, linear = results["memory"]["logits"], results["memory"]["linear"]
    buffer = bench.QUICK["sizes"]["logits"][0] * bench.QUICK["sizes"]["logits"][1] * 4
    assert logits[bench.CROSS_ENTROPY]["forward+backward"] == pytest.approx(3 * buffer, rel=0.01)
    assert logits[bench.CHUNKED]["forward+backward"] >= buffer  # the gradient is counted, not hidden
    assert logits[bench.CHUNKED]["forward+backward"] <= 0.4 * logits[bench.CROSS_ENTROPY]["forward+backward"]
    if bench.FUSED not in linear:
        pytest.skip("xentbook.fused is not in this version of the package")
    for suffix in ("", bench.LS, bench.Z):
        assert linear[bench.FUSED + suffix]["forward+backward"] <= 0.1 * linear[bench.PLAIN + suffix]["forward+backward"]


def test_the_fused_losss_chunk_sizes_are_measured_side_by_side(quick_run):
    text, results = quick_run
    rows, hidden = bench.QUICK["sizes"]["linear"][:2]
    linear = results["memory"]["linear"]
    chunks = {bench.default_chunk_size(rows, hidden): bench.FUSED,
              **{n: bench.fused_chunk(n) for n in bench.SWEEP_ROWS}}
    peaks = [linear[name]["forward+backward"] for _, name in sorted(chunks.items())]
    assert peaks == sorted(peaks) and peaks[0] < peaks[-1]  # a bigger chunk holds more logits
    section = text[text.index("## The fused loss's chunk size"):text.index("## Log-softmax accuracy")]
    for chunk in chunks:
        assert f"\n| {chunk}" in section
    assert f"| {bench.default_chunk_size(rows, hidden)} (default) |" in section
    assert "1 thread" in section and "not timed" not in section


def test_the_fused_losss_variants_are_measured_side_by_side_with_a_verdict(quick_run):
    """benchmarks/bench_variants.py: every variant and torch.compile of the whole loss, time and memory next to the
    plain path's, and one sentence naming the fastest variant within the memory goal (or saying none is)."""
    text, results = quick_run
    section = text[text.index("## The fused loss's variants"):text.index("## Log-softmax accuracy")]
    for variant in bench.bench_variants.VARIANTS:
        assert f"| {variant} |" in section, variant
    assert "| default (xentbook.fused.walk_chunks) |" in section and "| torch.compile of the whole loss" in section
    assert re.search(r"meets both goals|No variant meets 1.1x the time at 0.1x the memory|No variant stays", section)
    compiled = results["compile_seconds"]
    assert set(compiled) == {"torch.compile of the chunk body", "torch.compile of F.linear + F.cross_entropy"}
    assert all(seconds > 0 for calls in compiled.values() for seconds in calls)
    linear = results["memory"]["linear"]
    peak = {variant: linear[bench.fused_variant(variant)]["forward+backward"] for variant in bench.bench_variants.VARIANTS}
    default = linear[bench.FUSED]["forward+backward"]
    rows, hidden, classes = bench.QUICK["sizes"]["linear"]
    chunk = bench.default_chunk_size(rows, hidden) * classes * 4
    assert abs(peak["F.linear's product order"] - default) <= 1024  # the same buffers, laid out otherwise
    assert peak["softmax temporary"] == pytest.approx(default + chunk, rel=0.02)  # a second chunk of logits
    assert peak["weight gradient by mm + add_"] >= default + 0.9 * classes * hidden * 4  # a second weight gradient


RESULTS = ROOT / "benchmarks" / "results"
PAGE = ROOT / "benchmarks" / "README.md"  # the report's page: the measured figures, the full run and its reading


def page():
    """benchmarks/README.md as one line of words (its sentences wrap anywhere)."""
    return " ".join(PAGE.read_text().split())


def test_every_figure_the_benchmarks_page_quotes_is_a_line_of_the_committed_full_run():
    quoted = PAGE.read_text().split("<!-- bench: copied from benchmarks/results/bench.md -->")[1].split("<!-- /bench -->")[0]
    report = set((RESULTS / "bench.md").read_text().splitlines())
    lines = [line for line in quoted.splitlines() if line.strip()]
    assert len(lines) > 50
    # Each line is the report's, a heading one level down (the page's own section holds them).
    assert [line for line in lines if (line[1:] if line.startswith("##") else line) not in report] == []
    assert "(full)" in (RESULTS / "bench.md").read_text().splitlines()[0]


def test_the_benchmarks_page_says_what_load_the_committed_run_recorded():
    results = json.loads((RESULTS / "bench.json").read_text())
    meta = results["meta"]
    during = [record[key][2] for record in results["records"] for key in ("load_before", "load_after")]
    during.append(meta["load_after"][2])
    threads = sorted({record["threads"] for record in results["records"]})
    side = "above" if meta["load_before"][2] > meta["cpus"] else "below"
    assert (f"when the run started, the 15-minute load average was {meta['load_before'][2]}, {side} its "
            f"{meta['cpus']} CPUs") in page()
    assert f"it was between {min(during)} and {max(during)}, while the benchmark itself runs " + " or ".join(
        map(str, threads)) + " threads" in page()
    assert "nothing else running" not in page().split("## The benchmark")[1]


def test_the_committed_run_keeps_the_fastest_variant_within_the_memory_goal_as_the_default():
    """The issue's rule: the default walk is the fastest (by median) of the variants that keep the memory goal."""
    results = json.loads((RESULTS / "bench.json").read_text())
    rows, threads = bench.variant_rows(results)
    assert threads == 2 and {label for label, *_ in rows} >= set(bench.bench_variants.VARIANTS)
    within = [(ratio["median"], name) for label, name, peak, ratio in rows
              if peak <= 0.1 and name != bench.COMPILED_PLAIN]
    assert min(within)[1] == bench.FUSED, within


def test_the_benchmarks_pages_make_measure_table_says_what_the_committed_measurements_hold():
    figures = json.loads((RESULTS / "measure.json").read_text())
    readme = PAGE.read_text()

    def figure(start):
        return next(value for name, value in figures.items() if name.startswith(start))

    cells = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in readme.splitlines()
             if line.startswith("| ")]
    rows = {row[0]: row[2] for row in cells if len(row) == 4 and row[3].startswith("`make measure`")}
    assert len(rows) == 5
    assert rows[next(r for r in rows if r.startswith("site build"))] == f"{figure('site build'):.1f} s"
    assert rows["rebuild after editing one chapter"] == f"{figure('rebuild'):.1f} s"
    assert rows[next(r for r in rows if r.startswith("`make test`"))] == f"{figure('make test'):.0f} s"
    assert rows[next(r for r in rows if r.startswith("moving a control"))] == f"{figure('slowest explorable'):.1f} ms"
    assert rows[next(r for r in rows if r.startswith("bytes the heaviest page"))] == f"{figure('heaviest page'):,}"
    from explorables import EXPLORABLES  # tests/explorables.py: each explorable's page

    slowest = re.search(r"\((\w+)\)", next(name for name in figures if name.startswith("slowest"))).group(1)
    page_of = {explorable.name: explorable.page for explorable in EXPLORABLES}
    chapter = int(re.search(r"chapters/(\d+)_", page_of[slowest]).group(1))
    assert f"slowest explorable (chapter {chapter}'s)" in readme, slowest
    heaviest = re.search(r"chapters_(\d+)_", next(name for name in figures if name.startswith("heaviest")))
    assert heaviest and f"the heaviest page (chapter {int(heaviest.group(1))})" in readme


def test_the_benchmarks_pages_clean_clone_time_is_the_recorded_one():
    record = (RESULTS / "clean-clone.txt").read_text()
    minutes, seconds = re.search(r"^real\s+(\d+)m([\d.]+)s$", record, re.M).groups()
    total = int(minutes) * 60 + round(float(seconds))
    pytest_seconds = round(float(re.search(r" passed(?:, \d+ warnings?)? in ([\d.]+)s", record).group(1)))
    readme = page()
    assert f"took {total // 60} min {total % 60} s" in readme
    assert f"pytest's own share was {pytest_seconds // 60} min {pytest_seconds % 60} s" in readme
    assert " failed" not in record


def test_the_committed_report_is_what_its_records_render_to():
    results = json.loads((RESULTS / "bench.json").read_text())
    assert bench.render(results, quick=False) == (RESULTS / "bench.md").read_text()


def test_the_benchmarks_pages_reading_of_the_chunk_sizes_holds_in_the_committed_run():
    results = json.loads((RESULTS / "bench.json").read_text())
    rows, hidden = results["meta"]["sizes"]["linear"][:2]
    memory = results["memory"]["linear"]
    records = {(r["method"], r["threads"]): r for r in results["records"]}
    plain_peak = memory[bench.PLAIN]["forward+backward"]
    names = {bench.default_chunk_size(rows, hidden): bench.FUSED, **{n: bench.fused_chunk(n) for n in bench.SWEEP_ROWS}}
    assert sorted(names) == [32, 64, 128, 256]
    for chunk, name in names.items():
        small = memory[name]["forward+backward"] <= 0.1 * plain_peak
        time = bench.time_goal(records[(name, 2)], records[(bench.PLAIN, 2)], 1.1)
        assert not (small and time["verdict"] == "met"), chunk  # no chunk size meets both goals
        if chunk <= 64:  # under a tenth, not shown to meet 1.1x; 32 rows miss it outright
            assert small and time["verdict"] == ("not met" if chunk == 32 else "not supported by the spread"), chunk
        else:  # as fast as the plain path within the spread, over a tenth
            ratio = bench.time_goal(records[(name, 2)], records[(bench.PLAIN, 2)], 1.0)
            assert not small and ratio["min"] <= 1 <= ratio["max"], chunk
    medians = [records[(name, 2)]["forward_backward_ms"]["median"] for _, name in sorted(names.items())]
    assert medians == sorted(medians, reverse=True)  # the smaller the chunk, the slower
    for suffix in ("", bench.LS, bench.Z):
        assert memory[bench.FUSED + suffix]["forward+backward"] <= 0.1 * memory[bench.PLAIN + suffix]["forward+backward"]
    # The variants, as the page reads them.
    variants = {label: (peak, ratio) for label, _, peak, ratio in bench.variant_rows(results)[0]}
    within = {label for label, (peak, _) in variants.items() if peak <= 0.1}
    assert within == {"default (xentbook.fused.walk_chunks)", "F.linear's product order", "torch.compile of the chunk body"}
    assert variants["softmax temporary"][0] > 0.1
    assert variants["weight gradient by mm + add_"][1]["verdict"] == "not met"
    assert variants["weight gradient by mm + add_"][0] >= variants["default (xentbook.fused.walk_chunks)"][0] + 0.08
    whole = next(ratio for label, (peak, ratio) in variants.items() if label.startswith("torch.compile of the whole"))
    assert whole["min"] <= 1 <= whole["max"]  # as fast as the plain path within the spread...
    assert next(peak for label, (peak, _) in variants.items() if label.startswith("torch.compile of the whole")) > 0.4
    assert all(ratio["verdict"] != "met" for label, (peak, ratio) in variants.items() if peak <= 0.1)
    default = variants["default (xentbook.fused.walk_chunks)"][1]
    assert (f"its time, {default['median']:.2f}x the plain path's by the medians, neither meets nor misses the 1.1x "
            f"goal as far as the spread shows ({default['min']:.2f} to {default['max']:.2f}:") in page()
    assert default["verdict"] == "not supported by the spread"
    faults = {name: records[(name, 2)]["minor_faults_per_pass"]["median"] for name in (bench.PLAIN, bench.FUSED)}
    weight_grad_pages = results["meta"]["sizes"]["linear"][2] * hidden * 4 / results["meta"]["page_bytes"]
    assert faults[bench.FUSED] == pytest.approx(weight_grad_pages, rel=0.05)  # the weight's gradient, page by page
    assert faults[bench.PLAIN] > 10 * faults[bench.FUSED]


def test_log_softmax_log1p_meets_its_one_bound_at_every_class_count(quick_run):
    _, results = quick_run
    for classes, report in results["ulps"].items():
        assert set(report) == {"ordinary", "shifted", "dominant"}
        for family, methods in report.items():
            assert methods["log_softmax_log1p"][0] <= LOG1P_ULP_BOUND, (classes, family)
        assert report["dominant"]["F.log_softmax"][0] > 2**23  # the bound is not trivially met by everyone


def test_time_goal_is_met_only_when_the_whole_spread_is_under_the_threshold():
    def record(low, high):
        return {"forward_backward_ms": {"median": (low + high) / 2, "min": low, "max": high}}

    assert bench.time_goal(record(90, 100), record(100, 110), 1.0)["verdict"] == "met"
    assert bench.time_goal(record(120, 130), record(100, 110), 1.0)["verdict"] == "not met"
    assert bench.time_goal(record(95, 115), record(100, 110), 1.0)["verdict"] == "not supported by the spread"
    assert bench.time_goal(record(105, 108), record(100, 100), 1.1)["verdict"] == "met"


def test_quick_report_prints_the_tables_goals_and_load(quick_run, capsys):
    text, results = quick_run
    for family in bench.FAMILIES:
        assert f"## {family}:" in text
    assert text.count("### Time, 1 thread ") == 2 and text.count("### Time, 2 threads ") == 2
    assert "## Page faults" in text
    for record in results["records"]:
        assert f"| {record['method']} |" in text
    assert "## Log-softmax accuracy" in text and "## Goals" in text
    assert "Load average (1, 5, 15 min) before the run" in text
    goals = results["goals"]
    assert goals and all(goal["verdict"] in VERDICTS for goal in goals)
    for goal in goals:
        assert f"| {goal['goal']} |" in text
        if goal["kind"] in ("memory", "accuracy"):
            assert goal["verdict"] == "met", goal


@pytest.mark.skipif(not pathlib.Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc/self/clear_refs")
def test_peak_rss_of_a_fresh_process_agrees_with_the_profiler_meter():
    size = (1024, 16000)  # 65.5 MB buffers: above glibc's mmap threshold, so RSS follows them exactly
    cases = [bench.CHUNKED, bench.CROSS_ENTROPY]
    rss = bench.measure_rss("logits", size, cases)
    meter = bench.measure_memory("logits", size, cases)
    for case in cases:
        assert abs(rss[case] - meter[case]["forward+backward"]) < 2e6, case
