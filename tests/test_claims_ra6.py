"""RA-6 page logic on synthetic networks with known answers (no training, no datasets)."""
import numpy as np
import pytest

from entres.claims import protocol, ra6, records

L, C, D = 6, 10, 128


def overlap(level):
    m = np.full((L, L), level)
    np.fill_diagonal(m, 1.0)
    return m.tolist()


def jac(labels, seed, level, train_acc=1.0, terminal_epochs=100, epochs=200, batch=128):
    name = "fashionmnist" + ("+random-labels" if labels == "random" else "")
    history = [{"train_acc": 0.9}] * (epochs - terminal_epochs) + [{"train_acc": 1.0}] * terminal_epochs
    return {"experiment": "ra_jacobian",
            "config": {"dataset": name, "skip": "identity", "seed": seed, "batch_size": batch, "epochs": epochs,
                       "n_train": 10000, "depth": L},
            "metrics": {"train_acc": train_acc, "test_acc": 0.86 if labels == "true" else 0.1, "random_overlap": C / D,
                        "within_alignment_mean": 0.3, "energy_top_c_mean": 0.9, "rank_mean": 12.0},
            "history": history, "arrays": {"overlap_u": overlap(level), "overlap_v": overlap(level)}}


def traj(labels, seed):
    name = "fashionmnist" + ("+random-labels" if labels == "random" else "")
    return {"config": {"dataset": name, "seed": seed}, "metrics": {"lin_mean": 0.99, "cv_mean": 0.1}}


def budget(true_level, random_level, noise=0.005, **kw):
    rng = np.random.default_rng(0)
    jacs = [jac(lab, s, lvl + noise * rng.standard_normal(), **kw)
            for lab, lvl in (("true", true_level), ("random", random_level)) for s in range(3)]
    trajs = [traj(lab, s) for lab in ("true", "random") for s in range(3)]
    row, table, _ = ra6.budget_row("fashionmnist", (128, 200), jacs, trajs)
    return row, table, jacs


def test_more_alignment_with_true_labels_is_supported():
    row, table, _ = budget(0.6, 0.3)
    assert row["verdict"] == protocol.SUPPORTED
    assert row["primary"]["estimate"] == pytest.approx(0.3, abs=0.02)
    assert row["primary"]["delta"] == pytest.approx(C / D)
    assert set(table.labels) == {"true", "random"}


def test_difference_below_chance_is_negligible_and_reverse_contradicted():
    assert budget(0.30, 0.29, noise=0.001)[0]["verdict"] == protocol.NEGLIGIBLE
    assert budget(0.2, 0.6)[0]["verdict"] == protocol.CONTRADICTED


def test_gate_applies_to_both_label_kinds():
    """A random-label network short of the bar makes the row not in regime, even with a clear effect."""
    rng = np.random.default_rng(0)
    jacs = [jac("true", s, 0.6 + 0.005 * rng.standard_normal()) for s in range(3)]
    jacs += [jac("random", s, 0.3, train_acc=0.995 if s == 0 else 1.0) for s in range(3)]
    trajs = [traj(lab, s) for lab in ("true", "random") for s in range(3)]
    row, _, _ = ra6.budget_row("fashionmnist", (128, 200), jacs, trajs)
    assert row["verdict"] == protocol.NOT_IN_REGIME
    assert row["min_train_acc"] == pytest.approx(0.995)
    assert row["robustness"]["gate: train accuracy only"] == protocol.NOT_IN_REGIME


def test_too_few_steps_at_the_bar_is_not_in_regime():
    """Batch 1024 on 10,000 images: train accuracy 1.0 after few SGD steps is not the terminal phase."""
    row, table, _ = budget(0.6, 0.3, batch=1024, epochs=200, terminal_epochs=150)
    assert (table.sgd_steps == 2000).all() and (table.terminal_steps == 1500).all()
    assert row["verdict"] == protocol.NOT_IN_REGIME
    assert row["robustness"]["gate: train accuracy only"] == protocol.SUPPORTED
    assert row["depends_on"] == ["gate"]


def test_spectrum_records_read_their_regime_from_metrics():
    r = {"experiment": "ra_spectrum", "config": {"dataset": "fashionmnist"}, "history": None,
         "metrics": {"train_acc": 1.0, "test_acc": 0.85, "sgd_steps": 30000, "terminal_steps_held": 25000}}
    assert ra6.regime(r) == {"train_acc": 1.0, "test_acc": 0.85, "sgd_steps": 30000, "terminal_steps": 25000}


def test_filed_row_recomputes(isolated_results):
    row, _, _ = budget(0.6, 0.3)
    path = records.record_verdict("RA-6", "smoke", [row], notebook="ra6_generalisation")
    assert records.read(path)["rows"][0]["verdict"] == protocol.SUPPORTED
