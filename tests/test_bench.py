"""The benchmark (benchmarks/bench_xent.py): its meters, and the goals it reports, on its quick configuration.

Timings are not asserted: they depend on the machine and on whatever else runs on it.
"""

import importlib.util
import pathlib
import re

import pytest

from conftest import ROOT


def load_bench():
    """benchmarks/bench_xent.py as a module (benchmarks/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_xent", ROOT / "benchmarks" / "bench_xent.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_bench()


@pytest.fixture(scope="module")
def quick_memory():
    return bench.measure_memory(*bench.QUICK["memory_shape"])


def test_memory_meter_reports_the_exact_peak_of_a_known_allocation_pattern():
    measured, expected = bench.meter_check()
    assert measured == expected


def test_chunked_forward_backward_peak_is_at_most_0_4_of_f_cross_entropy(quick_memory):
    chunked = quick_memory[bench.CHUNKED]["forward+backward"]
    baseline = quick_memory[bench.BASELINE]["forward+backward"]
    assert chunked <= bench.MEMORY_GOAL * baseline


def test_memory_peaks_count_the_gradient_buffer_and_f_cross_entropy_holds_three(quick_memory):
    rows, classes = bench.QUICK["memory_shape"]
    buffer = rows * classes * 4
    assert quick_memory[bench.CHUNKED]["forward+backward"] >= buffer  # the gradient is counted, not hidden
    assert quick_memory[bench.BASELINE]["forward+backward"] == pytest.approx(3 * buffer, rel=0.01)


def test_log_softmax_log1p_stays_within_4_ulps_on_every_input_family():
    report = bench.measure_accuracy(*bench.QUICK["ulp_shape"])
    assert set(report) == {"ordinary", "shifted", "dominant"}
    for family, methods in report.items():
        assert methods["log_softmax_log1p"][0] <= bench.ULP_GOAL, family


@pytest.mark.skipif(not pathlib.Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc/self/clear_refs")
def test_peak_rss_of_a_fresh_process_agrees_with_the_profiler_meter():
    rows, classes = 1024, 16000  # 65.5 MB buffers: above glibc's mmap threshold, so RSS follows them exactly
    cases = [bench.CHUNKED, bench.BASELINE]
    rss = bench.measure_rss(rows, classes, cases=cases)
    meter = bench.measure_memory(rows, classes)
    for case in cases:
        assert abs(rss[case] - meter[case]["forward+backward"]) < 2e6, case


def test_quick_benchmark_prints_and_writes_its_three_tables(tmp_path, capsys):
    out = tmp_path / "bench.md"
    assert bench.main(["--quick", "--out", str(out)]) == 0
    text = out.read_text()
    assert text in capsys.readouterr().out
    for heading in ("## Time", "## Peak extra memory", "## Log-softmax accuracy"):
        assert heading in text
    for method in bench.METHODS:
        assert text.count(f"| {method} |") == 2  # one row in the time table, one in the memory table
    memory_goal = re.search(r"peak at most 0.4 x F.cross_entropy's: measured (\S+), (met|NOT met)\.", text)
    assert memory_goal and float(memory_goal.group(1)) <= 0.4 and memory_goal.group(2) == "met"
