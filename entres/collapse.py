"""Neural Collapse measures NC1–NC4 (Papyan, Han & Donoho 2020) on last-layer features.

features H (N, d), labels y (N,), classifier weights W (C, d) and bias b (C,).
Every measure is 0 at perfect collapse except ``nc4_agreement`` (1).
"""
from __future__ import annotations

import torch


def class_means(h: torch.Tensor, y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(C, d) mean feature of each class."""
    sums = torch.zeros(num_classes, h.shape[1], dtype=h.dtype).index_add_(0, y, h)
    counts = torch.bincount(y, minlength=num_classes).to(h.dtype)
    if (counts == 0).any():
        raise ValueError("every class needs at least one sample")
    return sums / counts[:, None]


def _off_diagonal(m: torch.Tensor) -> torch.Tensor:
    return m[~torch.eye(len(m), dtype=torch.bool)]


def neural_collapse(h: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> dict:
    h = h.double()
    weight, bias = weight.double(), bias.double()
    c = weight.shape[0]
    mu = class_means(h, y, c)  # (C, d)
    mu_g = h.mean(0)
    m = mu - mu_g  # (C, d) centred class means
    within = h - mu[y]
    sigma_w = within.T @ within / len(h)
    sigma_b = m.T @ m / c
    nc1 = torch.trace(sigma_w @ torch.linalg.pinv(sigma_b, hermitian=True)).item() / c

    norms_m, norms_w = m.norm(dim=1), weight.norm(dim=1)
    cos_m = (m / norms_m[:, None]) @ (m / norms_m[:, None]).T
    cos_w = (weight / norms_w[:, None]) @ (weight / norms_w[:, None]).T
    etf = -1.0 / (c - 1)

    dual = weight / weight.norm() - m / m.norm()
    nearest_centre = torch.cdist(h, mu).argmin(dim=1)
    network = (h @ weight.T + bias).argmax(dim=1)
    return {
        "nc1": nc1,
        "nc2_equinorm_means": (norms_m.std() / norms_m.mean()).item(),
        "nc2_equinorm_weights": (norms_w.std() / norms_w.mean()).item(),
        "nc2_equiangular_means": _off_diagonal(cos_m).std().item(),
        "nc2_maxangle_means": (_off_diagonal(cos_m) - etf).abs().mean().item(),
        "nc2_maxangle_weights": (_off_diagonal(cos_w) - etf).abs().mean().item(),
        "nc3_self_duality": dual.pow(2).sum().item(),
        "nc4_agreement": (nearest_centre == network).double().mean().item(),
    }
