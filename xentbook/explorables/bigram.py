"""Chapter 13's explorable: add-k smoothing and temperature move a character bigram model's validation cross
entropy, its perplexity and its bits per character.

The model is chapter 13's count model: logits ``log(n[a] + k) / T`` for the character after ``a``, from the training
bigram counts ``n`` (``xentbook.language``). ``compute`` is torch's answer: ``F.cross_entropy`` over the whole
validation stream in float64, shown rounded to float32. ``bigram.js`` computes the same from the two count tables
saved in the widget state (``train_counts``, ``validation_counts``), and samples a line of text, for illustration,
with its own seeded generator.
"""

import math

import torch
import torch.nn.functional as F
import traitlets

from xentbook import language
from xentbook.explorables.base import Explorable, Result, fmt, parse_number

MAX_K = 1e6
MAX_TEMPERATURE = 100


def read_inputs(inputs):
    """(k, temperature) from the reader's inputs, or a message saying what to type."""
    k, problem = parse_number(inputs["k"], "The smoothing k", "1")
    if problem:
        return None, problem
    if not 0 <= k <= MAX_K:
        return None, f"The smoothing k must be from 0 to {fmt(MAX_K)}, not {fmt(k)}."
    temperature, problem = parse_number(inputs["temperature"], "The temperature", "1")
    if problem:
        return None, problem
    if not 0 < temperature <= MAX_TEMPERATURE:
        return None, f"The temperature must be above 0 and at most {MAX_TEMPERATURE}, not {fmt(temperature)}."
    return (k, temperature), None


def describe(k, temperature, loss, perplexity, bits, unseen, C):
    """The sentence under the figure (the same words as bigram.js)."""
    if math.isinf(loss):
        return (f"Add-k smoothing with k = 0 gives probability 0 to {unseen} validation characters whose bigram training never saw: "
                f"each costs -log 0 = inf nats, so the validation cross entropy is inf. Any k > 0 makes it finite.")
    return (f"With k = {fmt(k)}, T = {fmt(temperature)}: validation cross entropy {fmt(loss)} nats per character, "
            f"perplexity {fmt(perplexity)} (as unsure as a uniform choice among {fmt(perplexity)} characters), "
            f"{fmt(bits)} bits per character. A uniform guess over the C = {C} characters scores "
            f"ln {C} = {fmt(math.log(C))} nats.")


def bigram_logits(counts, k, temperature):
    """The count model's logits, log(n + k) / T, for every (previous, next) pair (float64)."""
    return torch.log(counts.double() + k) / temperature


def compute(inputs):
    """torch's numbers for one setting: the validation loss, perplexity and bits per character (float32)."""
    read, problem = read_inputs(inputs)
    if problem:
        return Result(False, problem)
    k, temperature = read
    train_counts, validation_counts = language.bigram_tables()
    _, validation = language.split()
    ids = language.stream(validation)
    logits = bigram_logits(train_counts, k, temperature)
    loss = F.cross_entropy(logits[ids[:-1]], ids[1:])  # the causal shift: predict each next character
    unseen = int(validation_counts[train_counts == 0].sum()) if k == 0 else 0
    perplexity, bits = torch.exp(loss), loss / math.log(2)
    as32 = [x.to(torch.float32) for x in (loss, perplexity, bits)]
    message = describe(k, temperature, *(x.item() for x in as32), unseen, len(language.vocabulary()))
    return Result(True, message, "float32", dict(zip(("loss", "perplexity", "bits"), as32)))


class BigramExplorable(Explorable):
    """Chapter 13: move add-k and the temperature; watch the bigram model's validation loss, perplexity and bits."""

    front_end = "bigram.js"
    style = "bigram.css"
    INPUTS = ("k", "temperature")

    k = traitlets.Unicode("1").tag(sync=True)
    temperature = traitlets.Unicode("1").tag(sync=True)
    vocabulary = traitlets.Unicode().tag(sync=True)
    train_counts = traitlets.List().tag(sync=True)  # C x C, row-major: (previous, next)
    validation_counts = traitlets.List().tag(sync=True)

    def __init__(self, **kwargs):
        train_counts, validation_counts = language.bigram_tables()
        super().__init__(vocabulary=language.vocabulary(), train_counts=train_counts.flatten().tolist(),
                         validation_counts=validation_counts.flatten().tolist(), **kwargs)

    @classmethod
    def compute(cls, inputs):
        return compute(inputs)
