"""The benchmark's report: the markdown tables that make bench writes to _build/bench.md, from the results alone
(tests/test_bench.py checks that the committed benchmarks/results/bench.md is what bench.json renders to).
"""

from bench_goals import time_goal
from bench_measuring import PAGE
from bench_methods import (
    CHUNKED, COMPILED_PLAIN, CROSS_ENTROPY, FUSED, NLL_LOG1P, NLL_LOG_SOFTMAX, PLAIN, SWEEP_ROWS, TORCH_CHUNKED,
    default_chunk_size, fused_chunk, fused_variant,
)
from bench_variants import VARIANTS

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
    out += variants_section(results)
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


def variant_rows(results):
    """[(label, name, peak ratio, time ratio or None)] for the default and every variant of the fused loss, and
    torch.compile of the whole loss, at the largest thread count timed with the plain path."""
    memory = results["memory"].get("linear", {})
    by_key = {(r["method"], r["threads"]): r for r in results["records"]}
    names = [("default (xentbook.fused.walk_chunks)", FUSED)] + [(v, fused_variant(v)) for v in VARIANTS] + [
        ("torch.compile of the whole loss, F.linear + F.cross_entropy (not fused)", COMPILED_PLAIN)]
    names = [(label, name) for label, name in names if name in memory]
    timed = [t for t in {t for (_, t) in by_key} if all((n, t) in by_key for n in [PLAIN, *(n for _, n in names)])]
    threads = max(timed, default=None)
    rows = []
    for label, name in names:
        peak = memory[name]["forward+backward"] / memory[PLAIN]["forward+backward"]
        ratio = time_goal(by_key[(name, threads)], by_key[(PLAIN, threads)], 1.1) if threads else None
        rows.append((label, name, peak, ratio))
    return rows, threads


def variants_section(results):
    """Markdown lines: the fused loss's variants side by side, against the goal of 1.1x time at 0.1x memory."""
    rows, threads = variant_rows(results)
    if len(rows) < 2 or threads is None:
        return []
    compile_seconds = results.get("compile_seconds", {})
    table = []
    for label, name, peak, ratio in rows:
        compiled = compile_seconds.get(label) or compile_seconds.get(
            "torch.compile of F.linear + F.cross_entropy" if name == COMPILED_PLAIN else "")
        table.append([label, f"{peak:.3f}", "met" if peak <= 0.1 else "not met",
                      f"{ratio['median']:.2f}x [{ratio['min']:.2f}, {ratio['max']:.2f}]", ratio["verdict"],
                      ", ".join(f"{s:.1f}" for s in compiled) if compiled else ""])
    fused_rows = [r for r in rows if r[1] != COMPILED_PLAIN]
    within = [r for r in fused_rows if r[2] <= 0.1]
    both = [r for r in within if r[3]["verdict"] == "met"]
    if both:
        best = min(both, key=lambda r: r[3]["median"])
        verdict = (f"{best[0]} meets both goals: {best[3]['median']:.2f}x the time (every repetition within 1.1x) "
                   f"at {best[2]:.3f}x the memory.")
    elif within:
        best = min(within, key=lambda r: r[3]["median"])
        verdict = (f"No variant meets 1.1x the time at 0.1x the memory on this machine. Of those within 0.1x the "
                   f"memory, the fastest by median is {best[0]}: {best[3]['median']:.2f}x "
                   f"[{best[3]['min']:.2f}, {best[3]['max']:.2f}] at {best[2]:.3f}x.")
    else:
        verdict = "No variant stays within 0.1x the memory at the default chunk size."
    return ["## The fused loss's variants: time against memory", "",
            f"Each variant walks the default chunk size (benchmarks/bench_variants.py says what each changes). "
            f"Peak is forward+backward peak extra memory / {PLAIN}'s; time is forward+backward / {PLAIN}'s at "
            f"{threads} thread{'s' if threads != 1 else ''}: the ratio of the medians, then [fastest / slowest, "
            f"slowest / fastest], and the verdict on 1.1x from that spread. Compile time: the seconds of each call "
            f"that compiled (a first call at new shapes), outside the timed repetitions.", "",
            _md_table(["variant", f"peak / {PLAIN}'s", "0.1x memory", f"time / {PLAIN}'s", "1.1x time",
                       "compile (s)"], table), "", verdict, ""]
