"""Seeded, deterministic training on in-memory tensors.

Defaults follow the Residual Alignment authors: SGD, lr 0.1, no momentum,
weight decay 1e-2, cosine schedule, batch 1024. Same config and seed on the
same machine (and thread count) -> bitwise identical weights and numbers.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import data, devices, mappings, models, results, runlog
from .models import onednn_linear


# Architectures trained in channels_last by default. The RA conv net (resconv) is not among them: its
# committed results were computed in the default layout, and a layout changes the last bits of a conv.
CHANNELS_LAST_ARCHS = ("rescnn",)
# Architectures whose linear layers the onednn_linear switch affects (it pays at the ResMLP's sizes).
ONEDNN_LINEAR_ARCHS = ("resmlp",)


OPTIMIZERS = ("sgd", "adamw")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "fashionmnist"
    arch: str = "resmlp"
    depth: int = 16
    width: int = 128
    skip: str = "identity"
    skip_params: dict = field(default_factory=dict)
    epochs: int = 200
    batch_size: int = 1024
    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 1e-2
    schedule: str = "cosine"  # cosine | constant
    augment: bool = False
    n_train: int = 0  # 0 = the whole training split; else a stratified subset
    seed: int = 0
    grad_clip: float = 0.0  # max global gradient norm; 0 = no clipping
    eval_every: int = 1  # test-set evaluation every this many epochs (and after the last)
    channels_last: bool = True  # rescnn only: NHWC layout, oneDNN's fast conv path (benchmarks/training_speed.py)
    bf16: bool = False  # bfloat16 autocast for the forward pass (faster; off until shown not to change accuracy)
    optimizer: str = "sgd"  # sgd | adamw (decoupled weight decay, default betas (0.9, 0.999); momentum is SGD's only)
    warmup_epochs: int = 0  # linear learning-rate warm-up before the schedule
    # resmlp on CPU: the linear layers' training products through oneDNN (entres.models.onednn_linear);
    # faster only while MKL runs its AVX2 kernels (no MKL shim, entres.mkl_dispatch), and the last bits
    # differ from MKL's, so off: committed results keep reproducing exactly.
    onednn_linear: bool = False
    # torch.compile the training forward (and so its backward); eval stays eager. Pays only on long runs:
    # compiling takes tens of seconds per process (benchmarks/training_speed.py).
    torch_compile: bool = False

    # Options added after the first results: left out of to_dict() (and so of every cache key) while
    # they hold their default, so results computed before they existed keep their keys.
    _LATER_OPTIONS = ("grad_clip", "eval_every", "channels_last", "bf16", "optimizer", "warmup_epochs",
                      "onednn_linear", "torch_compile")

    def __post_init__(self):
        data.parse_name(self.dataset)
        mappings.check_name(self.skip)
        if self.arch not in models.names():
            raise ValueError(f"unknown architecture {self.arch!r}; valid: {', '.join(models.names())}")
        for name in ("depth", "width", "epochs", "batch_size", "eval_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.n_train < 0:
            raise ValueError(f"n_train must be >= 0 (0 = all), got {self.n_train}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"unknown schedule {self.schedule!r}; valid: cosine, constant")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if not isinstance(self.warmup_epochs, int) or not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"warmup_epochs must be an integer in [0, epochs), got {self.warmup_epochs!r}")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip must be >= 0 (0 = off), got {self.grad_clip}")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        valid = {f.name for f in fields(cls)}
        unknown = set(d) - valid
        if unknown:
            raise ValueError(f"unknown training option(s) {sorted(unknown)}; valid: {sorted(valid)}")
        return cls(**d)

    @classmethod
    def from_options(cls, options: dict) -> "TrainConfig":
        """The training part of a larger option dict (an experiment's config): its TrainConfig fields."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in names})

    @classmethod
    def later_defaults(cls) -> dict:
        """The options of ``_LATER_OPTIONS`` with their defaults (experiments accept them as ``later``)."""
        return {k: getattr(cls(), k) for k in cls._LATER_OPTIONS}

    def to_dict(self) -> dict:
        d = asdict(self)
        defaults = {f.name: f.default for f in fields(self)}
        return {k: v for k, v in d.items() if not (k in self._LATER_OPTIONS and v == defaults[k])}


def describe(call: str, cfg: TrainConfig) -> str:
    """``call`` with the options that tell one training run from another, for messages."""
    return f"{call}({cfg.arch}, {cfg.skip}, {cfg.dataset}, depth {cfg.depth}, seed {cfg.seed})"


def build_model(cfg: TrainConfig, ds: data.Dataset) -> torch.nn.Module:
    return models.create(cfg.arch, in_shape=ds.input_shape, num_classes=ds.num_classes,
                         depth=cfg.depth, width=cfg.width, skip=cfg.skip,
                         skip_seed=cfg.seed, skip_params=cfg.skip_params)


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2048) -> dict:
    """Loss and accuracy in eval mode."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        out = model(x[i:i + batch_size])
        loss += F.cross_entropy(out, y[i:i + batch_size], reduction="sum").item()
        correct += (out.argmax(1) == y[i:i + batch_size]).sum().item()
    return {"loss": loss / len(x), "acc": correct / len(x)}


def sgd_steps(cfg: "TrainConfig | dict") -> int:
    """The optimiser steps a training run takes, from its config alone (no data is loaded): epochs times
    batches per epoch. ``cfg`` is a :class:`TrainConfig` or a result's config (its training options)."""
    if isinstance(cfg, dict):
        cfg = TrainConfig.from_options(cfg)
    return cfg.epochs * math.ceil(data.train_size(cfg.dataset, cfg.n_train) / cfg.batch_size)


def training_split(cfg: TrainConfig, ds: data.Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """The training inputs and labels a run with ``cfg`` sees (a stratified subset if ``n_train``)."""
    if not cfg.n_train:
        return ds.x_train, ds.y_train
    idx = data.stratified_indices(ds.y_train, cfg.n_train, seed=cfg.seed)
    return ds.x_train[idx], ds.y_train[idx]


def make_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def lr_schedule(cfg: TrainConfig, steps_per_epoch: int):
    """Learning rate at each optimiser step: linear warm-up, then cosine decay to 0 (or constant)."""
    total, warm = cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch

    def lr_at(s: int) -> float:
        if s < warm:
            return cfg.lr * (s + 1) / warm
        if cfg.schedule == "constant":
            return cfg.lr
        return 0.5 * cfg.lr * (1 + math.cos(math.pi * (s - warm) / (total - warm)))
    return lr_at


def _save_state(path, cfg, model, opt, g, history, step, epoch, elapsed) -> None:
    results.save_torch(path, {"config": cfg.to_dict(), "model": model.state_dict(), "optimizer": opt.state_dict(),
                              "generator": g.get_state(), "torch_rng": torch.get_rng_state(), "history": history,
                              "step": step, "epoch": epoch, "elapsed": elapsed})


def _load_state(path, cfg: TrainConfig) -> dict | None:
    """The saved training state for ``cfg`` at ``path``; None (and the file removed) if absent, damaged or
    from another config."""
    state = results.load_torch(path)
    if state is not None and state["config"] == cfg.to_dict():
        return state
    Path(path).unlink(missing_ok=True)
    return None


def train(cfg: TrainConfig, ds: data.Dataset | None = None, progress: bool | None = None, on_epoch=None,
          resume_path=None, save_every_s: float = 60.0):
    """Train a model; return ``(model, history, metrics)``.

    ``history`` has one entry per epoch (train loss/acc as seen during the epoch,
    test loss/acc in eval mode, lr); ``metrics`` the final eval-mode train and test
    loss and accuracy. Raises :class:`TrainingDiverged` on a non-finite loss.
    Training runs on ``ENTRES_DEVICE`` (:mod:`entres.devices`); the model is returned on the CPU.
    ``on_epoch(epoch, model)`` may return a dict merged into that epoch's history
    entry; it is called in eval mode under ``no_grad``, with the model still on the
    training device, and must not touch the training state (it does not change the
    trained weights).

    With ``resume_path``, the training state (weights, optimiser, random generators, history) is saved
    there at the end of an epoch once ``save_every_s`` seconds have passed since the last save, and a run
    that finds a state of the same config there continues from it. A resumed run ends with the same
    weights and history as an uninterrupted one; the caller deletes the file when it no longer needs it.
    """
    data.refuse_if_no_compute(describe("train.train", cfg))
    ds = ds or data.load(cfg.dataset)
    dev = devices.current()
    x_train, y_train = (t.to(dev) for t in training_split(cfg, ds))
    x_test, y_test = ds.x_test.to(dev), ds.y_test.to(dev)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, ds)
    if cfg.channels_last and cfg.arch in CHANNELS_LAST_ARCHS:
        model = model.to(memory_format=torch.channels_last)
    model = model.to(dev)
    if cfg.onednn_linear and cfg.arch in ONEDNN_LINEAR_ARCHS and dev.type == "cpu":
        onednn_linear.use_onednn_linears(model)
    forward = torch.compile(model, dynamic=False) if cfg.torch_compile else model
    # On a GPU, reading the loss every step would stall the queue: sums stay on the device (float64, the
    # same arithmetic as Python floats) and the divergence check moves to the epoch's end.
    check_every_step = dev.type == "cpu"
    opt = make_optimizer(cfg, model)
    steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
    lr_at = lr_schedule(cfg, steps_per_epoch)
    g = torch.Generator().manual_seed(cfg.seed)
    history, step, first_epoch, elapsed = [], 0, 0, 0.0
    if resume_path is not None and (saved := _load_state(resume_path, cfg)) is not None:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        g.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
        history, step, first_epoch, elapsed = saved["history"], saved["step"], saved["epoch"], saved["elapsed"]
    start = last_save = time.perf_counter()
    bar = tqdm(range(first_epoch, cfg.epochs), desc=f"{cfg.arch}/{cfg.skip}/{cfg.dataset} seed {cfg.seed}",
               disable=None if progress is None else not progress, leave=False,
               initial=first_epoch, total=cfg.epochs)
    for epoch in bar:
        model.train()
        perm = torch.randperm(len(x_train), generator=g).to(dev)
        loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        correct = torch.zeros((), dtype=torch.int64, device=dev)
        if cfg.augment:  # the epoch's crops and flips in one copy: a copy per step would sync a GPU every step
            sizes = [min(cfg.batch_size, len(x_train) - i * cfg.batch_size) for i in range(steps_per_epoch)]
            draws = [t.to(dev) for t in data.augment_draws(sizes, g)]
        for i in range(steps_per_epoch):
            sl = slice(i * cfg.batch_size, (i + 1) * cfg.batch_size)
            idx = perm[sl]
            xb, yb = x_train[idx], y_train[idx]
            if cfg.augment:
                xb = data.augment(xb, draws=tuple(t[sl] for t in draws))
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                out = forward(xb)
            loss = F.cross_entropy(out, yb)
            if check_every_step and not torch.isfinite(loss):
                raise TrainingDiverged(f"loss became {loss.item()} at epoch {epoch}, step {i} "
                                       f"({cfg.skip}, lr={cfg.lr}, seed={cfg.seed})")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            loss_sum += loss.detach().double() * len(idx)
            correct += (out.argmax(1) == yb).sum()
        loss_sum, correct = loss_sum.item(), correct.item()
        if not math.isfinite(loss_sum):
            raise TrainingDiverged(f"loss became {loss_sum} in epoch {epoch} ({cfg.skip}, lr={cfg.lr}, seed={cfg.seed})")
        history.append({"epoch": epoch + 1, "lr": lr_at(step - 1), "train_loss": loss_sum / len(x_train),
                        "train_acc": correct / len(x_train)})
        if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
            test = evaluate(model, x_test, y_test)
            history[-1].update(test_loss=test["loss"], test_acc=test["acc"])
        if on_epoch is not None:
            with torch.no_grad():
                history[-1].update(on_epoch(epoch + 1, model) or {})
        bar.set_postfix(train=f"{correct / len(x_train):.3f}", test=f"{history[-1].get('test_acc', float('nan')):.3f}")
        runlog.epoch_done(cfg, epoch + 1, elapsed + time.perf_counter() - start, history[-1])
        now = time.perf_counter()
        if resume_path is not None and epoch + 1 < cfg.epochs and now - last_save >= save_every_s:
            _save_state(resume_path, cfg, model, opt, g, history, step, epoch + 1, elapsed + now - start)
            last_save = now
    train_eval = evaluate(model, x_train, y_train)
    metrics = {"train_acc": train_eval["acc"], "train_loss": train_eval["loss"],
               "test_acc": history[-1]["test_acc"], "test_loss": history[-1]["test_loss"],
               "train_seconds": elapsed + time.perf_counter() - start}
    model.eval()
    onednn_linear.use_onednn_linears(model, False)
    return model.cpu(), history, metrics
