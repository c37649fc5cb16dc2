"""Trained models cached on local disk, so several analyses can share one training run.

Checkpoints live in ``<results root>/_checkpoints`` and are never committed;
the small result records are. A missing checkpoint only costs retraining.
"""
from __future__ import annotations

from . import results
from .train import TrainConfig, build_model, describe, train
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
    data.refuse_if_no_compute(describe("checkpoints.trained", cfg))
    path = checkpoint_path(cfg)
    ds = data.load(cfg.dataset)
    state = results.load_torch(path) if on_epoch is None else None
    if state is not None:
        try:
            model = build_model(cfg, ds)
            model.load_state_dict(state["model"])
            model.eval()
            return model, state["history"], state["metrics"]
        except Exception:  # noqa: BLE001  a checkpoint that does not fit the model is just retrained
            path.unlink(missing_ok=True)
    # An interrupted run continues from its last saved epoch. Not with a hook: the hook must see every epoch.
    partial = partial_path(cfg) if on_epoch is None else None
    model, history, metrics = train(cfg, ds, progress=progress, on_epoch=on_epoch, resume_path=partial)
    if not path.exists():
        results.save_torch(path, {"model": model.state_dict(), "history": history, "metrics": metrics})
    if partial is not None:
        partial.unlink(missing_ok=True)
    return model, history, metrics


def unfinished() -> list[dict]:
    """Training runs that saved their state but have not finished (running now, or interrupted), newest first:
    their config, epochs done, elapsed seconds and last history entry."""
    rows = []
    folder = results.results_root() / "_checkpoints"
    for path in sorted(folder.glob("*.partial.pt"), key=lambda p: p.stat().st_mtime, reverse=True):
        state = results.load_torch(path, discard_damaged=False)  # removed, if damaged, by the run that resumes
        try:
            cfg = TrainConfig.from_dict(state["config"])
        except (TypeError, KeyError, ValueError):  # damaged, or a config this version no longer accepts
            continue
        rows.append({"config": cfg, "epoch": state["epoch"], "elapsed": state["elapsed"],
                     "last": state["history"][-1] if state["history"] else {}, "path": path})
    return rows


def progress_text() -> str:
    """One line per unfinished training run, with an estimate of the time it still needs at its pace so far."""
    rows = unfinished()
    if not rows:
        return f"no unfinished training runs in {results.results_root() / '_checkpoints'}"
    lines = []
    for r in rows:
        c, done = r["config"], r["epoch"]
        left = r["elapsed"] / done * (c.epochs - done) / 60
        accs = ", ".join(f"{k} {r['last'][k]:.4f}" for k in ("train_acc", "test_acc") if k in r["last"])
        lines.append(f"{c.arch} d{c.depth} w{c.width} {c.skip} {c.dataset} seed {c.seed}: epoch {done}/{c.epochs}, "
                     f"{r['elapsed'] / 60:.1f} min so far, ~{left:.0f} min to go; {accs}")
    return "\n".join(lines)
