"""The book's running example: five rows of three logits and their target classes (chapters 2-10 type it in).

Its cross entropy is printed by every chapter as ``tensor(1.3577)``. Tests, benchmarks and explorables take it
from here rather than typing it again.
"""

import torch

LOGITS = (
    (1.3877, -1.2656, -0.9112),
    (0.6011, 0.0092, -0.0982),
    (-0.0674, -0.2059, 0.3410),
    (1.3918, 0.2355, 0.4159),
    (-0.6652, -1.6354, -0.9315),
)
TARGET = (2, 0, 1, 0, 1)


def running_example(dtype=torch.float32):
    """The running example as fresh tensors: (logits of shape 5 x 3, target of shape 5)."""
    return torch.tensor(LOGITS, dtype=dtype), torch.tensor(TARGET)
