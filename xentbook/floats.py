"""Bit-level helpers for floating-point formats: neighbours, spacing (ulp), values from bit patterns.

Positive floats of one format sort like their bit patterns read as integers, so the next value up is the pattern
plus one. These serve the explorables, the tests and the measuring code; chapter 7 teaches the same ideas in cells.
"""

import torch

BITS = {torch.float16: torch.int16, torch.bfloat16: torch.int16, torch.float32: torch.int32, torch.float64: torch.int64}
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}


def as_dtype(dtype):
    """A torch dtype from its name ("float16", ...) or itself."""
    return DTYPES[dtype] if isinstance(dtype, str) else dtype


def from_bits(bits, dtype):
    """The value of format ``dtype`` whose bit pattern is the integer ``bits``."""
    dtype = as_dtype(dtype)
    return torch.tensor(bits, dtype=BITS[dtype]).view(dtype)


def to_bits(values):
    """The bit patterns of a tensor's values, as integers of the same width."""
    return values.view(BITS[values.dtype])


def next_down(values):
    """The representable value just below each positive value (same format)."""
    return (to_bits(values) - 1).view(values.dtype)


def ulp(values):
    """The gap from each value's magnitude to the next representable number up, in float64."""
    magnitude = values.abs()
    return ((to_bits(magnitude) + 1).view(values.dtype) - magnitude).to(torch.float64)
