"""Chapter 10's explorable: tokens, vocabulary, number format, chunk size and model width -> the bytes of the
plain, chunked and fused cross-entropy losses.

The formulas are the chapter's measurements written as arithmetic, in bytes, b bytes per number:

- the logits: m x C x b, one logits-sized buffer;
- ``F.cross_entropy``, forward and backward: 3 such buffers at its peak (log-probabilities, their gradient, the
  logits' gradient), beyond the logits;
- the chunked loss (``xentbook.chunked.chunked_cross_entropy``): 1 buffer, the gradient itself (plus a few
  numbers per row); float16 and bfloat16 are computed in float32, one chunk of rows at a time: chunk x C x 4 more;
- the fused linear cross entropy (``xentbook.fused.linear_cross_entropy``, chapter 11: the output layer inside the
  loss, ``chunk`` rows of logits at a time, in float32): one float32 chunk of logits, chunk x C x 4, plus the
  float32 gradients of the hidden states and of the output weight, (m + C) x d x 4, and for float16 and bfloat16
  their float32 copies, as much again; the logits never exist.

``tests/test_explorables_memory.py`` checks each formula against the memory meter at small sizes in every format.
``memory.js`` computes the same integers in the browser.
"""

import traitlets

from xentbook.explorables.base import Explorable, Result, fmt, size, times, whole_numbers

BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
LIMITS = {"tokens": 1 << 24, "vocabulary": 1 << 22, "chunk": 1 << 24, "width": 1 << 16}
NAMES = {"tokens": "the number of tokens m", "vocabulary": "the vocabulary C", "chunk": "the chunk size",
         "width": "the model width d"}
EXAMPLES = {"tokens": "8192", "vocabulary": "128256", "chunk": "1024", "width": "4096"}


def memory(tokens, vocabulary, bytes_per_number, chunk, width):
    """The bytes of the logits and of each loss's peak (forward and backward), from the chapter's formulas."""
    rows = min(chunk, tokens)
    buffer = tokens * vocabulary * bytes_per_number
    half = bytes_per_number < 4  # float16 and bfloat16 are computed in float32
    return {
        "logits": buffer,
        "plain": 3 * buffer,
        "chunked": buffer + (rows * vocabulary * 4 if half else 0),
        "fused": rows * vocabulary * 4 + (tokens + vocabulary) * width * 4 * (2 if half else 1),
    }


def read_inputs(inputs):
    """The four whole numbers and the format, or a message saying what to type."""
    numbers, problem = whole_numbers(inputs, ("tokens", "vocabulary", "chunk", "width"), NAMES, EXAMPLES, LIMITS)
    if problem:
        return None, problem
    if inputs["dtype"] not in BYTES:
        return None, f"The format must be one of {', '.join(BYTES)}, not {inputs['dtype']!r}."
    return numbers, None


def describe(numbers, dtype, bytes_per_number, result):
    """The sentence under the figure (the same words as memory.js)."""
    m, C, chunk, d = numbers["tokens"], numbers["vocabulary"], numbers["chunk"], numbers["width"]
    rows = min(chunk, m)
    half = bytes_per_number < 4
    in_float32 = f", plus one float32 chunk of {rows} rows to compute in" if half else ""
    copies = " and float32 copies of h and W" if half else ""
    return (f"{m} tokens × {C} classes × {bytes_per_number} bytes ({dtype}): the logits take "
            f"{size(result['logits'])}, one buffer. Beyond them, F.cross_entropy's forward and backward peak at 3 "
            f"buffers, {size(result['plain'])}; the chunked loss at 1, the gradient itself{in_float32}, "
            f"{size(result['chunked'])}. Chapter 11's fused linear cross entropy with {rows}-row chunks and width "
            f"d = {d} never makes the logits: one float32 chunk of logits plus the float32 gradients of h and "
            f"W{copies}, {size(result['fused'])}, {times(result['fused'] / result['logits'], 'one buffer')}"
            f"{beyond(result)}.")


def beyond(result):
    """When the fused loss needs more memory than another path, the words say so (the twin of memory.js's beyond)."""
    if result["fused"] > result["plain"]:
        return ": MORE than F.cross_entropy's 3 buffers, so here the fused loss costs memory instead of saving it"
    if result["fused"] > result["chunked"]:
        return ": more than the chunked loss needs here"
    return ""


def compute(inputs):
    """The bytes for one setting of the controls (exact integers, carried as float64)."""
    numbers, problem = read_inputs(inputs)
    if problem:
        return Result(False, problem, "float64")
    dtype = inputs["dtype"]
    bytes_per_number = BYTES[dtype]
    result = memory(numbers["tokens"], numbers["vocabulary"], bytes_per_number, numbers["chunk"], numbers["width"])
    message = describe(numbers, dtype, bytes_per_number, result)
    return Result(True, message, "float64", {name: float(value) for name, value in result.items()})


class MemoryExplorable(Explorable):
    """Chapter 10: tokens, vocabulary, format, chunk size and width; the bytes of the plain, chunked and fused losses."""

    front_end = "memory.js"
    style = "memory.css"
    INPUTS = ("tokens", "vocabulary", "dtype", "chunk", "width")

    tokens = traitlets.Unicode("8192").tag(sync=True)
    vocabulary = traitlets.Unicode("128256").tag(sync=True)
    dtype = traitlets.Unicode("float32").tag(sync=True)
    chunk = traitlets.Unicode("1024").tag(sync=True)
    width = traitlets.Unicode("4096").tag(sync=True)

    @classmethod
    def compute(cls, inputs):
        return compute(inputs)
