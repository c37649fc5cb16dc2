"""Numeric Residual Alignment measures on residual Jacobians (SPEC §5, RA-2 … RA-4).

Inputs are per-sample SVD factors: U, V (N, d, C) top-C singular vectors, S (N, d)
singular values in descending order.
"""
from __future__ import annotations

import torch


def within_alignment(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(N,) mean over i <= C of ``|u_iᵀ v_i|``: 1 when J's top left and right vectors coincide (up to sign)."""
    return (u * v).sum(dim=1).abs().mean(dim=1)


def subspace_overlap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N,) ||Aᵀ B||_F² / C for orthonormal bases A, B (N, d, C): 1 = same subspace, ≈ C/d at random."""
    c = a.shape[-1]
    return (a.transpose(1, 2) @ b).pow(2).sum(dim=(1, 2)) / c


def overlap_matrix(bases: torch.Tensor) -> torch.Tensor:
    """(L, L) overlap between the blocks' top-C subspaces, averaged over samples; bases (L, N, d, C)."""
    L, _, _, c = bases.shape
    # (L, N, C, d) x (L', N, d, C) -> (L, L', N, C, C)
    prod = torch.einsum("lndc,mndk->lmnck", bases, bases)
    return prod.pow(2).sum(dim=(-1, -2)).mean(dim=-1) / c


def numerical_rank(s: torch.Tensor, eps: float = 1e-2) -> torch.Tensor:
    """(N,) number of singular values above eps * sigma_1."""
    return (s > eps * s[:, :1]).sum(dim=1)


def top_energy(s: torch.Tensor, c: int) -> torch.Tensor:
    """(N,) share of the squared singular values in the top c."""
    s2 = s.pow(2)
    return s2[:, :c].sum(dim=1) / s2.sum(dim=1).clamp_min(torch.finfo(s.dtype).tiny)
