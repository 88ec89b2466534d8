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

# Chapter 2's model: five examples with four features each. A linear model logits = FEATURES @ W + b has 4 x 3
# weights and 3 biases, 15 numbers, as many as the logits: the W and b that reproduce the running example are the
# solution of one linear system (model_weights). Chapter 6 then trains them by gradient descent.
FEATURES = (
    (-1.1, -1.2, -0.3, -0.4),
    (0.6, -1.6, -0.3, 1.9),
    (0.5, -0.2, 1.4, 0.3),
    (1.4, 1.6, 0.9, -0.8),
    (0.9, 1.3, 2.0, 0.1),
)


def model_weights(dtype=torch.float32):
    """The weights W (4 x 3) and bias b (3) for which FEATURES @ W + b is the running example's logits."""
    features = torch.tensor(FEATURES, dtype=torch.float64)
    with_ones = torch.cat([features, torch.ones(len(FEATURES), 1, dtype=torch.float64)], dim=1)
    solution = torch.linalg.solve(with_ones, torch.tensor(LOGITS, dtype=torch.float64))
    return solution[:-1].to(dtype), solution[-1].to(dtype)
