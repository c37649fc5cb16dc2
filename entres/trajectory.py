"""Measures of RA-1 on trajectories h_1..h_L of single inputs (SPEC §5).

A trajectory is a tensor (N, L, d): N inputs, L representations of width d.
"""
from __future__ import annotations

import torch


def linearity(traj: torch.Tensor) -> torch.Tensor:
    """(N,) fraction of the centred trajectory's variance along its first principal direction.

    1 for points on a line; about 1/min(L, d) spread for isotropic noise. NaN for a
    trajectory that does not move at all.
    """
    centred = traj - traj.mean(dim=1, keepdim=True)
    s2 = torch.linalg.svdvals(centred.double()) ** 2  # (N, min(L, d))
    total = s2.sum(dim=1)
    return torch.where(total > 0, s2[:, 0] / total, torch.nan).to(traj.dtype)


def step_lengths(traj: torch.Tensor) -> torch.Tensor:
    """(N, L-1) lengths ||h_{l+1} - h_l||."""
    return (traj[:, 1:] - traj[:, :-1]).norm(dim=-1)


def step_cv(traj: torch.Tensor) -> torch.Tensor:
    """(N,) coefficient of variation (std / mean, population std) of the step lengths: 0 = equispaced."""
    steps = step_lengths(traj).double()
    mean = steps.mean(dim=1)
    return torch.where(mean > 0, steps.std(dim=1, unbiased=False) / mean, torch.nan).to(traj.dtype)


def project_top2(traj: torch.Tensor) -> torch.Tensor:
    """(N, L, 2) each trajectory in the coordinates of its own top two principal directions (signs oriented)."""
    centred = traj - traj.mean(dim=1, keepdim=True)
    _, _, vh = torch.linalg.svd(centred.double(), full_matrices=False)  # vh: (N, k, d)
    coords = centred.double() @ vh[:, :2].transpose(1, 2)  # (N, L, 2)
    # Principal directions have arbitrary signs: orient every path to start at negative coordinates.
    coords = coords * torch.where(coords[:, :1] > 0, -1.0, 1.0)
    return coords.to(traj.dtype)
