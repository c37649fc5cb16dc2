"""Model registry: every architecture takes ``skip=`` (a family of :mod:`entres.mappings`).

Uniform interface (timm-style):

- ``forward_features(x)``: the final representation before the classifier;
- ``trajectory(x)``: (B, L+1, ...) the stem output h_0 and every block output h_1..h_L
  (``representations(x)``, a list, where shapes change between stages);
- ``blocks``: the residual blocks, each with ``.branch(h)`` = F_l(h) and ``.skip``.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    def wrap(cls):
        _REGISTRY[name] = cls
        return cls
    return wrap


def names() -> list[str]:
    return list(_REGISTRY)


def create(arch: str, **kwargs) -> nn.Module:
    if arch not in _REGISTRY:
        raise ValueError(f"unknown architecture {arch!r}; valid: {', '.join(_REGISTRY)}")
    return _REGISTRY[arch](**kwargs)


from . import rescnn, resconv, resmlp, resrnn, vit  # noqa: E402,F401  (registers)
