import math

import torch

from entres import trajectory


def test_equispaced_line_is_perfect():
    t = torch.linspace(0, 1, 10)
    direction, offset = torch.randn(32), torch.randn(32)
    traj = (offset + t[:, None] * direction)[None]  # (1, 10, 32)
    assert torch.allclose(trajectory.linearity(traj), torch.ones(1), atol=1e-6)
    assert trajectory.step_cv(traj).item() < 1e-5


def test_line_with_unequal_steps_has_known_cv():
    t = torch.tensor([0.0, 1.0, 3.0])  # steps 1 and 2: cv = 0.5 / 1.5
    traj = (t[:, None] * torch.randn(16))[None]
    assert abs(trajectory.linearity(traj).item() - 1) < 1e-6
    assert math.isclose(trajectory.step_cv(traj).item(), 1 / 3, rel_tol=1e-5)


def test_random_walk_is_far_from_a_line():
    g = torch.Generator().manual_seed(0)
    walks = torch.randn(400, 64, 512, generator=g).cumsum(dim=1)
    lin = trajectory.linearity(walks).mean().item()
    assert abs(lin - 6 / math.pi ** 2) < 0.03  # Karhunen-Loeve: first share of a demeaned Brownian path


def test_static_trajectory_is_nan_not_one():
    traj = torch.ones(1, 5, 4)
    assert torch.isnan(trajectory.linearity(traj)).all()
    assert torch.isnan(trajectory.step_cv(traj)).all()


def test_projection_keeps_shape_and_orients_start():
    traj = torch.randn(3, 7, 20).cumsum(1)
    p = trajectory.project_top2(traj)
    assert p.shape == (3, 7, 2)
    assert (p[:, 0] <= 0).all()
