"""Skip mappings E: the one seam of the library (SPEC §3).

A residual block computes ``h <- sigma(E h + F(h))``. ``E`` is a fixed square
matrix acting on the feature axis: features of an MLP, channels of a CNN (a
fixed 1x1 convolution at every position), the embedding of each ViT token, or
an RNN's hidden state. Every family is built from a seed, so the same name,
dimension and seed always give the same matrix.

>>> E = build("sparse", dim=8, seed=0)
>>> E(torch.randn(4, 8)).shape
torch.Size([4, 8])
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

_REGISTRY: dict[str, Callable[..., torch.Tensor]] = {}
# Parameters of each family, with our default choices (SPEC §3 leaves them open).
DEFAULTS: dict[str, dict] = {}


def register(name: str, **defaults):
    def wrap(fn):
        _REGISTRY[name] = fn
        DEFAULTS[name] = defaults
        return fn
    return wrap


def names() -> list[str]:
    return list(_REGISTRY)


def check_name(name: str) -> str:
    if name not in _REGISTRY:
        raise ValueError(f"unknown skip mapping {name!r}; valid: {', '.join(_REGISTRY)}")
    return name


@register("identity")
def identity(dim: int, g: torch.Generator) -> torch.Tensor:
    return torch.eye(dim)


@register("none")
def none(dim: int, g: torch.Generator) -> torch.Tensor:
    return torch.zeros(dim, dim)


@register("orthogonal")
def orthogonal(dim: int, g: torch.Generator) -> torch.Tensor:
    """Haar-random orthogonal: QR of a Gaussian with the signs of R's diagonal folded into Q."""
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()


@register("permutation")
def permutation(dim: int, g: torch.Generator) -> torch.Tensor:
    return torch.eye(dim)[torch.randperm(dim, generator=g)]


@register("sparse", density=0.05, scale=0.5)
def sparse(dim: int, g: torch.Generator, density: float, scale: float) -> torch.Tensor:
    """P (I + S) P^T with S strictly upper triangular: every eigenvalue is exactly 1."""
    upper = torch.triu(torch.ones(dim, dim, dtype=torch.bool), diagonal=1)
    mask = (torch.rand(dim, dim, generator=g) < density) & upper
    s = torch.randn(dim, dim, generator=g) * scale * mask
    p = torch.eye(dim)[torch.randperm(dim, generator=g)]
    return p @ (torch.eye(dim) + s) @ p.T


@register("correlation", r=0.5)
def correlation(dim: int, g: torch.Generator, r: float) -> torch.Tensor:
    """Toeplitz correlation matrix r^|i-j| (symmetric positive-definite, unit diagonal)."""
    if not -1 < r < 1:
        raise ValueError(f"correlation needs -1 < r < 1, got r={r}")
    i = torch.arange(dim, dtype=torch.float64)
    return (r ** (i[:, None] - i[None, :]).abs()).float()


def matrix(name: str, dim: int, seed: int = 0, **params) -> torch.Tensor:
    """The (dim, dim) matrix of family ``name``; ``params`` override ``DEFAULTS``."""
    check_name(name)
    if dim < 1:
        raise ValueError(f"skip mapping dimension must be >= 1, got {dim}")
    unknown = set(params) - set(DEFAULTS[name])
    if unknown:
        raise ValueError(f"skip mapping {name!r} has no parameter(s) {sorted(unknown)}; "
                         f"valid: {sorted(DEFAULTS[name]) or 'none'}")
    g = torch.Generator().manual_seed(seed)
    return _REGISTRY[name](dim, g, **{**DEFAULTS[name], **params})


class SkipMapping(nn.Module):
    """Applies a fixed (by default non-trainable) matrix E on the feature axis.

    Layouts: (..., d) features last (MLP, tokens, RNN state) or (B, C, H, W)
    channels (``channel_dim=1``).
    """

    def __init__(self, name: str, dim: int, seed: int = 0, trainable: bool = False,
                 channel_dim: int = -1, **params):
        super().__init__()
        self.name = check_name(name)
        self.channel_dim = channel_dim
        E = matrix(name, dim, seed, **params)
        if trainable:
            self.E = nn.Parameter(E)
        else:
            self.register_buffer("E", E)
        # Identity and zero skips need no matmul; keep them as cheap as the usual skip.
        self._fast = name if (name in ("identity", "none") and not trainable) else None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self._fast == "identity":
            return h
        if self._fast == "none":
            return torch.zeros_like(h)
        if self.channel_dim == 1 and h.dim() == 4:
            return F.conv2d(h, self.E[:, :, None, None])
        return F.linear(h, self.E)

    def extra_repr(self) -> str:
        return f"{self.name}, dim={self.E.shape[0]}, trainable={isinstance(self.E, nn.Parameter)}"


def build(name: str, dim: int, seed: int = 0, **kwargs) -> SkipMapping:
    return SkipMapping(name, dim, seed, **kwargs)


def describe(E: torch.Tensor, atol: float = 1e-5) -> dict:
    """Attributes of E that SPEC §3 compares with the identity (computed, not assumed).

    The ``shares_*`` entries say whether E shares an attribute of I: all eigenvalues equal to 1,
    all on the unit circle, all singular values 1 (so the skip's Jacobian norm is 1), unit diagonal,
    and sparsity (at most 10% nonzero entries).
    """
    E64 = E.double()
    d = E.shape[0]
    eig = torch.linalg.eigvals(E64)
    sv = torch.linalg.svdvals(E64)
    nonzeros = (E.abs() > atol).sum().item()
    return {
        "spectral_norm": sv.max().item(),
        "min_singular_value": sv.min().item(),
        "eig_abs_min": eig.abs().min().item(),
        "eig_abs_max": eig.abs().max().item(),
        "density": nonzeros / d ** 2,
        "shares_eigenvalues_one": bool(torch.allclose(eig, torch.ones_like(eig), atol=1e-4)),
        "shares_unit_circle": bool(torch.allclose(eig.abs(), torch.ones(d, dtype=torch.float64), atol=1e-4)),
        "shares_singular_values_one": bool(torch.allclose(sv, torch.ones(d, dtype=torch.float64), atol=1e-4)),
        "shares_unit_diagonal": bool(torch.allclose(torch.diagonal(E64), torch.ones(d, dtype=torch.float64), atol=atol)),
        "shares_sparsity": 0 < nonzeros / d ** 2 <= 0.1,
        "symmetric": bool(torch.allclose(E64, E64.T, atol=atol)),
    }
