"""ra_spectrum: per-block, per-sample distributions of the RA measures (entres.experiments.spectra)."""
import json
import math

import numpy as np
import pytest
import torch

from entres import experiments, sweep
from entres.claims import protocol
from entres.experiments import spectra

TINY = dict(dataset="fashionmnist", depth=3, width=16, epochs=2, batch_size=256, n_train=500, n_samples=30)


@pytest.fixture
def record(real_data):
    torch.set_num_threads(1)
    return sweep.execute("ra_spectrum", experiments.get("ra_spectrum").full_config(TINY))


def test_distributions_are_well_formed(record, isolated_results):
    table = spectra.block_table(record)
    assert len(table) == 3 and list(table["block"]) == [1, 2, 3]
    stems = [c[:-3] for c in table.columns if c.endswith("_q10")]
    assert {"rank_1e-3_", "rank_1e-2_", "rank_5e-2_", "energy_top_c_", "sigma1_", "gap_", "align_strong_"} == set(stems)
    for stem in stems:
        q = table[[f"{stem}{k}" for k in spectra.Q_LABELS]].to_numpy()
        assert (np.diff(q, axis=1) >= -1e-9).all(), stem  # quantiles ordered
        assert ((table[f"{stem}mean"] >= q[:, 0] - 1e-3) | (stem == "gap_")).all()
    for lab in spectra.EPS_LABELS:
        assert (table[f"rank_{lab}_q90"] <= TINY["width"]).all() and (table[f"rank_{lab}_q10"] >= 1).all()
        assert table[f"rank_{lab}_le_c"].between(0, 1).all()
    assert (table["rank_1e-3_mean"] >= table["rank_1e-2_mean"] - 1e-9).all()  # a lower ε keeps more directions
    assert table["energy_top_c_q50"].between(0, 1).all() and table["gap_q90"].between(0, 1).all()
    by_i = spectra.alignment_by_direction(record)
    assert by_i.shape == (3, 10) and ((by_i >= 0) & (by_i <= 1)).all()
    share = spectra.matrix(record, "diag_share")
    assert np.allclose(np.diag(share), 1.0, atol=1e-3)  # U_lᵀ J_l V_l = diag(σ): all on the diagonal
    assert ((share >= 0) & (share <= 1 + 1e-4)).all()
    for key in ("overlap_u", "overlap_v"):
        mean, lo, hi = (spectra.matrix(record, key + s) for s in ("", "_q10", "_q90"))
        assert np.allclose(mean, mean.T) and np.allclose(np.diag(mean), 1.0, atol=1e-3)
        assert (lo <= hi + 1e-9).all()
    m = record["metrics"]
    assert m["sgd_steps"] == 2 * 2 and m["steps_per_epoch"] == 2 and m["epochs_trained"] == 2  # 500 images / 256
    assert m["random_overlap"] == pytest.approx(10 / 16) and 0 < m["diag_share_chance"] < 0.3
    assert 0 <= m["terminal_steps"] <= m["sgd_steps"] and m["n_samples"] == 30
    assert "history" not in record and len(spectra.curve(record)) == 2
    path = next((isolated_results / "ra_spectrum").glob("*.json"))
    assert json.loads(path.read_text())["metrics"] == record["metrics"]
    assert path.stat().st_size < 20_000


def test_grid_share_is_one_for_a_jacobian_built_from_its_own_vectors():
    g = torch.Generator().manual_seed(0)
    n, d, c = 5, 12, 3
    u = spectra.random_orthonormal((n, d, d), g)
    v = spectra.random_orthonormal((n, d, d), g)
    s = torch.linspace(3, 0.1, d).expand(n, d)
    jac = u @ torch.diag_embed(s) @ v.mT  # J = U diag(s) Vᵀ
    us, vs = u[None, ..., :c], v[None, ..., :c]
    assert torch.allclose(spectra.grid_diagonal_share(jac, us, vs), torch.ones(1, n), atol=1e-5)
    other = spectra.random_orthonormal((1, n, d, c), g)  # someone else's vectors: far from diagonal
    assert (spectra.grid_diagonal_share(jac, other, other) < 0.9).all()


@pytest.mark.parametrize("kind", ["gaussian", "low_rank"])
def test_chance_share_is_one_over_c(kind):
    g = torch.Generator().manual_seed(1)
    n, d, c = 64, 32, 10
    jac = torch.randn(n, d, d, generator=g)
    if kind == "low_rank":
        jac = jac[..., :c] @ torch.randn(n, c, d, generator=g)
    shares = spectra.chance_diagonal_share(jac, c, draws=8)
    assert shares.shape == (n * 8,)
    assert shares.mean().item() == pytest.approx(1 / c, abs=0.01)


def test_random_alignment_matches_monte_carlo():
    g = torch.Generator().manual_seed(2)
    a, b = (torch.nn.functional.normalize(torch.randn(20000, 128, generator=g), dim=1) for _ in range(2))
    assert spectra.random_alignment(128) == pytest.approx((a * b).sum(1).abs().mean().item(), rel=0.03)
    assert spectra.random_alignment(128) == pytest.approx(math.sqrt(2 / (math.pi * 128)), rel=0.01)


def test_terminal_steps_from_a_synthetic_history():
    accs = [0.5, 0.9995, 0.998, 0.9999, 1.0]
    history = [{"epoch": i + 1, "train_acc": a} for i, a in enumerate(accs)]
    assert spectra.first_epoch_at(history) == 2
    assert spectra.terminal_steps(history, 10) == (5 - 2) * 10  # epochs after the first at the bar
    assert spectra.terminal_steps_held(history, 10) == 2 * 10 == protocol.terminal_steps(history, 10)
    never = [{"train_acc": 0.99}] * 4
    assert spectra.first_epoch_at(never) == 0 and spectra.terminal_steps(never, 10) == 0
    assert spectra.terminal_steps(history[:2], 7) == 0  # reached in the last epoch: no steps after it


def test_summary_and_row_round_trip():
    x = torch.arange(101, dtype=torch.float64)
    s = spectra.summary(x)
    assert [s[k] for k in spectra.Q_LABELS] == [10, 25, 50, 75, 90] and s["mean"] == 50
    mat = torch.tensor([[1.0, 0.25, 0.125], [0.25, 1.0, 0.5], [0.125, 0.5, 1.0]])
    rec = {"arrays": {"sym": spectra._rows(mat, fixed=True, upper=True), "full": spectra._rows(mat.T * 2)}}
    assert rec["arrays"]["sym"] == ["1.0000 0.2500 0.1250", "1.0000 0.5000", "1.0000"]
    assert np.allclose(spectra.matrix(rec, "sym"), mat.numpy())
    assert np.allclose(spectra.matrix(rec, "full"), 2 * mat.numpy().T)


def test_config_is_the_ra_jacobian_config_and_conv_is_refused():
    spec, jac = experiments.get("ra_spectrum"), experiments.get("ra_jacobian")
    assert spec.defaults == jac.defaults
    with pytest.raises(ValueError, match="resmlp"):
        spec.full_config({"arch": "resconv"})
