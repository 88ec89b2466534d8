"""Chapter 13's text and its character vocabulary: the names of Unicode's characters, as every CPython ships them.

The text is one name a line, lower-cased, of every character from U+0020 to U+2FFF that Unicode 3.2 assigned,
read from ``unicodedata.ucd_3_2_0`` (the frozen Unicode 3.2 database that CPython keeps for IDNA). A character's
name never changes once assigned (Unicode's stability policy), so the text is the same on every CPython 3.11+;
``TEXT_SHA256`` pins it. Every tenth name is kept for validation, the rest is for training.
"""

import functools
import hashlib
import unicodedata

import torch

FIRST, LAST = 0x20, 0x2FFF  # below U+3000: the CJK ideographs and Hangul syllables after it have generated names
TEXT_SHA256 = "3ee107267bf47bbe"  # the first 16 hex digits of the whole text's SHA-256
VALIDATION_EVERY = 10  # name i goes to validation when i % 10 == 9


@functools.cache
def names():
    """The lower-cased Unicode 3.2 names of U+0020 to U+2FFF, in code point order (unnamed code points skipped)."""
    found = []
    for code_point in range(FIRST, LAST + 1):
        try:
            found.append(unicodedata.ucd_3_2_0.name(chr(code_point)).lower())
        except ValueError:  # unassigned in Unicode 3.2, or a control character (no name)
            pass
    return tuple(found)


def text_of(lines):
    """Names joined as the model reads them: each one followed by a newline."""
    return "".join(line + "\n" for line in lines)


def checksum(text):
    """The first 16 hex digits of the text's SHA-256 (UTF-8)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.cache
def split():
    """(train text, validation text): every tenth name for validation, the others for training."""
    lines = names()
    train = [line for i, line in enumerate(lines) if i % VALIDATION_EVERY != VALIDATION_EVERY - 1]
    validation = [line for i, line in enumerate(lines) if i % VALIDATION_EVERY == VALIDATION_EVERY - 1]
    return text_of(train), text_of(validation)


@functools.cache
def vocabulary():
    """The characters of the whole text, sorted: class j is vocabulary()[j]."""
    return "".join(sorted(set(text_of(names()))))


def encode(text):
    """The class indices of a text's characters (int64)."""
    index = {ch: j for j, ch in enumerate(vocabulary())}
    return torch.tensor([index[ch] for ch in text], dtype=torch.int64)


def decode(ids):
    """The text of a sequence of class indices."""
    chars = vocabulary()
    return "".join(chars[j] for j in ids)


def stream(text):
    """A text as one stream of class indices, starting at a newline (the start of a name)."""
    return encode("\n" + text)


def pair_counts(ids, C):
    """The C x C table of bigram counts: entry (a, b) counts b right after a (int64)."""
    return torch.bincount(ids[:-1] * C + ids[1:], minlength=C * C).reshape(C, C)


@functools.cache
def bigram_tables():
    """(train counts, validation counts) of the character bigrams, C x C int64 each."""
    train, validation = split()
    C = len(vocabulary())
    return pair_counts(stream(train), C), pair_counts(stream(validation), C)
