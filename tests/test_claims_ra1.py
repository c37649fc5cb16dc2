"""RA-1 page logic on synthetic records with known answers (and the shared RA helpers it uses)."""
import json
import math

import numpy as np
import pandas as pd
import pytest
from ra_fakes import STEPS_PER_EPOCH, trajectory_record

from entres.claims import protocol, ra1, ra_common

EQUAL = [1.0] * 15


def line_record(seed=0, skip="identity", **kw):
    """A perfect line with equal steps: lin 1, cv 0."""
    return trajectory_record([1.0] * 50, [0.0] * 50, EQUAL, seed=seed, skip=skip, **kw)


# --- shared helpers -----------------------------------------------------------------------------

def test_chance_alignment_matches_the_large_d_formula_and_a_simulation():
    assert ra_common.chance_alignment(128) == pytest.approx(math.sqrt(2 / (math.pi * 128)), rel=0.01)
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal((2, 20000, 16))
    sim = np.abs((u * v).sum(1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)).mean()
    assert ra_common.chance_alignment(16) == pytest.approx(sim, abs=0.005)


def test_random_walk_linearity_is_six_over_pi_squared_for_equal_steps_and_near_one_for_one_jump():
    assert ra_common.random_walk_linearity(EQUAL, 512, 500).mean() == pytest.approx(6 / math.pi ** 2, abs=0.03)
    assert ra_common.random_walk_linearity([0.01] * 14 + [10.0], 128, 200).mean() > 0.9


def test_random_spacing_cv_is_near_one_for_many_gaps():
    assert ra_common.random_spacing_cv(400) == pytest.approx(1.0, abs=0.02)
    assert ra_common.random_spacing_cv(15) < ra_common.random_spacing_cv(400)


def test_steps_per_epoch_counts_without_loading_data():
    assert ra_common.steps_per_epoch({"dataset": "mnist", "n_train": 0, "batch_size": 1024}) == 59
    assert ra_common.steps_per_epoch({"dataset": "fashionmnist", "n_train": 10000, "batch_size": 128}) == 79
    assert ra_common.steps_per_epoch({"dataset": "cifar10-5", "n_train": 0, "batch_size": 1024}) == 25
    assert ra_common.steps_per_epoch({"dataset": "cifar10", "n_train": 0, "batch_size": 1024}) == 49


def test_pair_stat_leaves_out_the_diagonal_and_keeps_the_scope():
    m = np.array([[1, .2, .2, .2], [.2, 1, .2, .2], [.2, .2, 1, .8], [.2, .2, .8, 1]])
    assert ra_common.pair_stat(m, "all") == pytest.approx((10 * .2 + 2 * .8) / 12)
    assert ra_common.pair_stat(m, "later half") == pytest.approx(0.8)


# --- RA-1 rows -----------------------------------------------------------------------------------

def test_a_perfect_equispaced_line_is_supported_on_both_rows():
    table = ra1.network_table([line_record(s) for s in range(3)], null_draws=200)
    rows, _ = ra1.dataset_rows(table, "mnist")
    assert [r["dataset"] for r in rows] == ["mnist: line", "mnist: equal steps"]
    assert [r["verdict"] for r in rows] == [protocol.SUPPORTED] * 2
    assert all(r["stability"] == "stable" for r in rows)


def test_high_lin_from_long_steps_in_random_directions_is_not_a_line():
    """The issue's finding: lin > 0.9 is passed by networks whose steps point anywhere (one long jump).
    Against the random-direction null with the network's own step lengths, that is chance (negligible)."""
    steps = [0.05] * 14 + [3.0]
    recs = []
    for s in range(3):
        lin = ra_common.random_walk_linearity(steps, 128, 300, seed=100 + s)  # what random directions give
        assert np.mean(lin) > 0.9
        recs.append(trajectory_record(lin, [1.0] * 300, steps, seed=s))
    table = ra1.network_table(recs, null_draws=2000)
    line = ra1.dataset_rows(table, "mnist")[0][0]
    assert abs(line["primary"]["estimate"]) < 0.2
    assert line["verdict"] == protocol.NEGLIGIBLE


def test_random_spacing_is_negligible_and_not_supported():
    recs = [trajectory_record([1.0] * 50, [ra_common.random_spacing_cv(15)] * 50, EQUAL, seed=s) for s in range(3)]
    steps_row = ra1.dataset_rows(ra1.network_table(recs, 100), "mnist")[0][1]
    assert steps_row["verdict"] == protocol.NEGLIGIBLE


def test_gate_failure_is_not_in_regime_and_reports_the_effect_and_the_accuracy_only_reading():
    recs = [line_record(s, epochs_at_bar=3000 // STEPS_PER_EPOCH - 1) for s in range(3)]  # 2,950 steps held
    table = ra1.network_table(recs, 100)
    assert (table.terminal_steps < protocol.RA_GATE.min_terminal_steps).all()
    rows, details = ra1.dataset_rows(table, "mnist")
    for r in rows:
        assert r["verdict"] == protocol.NOT_IN_REGIME
        assert r["robustness"]["gate: accuracy only"] == protocol.SUPPORTED
        assert r["stability"] == "depends on gate"
        assert r["caveat"].startswith("Not in regime") and "supported" in r["caveat"]
    assert {d["if in regime"] for d in details["mnist: line"]} == {protocol.SUPPORTED}


def test_the_no_skip_control_is_shown_but_its_gate_does_not_decide_ra1():
    recs = [line_record(s) for s in range(3)]
    recs += [trajectory_record([0.9] * 50, [1.3] * 50, [0.5] * 14 + [5.0], skip="none", seed=s, train_acc=0.8)
             for s in range(3)]
    rows, _ = ra1.dataset_rows(ra1.network_table(recs, 100), "mnist")
    assert rows[0]["verdict"] == protocol.SUPPORTED and rows[0]["gate"]["networks"] == 3
    assert "κ_line, no-skip control" in rows[0]["secondary"]


def test_step_scope_is_a_robustness_setting_short_first_steps_unequal_later_steps_equal():
    steps = [0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8] + [3.0] * 8
    cv = float(np.std(steps) / np.mean(steps))
    recs = [trajectory_record([1.0] * 50, [cv * (1 + 0.01 * s)] * 50, steps, seed=s) for s in range(3)]
    row = ra1.dataset_rows(ra1.network_table(recs, 100), "mnist")[0][1]
    assert row["verdict"] != protocol.SUPPORTED
    assert row["robustness"]["scope: later half, mean profile"] == protocol.SUPPORTED
    assert "scope" in row["depends_on"]


def test_page_files_v2_rows_that_recompute(monkeypatch, isolated_results):
    monkeypatch.setenv("ENTRES_CLAIMS_DIR", str(isolated_results / "claims"))
    fake = [line_record(s) for s in range(2)]
    monkeypatch.setattr(ra1.ra, "trajectory_runs", lambda datasets, skips, seeds, **kw: list(fake))
    result = ra1.page("smoke", datasets=["mnist"], skips=["identity"], identity_only_datasets=[], null_draws=100)
    filed = json.loads((isolated_results / "claims" / "RA-1.smoke.json").read_text())
    assert filed["protocol"] == 2 and len(filed["rows"]) == 2
    assert isinstance(result.summary, pd.DataFrame) and len(result.summary) == 2
    assert set(result.robustness.setting) >= {"primary", "aggregation: median", "gate: accuracy only"}
    assert result.values["verdict_mnist_line"] == filed["rows"][0]["verdict"]
