"""The book's from-scratch functions, exactly as the chapters define them.

Each chapter writes its own functions in front of the reader; later chapters import the earlier ones from here,
so that every notebook still runs when opened alone. ``tests/test_notebooks.py`` checks that the source of each
function below is the same, to the letter, as the cell that defines it in its chapter.
"""

import torch


def sigmoid(z):
    """Squash logits into probabilities: 1 / (1 + exp(-z))."""
    return 1 / (1 + torch.exp(-z))


def bce(probs, target):
    """Binary cross entropy, averaged: -(y log p + (1 - y) log(1 - p))."""
    if probs.shape != target.shape or probs.dtype != target.dtype or not probs.is_floating_point():
        raise ValueError("bce takes float probabilities and a target of the same shape and dtype")
    if not (((probs >= 0) & (probs <= 1)).all() and ((target >= 0) & (target <= 1)).all()):
        raise ValueError("bce takes probabilities and targets from 0 to 1")
    return -(target * torch.log(probs) + (1 - target) * torch.log(1 - probs)).mean()


def softmax(logits):
    """Softmax over the last dimension: exp(logits) divided by its row sum."""
    exps = torch.exp(logits)
    return exps / exps.sum(dim=-1, keepdim=True)


def nl(input, target):
    """Naive loss: softmax, pick each row's target probability, -log, mean."""
    if input.dim() != 2 or target.shape != input.shape[:1] or (target < 0).any():
        raise ValueError("nl takes logits of shape (m, C) and m class indices from 0 to C - 1")
    probs = softmax(input)
    m = target.shape[0]
    return -torch.log(probs[range(m), target]).mean()


def log_softmax(logits):
    """Stable log-softmax over the last dimension: (z - max) - log(sum(exp(z - max)))."""
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    return shifted - torch.log(torch.exp(shifted).sum(dim=-1, keepdim=True))


def nll(input, target):
    """Negative log-likelihood: minus each row's log-probability of its target, averaged."""
    m, C = input.shape
    if ((target < 0) | (target >= C)).any():
        raise IndexError(f"target out of bounds: the classes are 0 to {C - 1}")
    return -input[range(m), target].mean()
