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


def partial_path(cfg: TrainConfig):
    """Where an unfinished training run of ``cfg`` keeps its state (see :func:`entres.train.train`)."""
    return checkpoint_path(cfg).with_suffix(".partial.pt")


def trained(cfg: TrainConfig, progress: bool | None = None, on_epoch=None):
    """``(model, history, metrics)`` for ``cfg``: loaded from the checkpoint cache, else trained and saved.

    With ``on_epoch`` (see :func:`entres.train.train`) the model is always trained, since the hook
    must see every epoch; training is deterministic, so the weights equal the cached ones.
    """
    path = checkpoint_path(cfg)
    ds = data.load(cfg.dataset)
    if path.exists() and on_epoch is None:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model = build_model(cfg, ds)
            model.load_state_dict(state["model"])
            model.eval()
            return model, state["history"], state["metrics"]
        except Exception:  # noqa: BLE001  a damaged checkpoint is just retrained
            path.unlink(missing_ok=True)
    # An interrupted run continues from its last saved epoch. Not with a hook: the hook must see every epoch.
    partial = partial_path(cfg) if on_epoch is None else None
    model, history, metrics = train(cfg, ds, progress=progress, on_epoch=on_epoch, resume_path=partial)
    if not path.exists():
        buf = io.BytesIO()
        torch.save({"model": model.state_dict(), "history": history, "metrics": metrics}, buf)
        results.atomic_write_bytes(path, buf.getvalue())
    if partial is not None:
        partial.unlink(missing_ok=True)
    return model, history, metrics
