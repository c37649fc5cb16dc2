"""How long a training run spent in the terminal phase (train accuracy at a bar), from its per-epoch history.

The claims' regime gates (:mod:`entres.claims.protocol`) and the experiments that store regime metrics
(:mod:`entres.experiments.spectra`) both count with these, so the two can never disagree.
"""
from __future__ import annotations

BAR = 0.999  # the terminal phase of SPEC §8: train accuracy at or above this


def first_epoch_at(history: list[dict], bar: float = BAR) -> int:
    """The first epoch (1-based) whose train accuracy reached ``bar``; 0 if none did."""
    return next((i + 1 for i, e in enumerate(history) if e.get("train_acc", 0.0) >= bar), 0)


def steps_after_first(history: list[dict], steps_per_epoch: int, bar: float = BAR) -> int:
    """SGD steps after train accuracy first reached ``bar`` (dips below it later included)."""
    first = first_epoch_at(history, bar)
    return (len(history) - first) * int(steps_per_epoch) if first else 0


def steps_held(history: list[dict], steps_per_epoch: int, bar: float = BAR) -> int:
    """SGD steps of the final unbroken run of epochs at or above ``bar`` (0 if the last epoch is below it)."""
    held = 0
    for epoch in reversed(history):
        if epoch.get("train_acc", 0.0) < bar:
            break
        held += 1
    return held * int(steps_per_epoch)
