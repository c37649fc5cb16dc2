"""Where training runs: ``ENTRES_DEVICE`` (``cpu``, the default; ``cuda``; ``cuda:N``).

The device is not part of a result's config (a run is the same experiment wherever it runs) but it is
part of its provenance. Same seed, same device and thread count -> the same numbers; a GPU run is made
deterministic (cuDNN's deterministic algorithms, no autotuning) but will not match a CPU run bit for bit.
"""
from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from . import settings

VALID = "cpu, cuda, cuda:N"


def current() -> torch.device:
    """The device named by ``ENTRES_DEVICE``; a clear error if it is unknown or not available."""
    name = settings.device()
    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown ENTRES_DEVICE {name!r}; valid: {VALID}") from err
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unknown ENTRES_DEVICE {name!r}; valid: {VALID}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"ENTRES_DEVICE={name!r} but torch sees no CUDA device; valid here: cpu")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return dev


def describe(dev: torch.device) -> str:
    """The device for provenance, e.g. ``'cuda: NVIDIA H100 80GB HBM3'`` or ``'cpu: AMD EPYC'``."""
    if dev.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(dev)}"
    return f"cpu: {_cpu_name()}"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
