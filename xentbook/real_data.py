"""Chapter 12's real data: scikit-learn's handwritten digits, a seeded split, a small training loop, calibration.

The digits ship inside the scikit-learn wheel (``sklearn.datasets.load_digits``: 1,797 images of 8 x 8 pixels,
10 classes), so nothing is downloaded. Training is deterministic: seeded, and run on one thread, so that
the number of cores a machine has cannot change how a product's sums are split.
"""

import contextlib
import functools

import torch
import torch.nn.functional as F
from torch import nn

from xentbook.scratch import log_softmax, nll

SEED = 0
TRAIN = 400  # rows to train on: few enough that a hidden layer overfits them within a second
VALIDATION = 360  # rows held out for validation (about a fifth of 1,797); the rest are held out for calibration
BATCH = 64


def load_digits_tensors():
    """(features, target): the 1,797 digits as float32 rows of 64 pixels scaled to [0, 1], and their classes."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    features = torch.tensor(digits.data, dtype=torch.float32) / 16  # pixel values are 0 to 16
    target = torch.tensor(digits.target, dtype=torch.int64)
    return features, target


def split(features, target, train=TRAIN, validation=VALIDATION, seed=SEED):
    """A seeded shuffle into three disjoint sets: the first ``train`` rows to train on, the last ``validation`` rows
    to validate on, the rows between held out (to fit a temperature): a dict of (features, target) pairs."""
    order = torch.randperm(len(target), generator=torch.Generator().manual_seed(seed))
    parts = {"train": order[:train], "held_out": order[train:-validation], "validation": order[-validation:]}
    return {name: (features[rows], target[rows]) for name, rows in parts.items()}


@contextlib.contextmanager
def one_thread():
    """Run the block on one thread, then restore the thread count: the same bits on every machine's core count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def make_model(hidden=0, features=64, classes=10, seed=SEED):
    """Softmax regression (``hidden=0``) or one hidden ReLU layer of width ``hidden``, seeded."""
    torch.manual_seed(seed)
    if hidden == 0:
        return nn.Linear(features, classes)
    return nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes))


def scratch_loss(logits, target):
    """The book's own cross entropy: chapter 4's log_softmax, then its nll."""
    return nll(log_softmax(logits), target)


def squared_error_loss(logits, target):
    """Squared error between the softmax probabilities and the one-hot target, summed over classes, averaged."""
    probs = torch.softmax(logits, dim=1)
    return ((probs - F.one_hot(target, logits.shape[1]).to(probs.dtype)) ** 2).sum(dim=1).mean()


def evaluate(model, features, target):
    """(mean cross entropy, accuracy) of the model on the rows, without gradients."""
    with torch.no_grad():
        logits = model(features)
        return F.cross_entropy(logits, target).item(), (logits.argmax(dim=1) == target).float().mean().item()


def train(sets, hidden=0, epochs=30, lr=0.5, weight_decay=0.0, label_smoothing=0.0, loss_fn=None, seed=SEED):
    """Mini-batch SGD on ``sets["train"]``, validated on ``sets["validation"]``: the model and its history.

    ``loss_fn(logits, target)`` defaults to ``F.cross_entropy`` with ``label_smoothing``. The history holds the
    training loss (mean over the epoch's rows: each batch's loss weighted by its number of rows) and the validation
    loss and accuracy after each epoch."""
    (x_train, y_train), (x_val, y_val) = sets["train"], sets["validation"]
    if loss_fn is None:
        loss_fn = functools.partial(F.cross_entropy, label_smoothing=label_smoothing)
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    with one_thread():
        model = make_model(hidden, x_train.shape[1], int(y_train.max()) + 1, seed)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay)
        shuffle = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            order = torch.randperm(len(y_train), generator=shuffle)
            total = 0.0
            for start in range(0, len(order), BATCH):
                rows = order[start:start + BATCH]
                loss = loss_fn(model(x_train[rows]), y_train[rows])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(rows)
            history["train_loss"].append(total / len(order))
            val_loss, val_accuracy = evaluate(model, x_val, y_val)
            history["val_loss"].append(val_loss)
            history["val_accuracy"].append(val_accuracy)
    return model, history


def reliability(probs, target, bins=10):
    """Equal-width bins of confidence (the top probability) on [0, 1]: per bin (count, accuracy, confidence), ECE.

    A row with confidence c falls in bin ``min(floor(c * bins), bins - 1)`` (so bin k holds k/bins <= c <
    (k+1)/bins, the last bin also c = 1). ECE = sum over bins of count/m * |accuracy - confidence|."""
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == target).to(probs.dtype)
    index = torch.clamp((confidence * bins).floor().long(), max=bins - 1)
    count = torch.bincount(index, minlength=bins).to(probs.dtype)
    hits = torch.bincount(index, weights=correct, minlength=bins).to(probs.dtype)
    sure = torch.bincount(index, weights=confidence, minlength=bins).to(probs.dtype)
    filled = count > 0
    accuracy = torch.where(filled, hits / count.clamp(min=1), torch.zeros_like(count))
    mean_confidence = torch.where(filled, sure / count.clamp(min=1), torch.zeros_like(count))
    ece = ((count / len(target)) * (accuracy - mean_confidence).abs()).sum()
    return count, accuracy, mean_confidence, ece


def fit_temperature(logits, target, steps=200):
    """The temperature T > 0 that minimises the NLL of logits / T (one parameter: log T, by L-BFGS)."""
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")
    wide = logits.double()

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(wide / log_t.exp(), target)
        loss.backward()
        return loss

    optimizer.step(closure)
    return log_t.exp().item()


# The chapter's overconfident model, whose validation logits the explorable carries.
CALIBRATION_MODEL = dict(hidden=128, epochs=100, lr=0.5)


@functools.lru_cache(maxsize=1)
def calibration_logits():
    """(logits, target) of the validation set under the chapter's hidden-layer model, logits in float32."""
    sets = split(*load_digits_tensors())
    model, _ = train(sets, **CALIBRATION_MODEL)
    features, target = sets["validation"]
    with torch.no_grad(), one_thread():
        return model(features).float(), target
