"""Synthetic sequence tasks for ERM-4, split by whether time matters.

A task is **time-invariant** if shifting its informative content in time leaves the target unchanged,
and **time-variant** if the target depends on *when* something happens. Every task is generated from
a fixed seed, so it is the same data on every machine.

- ``seq-motif`` (invariant): Gaussian noise, sometimes with a fixed 4-step motif inserted anywhere;
  target: is the motif present? (2 classes)
- ``seq-majority`` (invariant): one of 4 token types per step (one-hot); target: the most frequent type (4)
- ``seq-position`` (variant): one marker pulse at a random step in noise; target: which of 4 time windows
  holds it (4)
- ``seq-recall`` (variant): one of 4 token types per step; target: the token seen at step 3 (4)
- ``smnist`` (invariant): an MNIST digit read row by row (28 steps of 28 pixels); target: the digit (10)

Row-by-row MNIST counts as time-invariant: moving a digit up or down the image shifts its rows in time
and does not change its class.
"""
from __future__ import annotations

import numpy as np
import torch

TASKS = {"seq-motif": "invariant", "seq-majority": "invariant", "seq-position": "variant",
         "seq-recall": "variant", "smnist": "invariant"}
LENGTH, N_TRAIN, N_TEST = 48, 10000, 2000


def _motif(rng, n):
    x = rng.normal(0, 1, (n, LENGTH, 1))
    y = rng.integers(0, 2, n)
    motif = np.array([2.5, -2.5, 2.5, -2.5])[:, None]
    for i in np.flatnonzero(y):
        t = rng.integers(0, LENGTH - len(motif) + 1)
        x[i, t:t + len(motif)] += motif
    return x, y, 2


def _tokens(rng, n, k=4):
    tok = rng.integers(0, k, (n, LENGTH))
    return np.eye(k)[tok], tok


def _majority(rng, n):
    x, tok = _tokens(rng, n)
    counts = np.stack([(tok == c).sum(1) for c in range(4)], 1) + rng.random((n, 4)) * 0.5  # random tie-break
    return x, counts.argmax(1), 4


def _position(rng, n):
    x = rng.normal(0, 0.5, (n, LENGTH, 1))
    t = rng.integers(0, LENGTH, n)
    x[np.arange(n), t, 0] += 4.0
    return x, t // (LENGTH // 4), 4


def _recall(rng, n):
    x, tok = _tokens(rng, n)
    return x, tok[:, 3], 4


_GENERATORS = {"seq-motif": _motif, "seq-majority": _majority, "seq-position": _position, "seq-recall": _recall}


def generate(task: str, seed: int = 0):
    """(x_train, y_train, x_test, y_test, num_classes) as tensors; x shaped (N, T, features)."""
    if task not in _GENERATORS:
        raise ValueError(f"unknown sequence task {task!r}; valid: {', '.join(TASKS)}")
    rng = np.random.default_rng(seed)
    x, y, c = _GENERATORS[task](rng, N_TRAIN + N_TEST)
    x = torch.tensor(x, dtype=torch.float32)
    y = torch.tensor(y, dtype=torch.long)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:], c
