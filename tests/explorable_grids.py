"""The grids on which the browser tests compare chapters 5, 6 and 8 to 13's explorables with torch.

tests/explorables.py adds one harness entry per explorable from ENTRIES: (name, widget class, page, grid, settings to
look at).
Each grid walks the controls over ordinary settings, the chapter's own examples, extremes and bad input.
"""


from xentbook.explorables.calibration import CalibrationExplorable
from xentbook.explorables.bigram import BigramExplorable
from xentbook.explorables.chunks import ChunksExplorable, liger_chunk_size
from xentbook.explorables.gradients import BASE_LOGITS, GradientsExplorable
from xentbook.explorables.margin import MarginExplorable
from xentbook.explorables.memory import MemoryExplorable
from xentbook.explorables.pipeline import LOGIT_NAMES, PipelineExplorable, pipeline_inputs
from xentbook.explorables.smoothing import SmoothingExplorable
from xentbook.fused import default_chunk_size


def pipeline_grid():
    """The running example with weights, ignored rows, every reduction, extreme and scaled logits, bad input."""
    grid = [pipeline_inputs()]
    for reduction in ("mean", "sum", "none"):
        grid += [
            pipeline_inputs(reduction=reduction),
            pipeline_inputs(reduction=reduction, w1="2", w2="0.5"),
            pipeline_inputs(reduction=reduction, t1="ignore", t3="ignore"),
            pipeline_inputs(reduction=reduction, t1="ignore", t3="ignore", w1="2", w2="0.5"),
            pipeline_inputs(reduction=reduction, ignore_index="1"),
            pipeline_inputs(reduction=reduction, **{f"t{i}": "ignore" for i in range(5)}),
            pipeline_inputs(reduction=reduction, w0="0", w1="0", w2="0"),
            pipeline_inputs(reduction=reduction, z0_2="100", z1_0="-100"),
            pipeline_inputs(reduction=reduction, z0_0="3e38", z0_1="-3e38"),
        ]
        for scale in ("0.5", "2", "10", "-3"):  # the running example's logits scaled, as a reader might type them
            grid.append(pipeline_inputs(reduction=reduction, w0="0.3", w2="2.5", t2="ignore", **{
                name: f"{float(value) * float(scale):.6g}" for name, value in pipeline_inputs().items() if name in LOGIT_NAMES}))
    grid += [pipeline_inputs(z1_1=bad) for bad in ("NaN", "abc", "1e400", "1e39")]
    grid += [pipeline_inputs(ignore_index=bad) for bad in ("1.5", "x")] + [pipeline_inputs(w2="-inf")]
    return grid


def smoothing_grid():
    """Every eps from 0 to 1, 2 to 7 classes, confidences from 0.02 up to the best one and past it, bad input."""
    grid = []
    for eps in ("0", "0.05", "0.1", "0.3", "0.5", "1"):
        for classes in (2, 3, 7):
            for confidence in ("0.02", "0.5", "0.9", "0.9333333333333333", "0.99", "0.999999"):
                grid.append(dict(eps=eps, classes=classes, confidence=confidence))
    grid += [dict(eps=e, classes=3, confidence="0.9") for e in ("NaN", "abc", "1e400", "-0.1", "1.5")]
    grid += [dict(eps="0.1", classes=3, confidence=c) for c in ("NaN", "abc", "1e400", "0", "1", "2")]
    grid += [dict(eps="0.1", classes=c, confidence="0.9") for c in (1, 8)]
    return grid


def gradients_grid():
    """Ordinary, equal, confident, huge and float32-extreme logits, each target, eps 0 to 1, bad input."""
    base = [str(v) for v in BASE_LOGITS]
    rows = [base, ["0", "0", "0"], ["5", "-5", "0"], ["10", "-10", "9.9"], ["-3", "2.5", "0.7"], ["1e4", "0", "-1e4"],
            ["88", "-88", "0"], ["0.1", "0.2", "0.3"], ["-10", "-10", "10"], ["3e38", "-3e38", "0"]]
    grid = []
    for z in rows:
        for target in (0, 1, 2):
            for eps in ("0", "0.1", "0.5", "1"):
                grid.append(dict(z0=z[0], z1=z[1], z2=z[2], target=target, eps=eps))
    grid += [dict(z0=b, z1=base[1], z2=base[2], target=2, eps="0") for b in ("NaN", "abc", "1e400", "1e39")]
    grid += [dict(z0=base[0], z1=base[1], z2=base[2], target=2, eps=b) for b in ("NaN", "-1", "2")]
    return grid


def margin_grid():
    """Margins from 0 past the point where 1 + s rounds to 1, up to 1e6, and bad input."""
    margins = ["0", "0.5", "1", "2.2989", "5", "10", "15", "16", "16.5", "17", "18", "20", "25", "30", "40", "60", "100", "1e3", "1e6"]
    return [dict(margin=m) for m in margins] + [dict(margin=b) for b in ("NaN", "abc", "1e400", "-1", "1e31")]


def memory_grid():
    """The chapter's sizes and extremes in every format, chunks larger than the batch, bad input in every field."""
    grid = []
    for dtype in ("float32", "bfloat16", "float16"):
        for m, C in [(8192, 128256), (512, 8000), (1, 2), (65536, 256000), (4096, 50257), (16777216, 4194304)]:
            for chunk, d in [("1024", "4096"), ("64", "64"), ("100000", "1"), ("1", "65536")]:
                grid.append(dict(tokens=str(m), vocabulary=str(C), dtype=dtype, chunk=chunk, width=d))
    for name in ("tokens", "vocabulary", "chunk", "width"):
        for bad in ("NaN", "abc", "1e400", "0", "1.5", "1e9"):
            grid.append({**dict(tokens="8192", vocabulary="128256", dtype="float32", chunk="1024", width="4096"), name: bad})
    return grid


def chunks_grid():
    """make bench's size and the chapter's, each with chunk 1, a ragged chunk, the budget, Liger Kernel's rule,
    chunk = m and chunk > m; extremes (some past 2^53 bytes of traffic, refused); bad input in every field."""
    grid = []
    for m, d, C in [(4096, 1024, 32000), (8192, 4096, 128256), (16384, 4096, 32000), (1024, 64, 8000), (100, 1000, 10),
                    (1, 1, 1), (65536, 16384, 262144), (16777216, 65536, 4194304), (16777216, 1, 1)]:
        for chunk in sorted({1, 7, default_chunk_size(m, d), liger_chunk_size(m, d, C), m, m + 1, 16777216}):
            grid.append(dict(tokens=str(m), width=str(d), vocabulary=str(C), chunk=str(chunk)))
    for name in ("tokens", "width", "vocabulary", "chunk"):
        for bad in ("NaN", "abc", "1e400", "0", "1.5", "1e9", "-64", ""):
            grid.append({**dict(tokens="4096", width="1024", vocabulary="32000", chunk="64"), name: bad})
    return grid


def bigram_grid():
    """Chapter 13's bigram model: k from 0 (an infinite loss) through the best k to near-uniform, temperatures from
    sharp to flat, and bad input in both fields."""
    grid = [dict(k=k, temperature=t) for k in ("0", "0.001", "0.1", "1", "3.5", "100", "1e6")
            for t in ("0.1", "0.5", "1", "1.7", "3", "100")]
    for bad in ("NaN", "abc", "1e400", "-1", "2e6", ""):
        grid.append(dict(k=bad, temperature="1"))
    for bad in ("NaN", "abc", "1e400", "0", "-1", "101"):
        grid.append(dict(k="1", temperature=bad))
    return grid


def calibration_grid():
    """Temperatures from sharp to flat (and the slider's ends), every number of bins, bad input in both controls."""
    grid = [dict(temperature=t, bins=b) for t in ("0.01", "0.1", "0.5", "0.8", "1", "1.14", "1.5", "2", "5", "100")
            for b in (5, 10, 15, 20)]
    grid += [dict(temperature=bad, bins=10) for bad in ("NaN", "abc", "1e400", "0", "-1", "0.001", "101")]
    return grid + [dict(temperature="1", bins=bad) for bad in (0, 7, 100)]


# One entry per chapter whose explorable is on its page: (name, widget class, page, grid, settings to look at).
ENTRIES = [
    ("pipeline", PipelineExplorable, "chapters/05_log_softmax_nll.html", pipeline_grid,
     ({"reduction": "none"}, {"t1": "ignore", "t2": "ignore", "reduction": "mean"})),
    ("smoothing", SmoothingExplorable, "chapters/06_cross_entropy.html", smoothing_grid,
     ({"confidence": "0.01"}, {"classes": "7", "eps": "1", "confidence": "0.2"})),
    ("gradients", GradientsExplorable, "chapters/08_gradients.html", gradients_grid, ({"z0": "10", "z1": "-10"},)),
    ("margin", MarginExplorable, "chapters/09_accuracy.html", margin_grid, ({"margin": "1e3"},)),
    ("memory", MemoryExplorable, "chapters/10_large_vocab.html", memory_grid, ({"tokens": "1"},)),
    ("chunks", ChunksExplorable, "chapters/11_fused_linear.html", chunks_grid, ({"tokens": "3"}, {"tokens": "40"})),
    ("calibration", CalibrationExplorable, "chapters/12_real_data.html", calibration_grid,
     ({"temperature": "0.1"}, {"temperature": "5", "bins": "20"})),
    ("bigram", BigramExplorable, "chapters/13_perplexity.html", bigram_grid, ({"k": "0"}, {"k": "1", "temperature": "3"})),
]
