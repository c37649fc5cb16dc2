"""Conv-net page logic (RA-1, RA-2, RA-4 rows) on synthetic records with known answers (no training, no data)."""
import numpy as np
import pytest

import ra_fakes
from entres.claims import protocol, ra4, ra_common, ra_conv, records

D = 4096        # 16 channels × 16 × 16: what a conv block acts on
WIDTH = 16      # the channel count the config calls width
DEPTHS = [4, 8, 16]


def conv(record, n_train=0, epochs_at_bar=100, epochs=100):
    """Turn an ra_fakes record into a conv one on CIFAR-10 at batch 128 (391 SGD steps per epoch on the full
    training set, 8 on 1,000 images)."""
    record["config"].update(dataset="cifar10", arch="resconv", width=WIDTH, batch_size=128, n_train=n_train)
    record["history"] = ra_fakes.history(epochs_at_bar, epochs=epochs, final_acc=record["metrics"]["train_acc"])
    if "num_classes" in record["metrics"]:
        record["metrics"].update(width=WIDTH, random_overlap=10 / D)
    return record


def jac(seed, depth, within=0.14, overlap=0.012, sigma=None, **kw):
    r = ra_fakes.jacobian_record(within, overlap, seed=seed, depth=depth, width=WIDTH)
    if sigma is not None:
        for b in r["arrays"]["blocks"]:
            b["sigma1"] = sigma * (1 + 0.01 * seed)
    return conv(r, **kw)


def traj(seed, depth, lin=0.99, cv=0.05, **kw):
    steps = [1.0 + 0.01 * seed] * (depth - 1)
    return conv(ra_fakes.trajectory_record([lin] * 5, [cv] * 5, steps, seed=seed, width=WIDTH), **kw)


def label(L):
    return f"cifar10 conv L={L}"


def test_chance_values_use_the_conv_block_dimension_not_the_channel_count():
    runs = [jac(s, 8) for s in range(3)]
    assert ra_conv.ambient_dim(runs[0]) == D
    t = ra_conv.jacobian_table(runs)
    assert t["width"].iloc[0] == WIDTH and t["d"].iloc[0] == D
    assert t["chance_overlap"].iloc[0] == pytest.approx(10 / D)
    # 0.14 is ~11× the chance |uᵀv| in 4,096 dimensions, but below chance in 16
    assert t["within_x_all_mean"].iloc[0] == pytest.approx(0.14 / ra_common.chance_alignment(D))
    assert 0.14 / ra_common.chance_alignment(WIDTH) < 1
    rows, _ = ra_conv.depth_rows(t, ra_conv.ra2.dataset_rows, [8], label)
    assert [r["verdict"] for r in rows] == [protocol.SUPPORTED, protocol.SUPPORTED]


def test_trajectory_null_is_a_random_walk_in_the_conv_dimension():
    runs = [traj(s, 8) for s in range(2)]
    dims = {(8, s): D for s in range(2)}
    t = ra_conv.trajectory_table(runs, dims, null_draws=200)
    assert (t["d"] == D).all() and (t["width"] == WIDTH).all()
    expected = ra_conv.random_walk_linearity([1.0] * 7, D, 200, seed=0)
    assert t["lin0_mean"].iloc[0] == pytest.approx(expected.mean(), rel=1e-9)
    assert t["kappa_line_mean"].iloc[0] == pytest.approx(1 - (1 - 0.99) / (1 - expected.mean()))


@pytest.mark.parametrize("steps, d", [([1.0] * 7, 16), ([5.0, 1.0, 1.0, 2.0, 1.0], 8), ([1.0] * 12, 64)])
def test_gram_sampled_null_has_the_distribution_of_the_direct_draw(steps, d):
    """Same mean and spread as ra_common's draw of random directions in R^d (Monte Carlo tolerance)."""
    fast = ra_conv.random_walk_linearity(steps, d, 4000, seed=1)
    direct = ra_common.random_walk_linearity(steps, d, 4000, seed=2)
    se = np.sqrt(fast.var() / len(fast) + direct.var() / len(direct))
    assert abs(fast.mean() - direct.mean()) < 4 * se
    assert fast.std() == pytest.approx(direct.std(), rel=0.1)
    assert np.quantile(fast, 0.9) == pytest.approx(np.quantile(direct, 0.9), abs=0.03)


def test_gram_sampled_null_of_equal_steps_in_high_dimension_is_six_over_pi_squared():
    """The Karhunen–Loève limit of a long centred Brownian path's first component (6/π² ≈ 0.61)."""
    lin = ra_conv.random_walk_linearity([1.0] * 200, 4096, 300, seed=0)
    assert lin.mean() == pytest.approx(6 / np.pi ** 2, abs=0.03)


def test_rows_read_the_deepest_networks_and_other_depths_are_robustness():
    runs = [jac(s, L) for L in DEPTHS for s in range(3)]
    runs[0]["metrics"]["train_acc"] = 0.99  # a depth-4 network misses the bar: only that depth's reading changes
    t = ra_conv.jacobian_table(runs)
    rows, details = ra_conv.depth_rows(t, ra_conv.ra2.dataset_rows, DEPTHS, label)
    assert [r["dataset"] for r in rows] == ["cifar10 conv L=16: within-block", "cifar10 conv L=16: across depth"]
    for r in rows:
        assert r["verdict"] == protocol.SUPPORTED and r["seeds"] == 3
        assert r["robustness"]["depth: 4"] == protocol.NOT_IN_REGIME
        assert r["robustness"]["depth: 8"] == protocol.SUPPORTED
        assert r["stability"] == "depends on depth" and r["depends_on"] == ["depth"]
        assert any(d["setting"] == "depth: 4" for d in details[r["dataset"]])


def test_a_conv_net_on_1000_images_cannot_hold_the_terminal_phase_long_enough():
    """8 SGD steps per epoch: 200 epochs all at train accuracy 1 are 1,600 steps, below the 3,000 the gate asks."""
    runs = [jac(s, 8, n_train=1000, epochs_at_bar=200, epochs=200) for s in range(3)]
    t = ra_conv.jacobian_table(runs)
    assert (t["terminal_steps"] == 1600).all() and (t["train_acc"] == 1.0).all()
    rows, _ = ra_conv.depth_rows(t, ra_conv.ra2.dataset_rows, [8], label)
    for r in rows:
        assert r["verdict"] == protocol.NOT_IN_REGIME
        assert r["robustness"]["gate: accuracy only"] == protocol.SUPPORTED
        assert ra_conv.CONV_NOTE in r["caveat"] and ra_common.SHARED_NETWORKS not in r["caveat"]


def test_ra4_rows_gate_every_depth_and_fit_depth_means():
    runs = [jac(s, L, sigma=8.0 / L) for L in [4, 8, 16, 32] for s in range(3)]
    rows, shown = ra_conv.ra4_rows(runs, "cifar10", [4, 8, 16, 32], "cifar10 conv")
    by = {r["dataset"]: r for r in rows}
    power = by["cifar10 conv: power law"]
    assert power["verdict"] == protocol.SUPPORTED
    assert power["primary"]["n"] == 4  # one point per depth, not per network
    assert power["primary"]["estimate"] == pytest.approx(1.0, abs=0.02)
    runs[1]["metrics"]["train_acc"] = 0.99  # one depth-4 network: every RA-4 reading compares it
    rows, _ = ra_conv.ra4_rows(runs, "cifar10", [4, 8, 16, 32], "cifar10 conv")
    assert {r["verdict"] for r in rows} == {protocol.NOT_IN_REGIME}
    assert all(r["min_train_acc"] == pytest.approx(0.99) for r in rows)


def test_power_law_far_from_one_is_contradicted_and_rows_file(tmp_path, monkeypatch):
    monkeypatch.setenv("ENTRES_CLAIMS_DIR", str(tmp_path))
    runs = [jac(s, L, sigma=64.0 / L ** 2) for L in [4, 8, 16, 32] for s in range(3)]
    rows, _ = ra_conv.ra4_rows(runs, "cifar10", [4, 8, 16, 32], "cifar10 conv")
    assert rows[0]["verdict"] == protocol.CONTRADICTED
    path = records.record_verdict("RA-4", "smoke", rows, notebook=ra_conv.NOTEBOOK)
    assert path.name == "RA-4+ra_conv.smoke.json"
    assert records.read(path)["rows"][0]["verdict"] == protocol.CONTRADICTED


def test_restamp_recomputes_stability_after_alternatives_are_added():
    effect = protocol.mean_effect("x", np.array([2.0, 2.1, 2.2]), +1, 1.0, 0.5)
    gate = protocol.RA_GATE.check({"train_acc": [1.0] * 3, "terminal_steps": [5000] * 3})
    row = records.row("r", effect, gate, seeds=3, robustness={"a: 1": protocol.SUPPORTED})
    assert row["stability"] == "stable"
    row["robustness"]["depth: 4"] = protocol.NEGLIGIBLE
    assert ra_conv.restamp(row)["stability"] == "depends on depth"
    assert ra4.DELTA_ALPHA == 0.25  # the conv page reads RA-4 with the MLP page's δ
