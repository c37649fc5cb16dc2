"""Trained models cached on local disk, so several analyses can share one training run.

Checkpoints live in ``<results root>/_checkpoints`` and are never committed;
the small result records are. A missing checkpoint only costs retraining.
"""
from __future__ import annotations

import io

import torch

from . import results
from .train import TrainConfig, build_model, train
from . import data

TRAIN_VERSION = 1  # bump when training changes in a way that changes the weights


def checkpoint_path(cfg: TrainConfig):
    key = results.config_key("train", TRAIN_VERSION, cfg.to_dict())
    return results.results_root() / "_checkpoints" / f"{key}.pt"


def trained(cfg: TrainConfig, progress: bool | None = None):
    """``(model, history, metrics)`` for ``cfg``: loaded from the checkpoint cache, else trained and saved."""
    path = checkpoint_path(cfg)
    ds = data.load(cfg.dataset)
    if path.exists():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model = build_model(cfg, ds)
            model.load_state_dict(state["model"])
            model.eval()
            return model, state["history"], state["metrics"]
        except Exception:  # noqa: BLE001  a damaged checkpoint is just retrained
            path.unlink(missing_ok=True)
    model, history, metrics = train(cfg, ds, progress=progress)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "history": history, "metrics": metrics}, buf)
    results.atomic_write_bytes(path, buf.getvalue())
    return model, history, metrics
