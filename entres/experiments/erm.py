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
LATER = {k: v for k, v in TrainConfig.later_defaults().items() if k not in RNN_DEFAULTS}


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


# CIFAR ResNet defaults (ERM-1/3/5): ResNet-20, SGD with momentum, augmentation, cosine schedule.
CNN_DEFAULTS = {**TrainConfig().to_dict(), "arch": "rescnn", "dataset": "cifar10", "depth": 20, "width": 16,
                "epochs": 30, "batch_size": 128, "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "augment": True}


# Version 2: the gradient cosine compares F_l with −∂L/∂(E h + F_l) (v1 took ∂L/∂h before E: wrong coordinates for
# E ≠ I), is defined at the stage changes too, and the linear probes start at zero (relabelling-equivariant).
ERM_REFINEMENT_VERSION = 2


@experiment("erm_refinement", version=ERM_REFINEMENT_VERSION,
            defaults={**CNN_DEFAULTS, "n_samples": 1000, "n_probe_train": 5000, "n_probe_test": 2000,
                      "sample_seed": 0},
            validate=TrainConfig.from_options, later=LATER)
def erm_refinement(cfg: dict) -> dict:
    """ERM-5: iterative-refinement measures of every block of a trained network (SPEC §6)."""
    from .. import refinement

    tcfg = TrainConfig.from_options(cfg)
    model, history, metrics = checkpoints.trained(tcfg)
    ds = data.load(tcfg.dataset)
    idx = data.stratified_indices(ds.y_test, min(cfg["n_samples"], len(ds.y_test)), seed=cfg["sample_seed"])
    x, y = ds.x_test[idx], ds.y_test[idx]
    blocks = refinement.block_updates(model, x, y)
    for b, acc in zip(blocks, refinement.drop_accuracies(model, x, y)):
        b["drop_accuracy"] = acc
    tr = data.stratified_indices(ds.y_train, min(cfg["n_probe_train"], len(ds.y_train)), seed=cfg["sample_seed"])
    te = data.stratified_indices(ds.y_test, min(cfg["n_probe_test"], len(ds.y_test)), seed=cfg["sample_seed"] + 1)
    f_train = refinement.block_features(model, ds.x_train[tr])
    f_test = refinement.block_features(model, ds.x_test[te])
    probes = [refinement.probe_accuracy(a, ds.y_train[tr], b, ds.y_test[te], ds.num_classes)
              for a, b in zip(f_train, f_test)]
    for b, acc in zip(blocks, probes[1:]):
        b["probe_accuracy"] = acc
    return {"metrics": {**metrics, "sample_acc": refinement.accuracy(model, x, y), "stem_probe_accuracy": probes[0]},
            "history": history, "arrays": {"blocks": blocks}}
