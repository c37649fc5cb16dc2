import math

import torch

from entres import collapse


def simplex_etf(c: int, d: int, seed: int = 0) -> torch.Tensor:
    """(C, d) centred, equinorm, maximally separated class means."""
    q = torch.linalg.qr(torch.randn(d, c, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))[0]
    return (torch.eye(c, dtype=torch.float64) - 1.0 / c) @ q.T * math.sqrt(c / (c - 1))


def test_perfect_collapse_scores_zero():
    c, d, per = 5, 16, 20
    m = simplex_etf(c, d)
    y = torch.arange(c).repeat_interleave(per)
    h = m[y] + 3.0  # a shared offset (global mean) must not matter
    out = collapse.neural_collapse(h, y, weight=m.clone(), bias=-(m @ torch.full((d,), 3.0, dtype=torch.float64)))
    assert out["nc1"] < 1e-20
    for key in ("nc2_equinorm_means", "nc2_equinorm_weights", "nc2_equiangular_means", "nc2_maxangle_means",
                "nc2_maxangle_weights", "nc3_self_duality"):
        assert out[key] < 1e-10, key
    assert out["nc4_agreement"] == 1.0


def test_noise_raises_nc1():
    c, d, per = 4, 12, 200
    m = simplex_etf(c, d)
    y = torch.arange(c).repeat_interleave(per)
    g = torch.Generator().manual_seed(1)
    weak = collapse.neural_collapse(m[y] + 0.1 * torch.randn(len(y), d, generator=g, dtype=torch.float64), y, m, torch.zeros(c))
    strong = collapse.neural_collapse(m[y] + 1.0 * torch.randn(len(y), d, generator=g, dtype=torch.float64), y, m, torch.zeros(c))
    assert 0 < weak["nc1"] < strong["nc1"]
    assert weak["nc4_agreement"] > strong["nc4_agreement"]
