"""The benchmark's goals and their verdicts, decided from the spread, never from a single number.

A time goal "A <= k B" is met when even A's slowest repetition is within k times B's fastest, not met when A's
fastest is beyond k times B's slowest, and otherwise "not supported by the spread". A memory goal compares the
meter's peaks, which have no spread.
"""

from bench_methods import CHUNKED, CROSS_ENTROPY, FUSED, LS, PLAIN, TORCH_CHUNKED, Z

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
