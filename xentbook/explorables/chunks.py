"""Chapter 11's explorable: tokens m, width d, vocabulary C and the chunk size -> the fused loss's peak memory and
the bytes of the weight and its gradient that its matrix products move, each beside the plain path's.

The formulas are chapter 11's, in bytes of float32 (4 bytes a number), with ``rows = min(chunk, m)``:

- the fused loss (``xentbook.fused.linear_cross_entropy``) at its peak holds the gradient of W (C x d), the
  gradient of h (m x d) and one chunk of logits (rows x C); the plain path (``F.cross_entropy(F.linear(h, W))``)
  holds 3 m x C numbers (the chapter's ``predicted_peak`` divides the first by the second);
- the weight traffic counts, in every matrix product, the bytes of W or of its gradient that it reads or writes:
  each of the ceil(m / chunk) chunks reads W twice (z_c = h_c W^T and g_c W) and reads and writes the gradient of
  W once (it adds g_c^T h_c to it), 4 x C x d x 4 bytes a chunk; the plain path's three whole products read W
  twice and write its gradient once, 3 x C x d x 4 bytes.

``tests/test_explorable_chunks.py`` checks the peak against the memory meter and the traffic against a count of
the matrix products ``linear_cross_entropy`` really runs. ``chunks.js`` computes the same integers in the browser.
"""

import traitlets

from xentbook.explorables.base import Explorable, Result, fmt, size, times, whole_numbers
from xentbook.fused import default_chunk_size

FLOAT32 = 4
LIMITS = {"tokens": 1 << 24, "width": 1 << 16, "vocabulary": 1 << 22, "chunk": 1 << 24}
NAMES = {"tokens": "the number of tokens m", "width": "the model width d", "vocabulary": "the vocabulary C",
         "chunk": "the chunk size"}
EXAMPLES = {"tokens": "4096", "width": "1024", "vocabulary": "32000", "chunk": "64"}
EXACT = 1 << 53  # every byte count stays below it, so that a float64 (and JavaScript's numbers) hold it exactly


def liger_chunk_size(rows, in_features, classes):
    """Liger Kernel's rule, for comparison: the power of two at or above rows / ceil(classes / in_features)."""
    per_chunk = -(-rows // -(-classes // in_features))  # ceil(rows / ceil(classes / in_features))
    return 1 << max(per_chunk - 1, 0).bit_length()


def bill(tokens, width, vocabulary, chunk):
    """The fused loss's peak and weight traffic, and the plain path's, in bytes (exact integers)."""
    m, d, C = tokens, width, vocabulary
    rows = min(chunk, m)
    chunks = -(-m // chunk)
    parts = {"grad_W": C * d * FLOAT32, "grad_h": m * d * FLOAT32, "logits": rows * C * FLOAT32}
    return {
        "rows": rows,
        "chunks": chunks,
        **parts,
        "fused": sum(parts.values()),
        "plain": 3 * m * C * FLOAT32,
        "fused_traffic": chunks * 4 * C * d * FLOAT32,
        "plain_traffic": 3 * C * d * FLOAT32,
        "budget": default_chunk_size(m, d),
        "liger": liger_chunk_size(m, d, C),
    }


def read_inputs(inputs):
    """The four whole numbers, or a message saying what to type."""
    numbers, problem = whole_numbers(inputs, ("tokens", "width", "vocabulary", "chunk"), NAMES, EXAMPLES, LIMITS)
    if problem:
        return None, problem
    m, d, C, chunk = numbers["tokens"], numbers["width"], numbers["vocabulary"], numbers["chunk"]
    if -(-m // chunk) * 4 * C * d * FLOAT32 >= EXACT:
        return None, (f"{-(-m // chunk)} chunks of a {C} x {d} weight move 2^53 bytes or more (about 9 PB), past "
                      f"what this page counts exactly: use a bigger chunk, fewer tokens, or a smaller model.")
    return numbers, None


PLAIN = "the plain path's"


def plural(n, word):
    """n and the word, with an s unless n is 1 (the twin of chunks.js's plural)."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe(numbers, bytes_):
    """The sentence under the figure (the same words as chunks.js)."""
    m, chunk = numbers["tokens"], numbers["chunk"]
    rows, chunks = bytes_["rows"], bytes_["chunks"]
    asked = f" ({chunk} asked, more than m = {m})" if chunk > m else ""
    fraction = bytes_["fused"] / bytes_["plain"]
    verdict = ("MORE than the plain path: here the fused loss costs memory instead of saving it" if fraction > 1
               else "more than a tenth" if fraction > 0.1 else "at most a tenth")
    return (f"{rows}-row chunks{asked}: {plural(chunks, 'chunk')}, peak {size(bytes_['fused'])} "
            f"(the gradient of W {size(bytes_['grad_W'])}, of h {size(bytes_['grad_h'])}, one chunk of logits "
            f"{size(bytes_['logits'])}) = {times(fraction, PLAIN)} {size(bytes_['plain'])}, {verdict}. The weight and its gradient move {size(bytes_['fused_traffic'])} per forward and backward pass, "
            f"{fmt(bytes_['fused_traffic'] / bytes_['plain_traffic'])} times the plain path's "
            f"{size(bytes_['plain_traffic'])}, counting W and its gradient only (the plain path also writes and reads "
            f"its logits-sized buffers). Here the budget (d // 16 rows, at least 16, at most m) gives "
            f"{plural(bytes_['budget'], 'row')}, Liger Kernel's rule {plural(bytes_['liger'], 'row')}.")


def compute(inputs):
    """The bytes for one setting of the controls (exact integers, carried as float64)."""
    numbers, problem = read_inputs(inputs)
    if problem:
        return Result(False, problem, "float64")
    bytes_ = bill(numbers["tokens"], numbers["width"], numbers["vocabulary"], numbers["chunk"])
    values = {name: float(value) for name, value in bytes_.items()}
    values["fraction"] = bytes_["fused"] / bytes_["plain"]
    return Result(True, describe(numbers, bytes_), "float64", values)


class ChunksExplorable(Explorable):
    """Chapter 11: tokens, width, vocabulary and chunk size; the fused loss's peak and weight traffic."""

    front_end = "chunks.js"
    style = "chunks.css"
    INPUTS = ("tokens", "width", "vocabulary", "chunk")

    tokens = traitlets.Unicode("4096").tag(sync=True)
    width = traitlets.Unicode("1024").tag(sync=True)
    vocabulary = traitlets.Unicode("32000").tag(sync=True)
    chunk = traitlets.Unicode("64").tag(sync=True)

    @classmethod
    def compute(cls, inputs):
        return compute(inputs)
