"""Entangled Residual Mappings experiments: train a network with a given skip family, report accuracy."""
from __future__ import annotations

from .. import checkpoints, data
from ..train import TrainConfig
from . import experiment, grid_runs

# Sequence-task defaults (ERM-4): a small residual RNN, SGD with momentum and gradient clipping.
RNN_DEFAULTS = {**TrainConfig().to_dict(), "arch": "resrnn", "dataset": "seq-motif", "depth": 1, "width": 64,
                "epochs": 20, "batch_size": 128, "lr": 0.02, "momentum": 0.9, "weight_decay": 0.0,
                "grad_clip": 1.0}


def _validate(cfg: dict) -> None:
    TrainConfig.from_dict(cfg)


# Training options added since (see TrainConfig._LATER_OPTIONS), other than grad_clip which is a default here.
LATER = {k: getattr(TrainConfig(), k) for k in TrainConfig._LATER_OPTIONS if k not in RNN_DEFAULTS}


@experiment("erm_train", version=1, defaults=RNN_DEFAULTS, validate=_validate, later=LATER)
def erm_train(cfg: dict) -> dict:
    """Train (or load) one network; metrics are eval-mode accuracies and the generalisation gap."""
    tcfg = TrainConfig.from_dict(cfg)
    _, history, metrics = checkpoints.trained(tcfg)
    return {"metrics": {**metrics, "gap": metrics["train_acc"] - metrics["test_acc"],
                        "chance": 1 / data.load(tcfg.dataset).num_classes}, "history": history}


def runs(tasks: list[str], skips: list[str], seeds: list[int], **options) -> list[dict]:
    """Records of ``erm_train`` for every task (dataset) x skip x seed."""
    return grid_runs("erm_train", tasks, skips, seeds, **options)


def table(records: list[dict]):
    import pandas as pd

    return pd.DataFrame([{"task": r["config"]["dataset"], "skip": r["config"]["skip"], "seed": r["config"]["seed"],
                          **{k: r["metrics"][k] for k in ("train_acc", "test_acc", "gap", "chance")}}
                         for r in records])
