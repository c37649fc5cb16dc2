"""RA-7 page logic on synthetic collapse histories with known answers (no training, no datasets)."""
import math

import pytest

from entres.claims import protocol, ra7, records

SPE = math.ceil(60000 / 1024)  # MNIST at batch 1024: 59 steps per epoch


def net(seed, nc1_first, nc1_final, epochs=200, terminal_epochs=100, train_acc=1.0, dataset="mnist", every=10):
    """A fake ra_collapse record: NC1 falls geometrically from ``nc1_first`` (epoch 1) to ``nc1_final``;
    train accuracy is 1 for the last ``terminal_epochs`` epochs and 0.99 before."""
    history = []
    for epoch in range(1, epochs + 1):
        e = {"train_acc": 1.0 if epoch > epochs - terminal_epochs else 0.99, "test_acc": 0.98}
        if epoch == 1 or epoch % every == 0 or epoch == epochs:
            frac = (epoch - 1) / (epochs - 1)
            nc1 = nc1_first * (nc1_final / nc1_first) ** frac * (1 + 0.02 * seed)
            e["nc"] = {"nc1": nc1, "nc2_equinorm_means": 0.01, "nc2_maxangle_means": 0.02,
                       "nc3_self_duality": 0.01, "nc4_agreement": 0.8 + 0.2 * frac}
        history.append(e)
    return {"config": {"dataset": dataset, "skip": "identity", "depth": 16, "width": 128, "seed": seed,
                       "batch_size": 1024, "n_train": 0},
            "metrics": {"train_acc": train_acc, "test_acc": 0.98, "num_classes": 10}, "history": history}


def row_of(runs, **kw):
    row, shown = ra7.dataset_row(runs, "mnist", alternatives=ra7.settings(200), **kw)
    return row, shown


def test_collapse_by_decades_is_supported_and_the_unit_is_the_network():
    row, shown = row_of([net(s, 1.0, 1e-3) for s in range(3)])
    assert row["verdict"] == protocol.SUPPORTED
    assert row["primary"]["estimate"] == pytest.approx(3.0, abs=0.05)
    assert row["primary"]["n"] == 3 and row["seeds"] == 3  # one value per network, not per measurement
    assert row["primary"]["delta"] == ra7.DELTA_DECADES and row["primary"]["null"] == 0.0


def test_a_fall_smaller_than_a_decade_is_negligible_not_supported():
    row, _ = row_of([net(s, 1.0, 0.5) for s in range(4)])  # 0.3 decades: a reduction, not a collapse
    assert row["verdict"] == protocol.NEGLIGIBLE


def test_variability_that_grows_contradicts():
    row, _ = row_of([net(s, 0.01, 1.0) for s in range(3)])
    assert row["verdict"] == protocol.CONTRADICTED


def test_gate_on_every_network_needs_held_steps():
    runs = [net(s, 1.0, 1e-3) for s in range(3)]
    runs[2] = net(2, 1.0, 1e-3, terminal_epochs=40)  # 40 × 59 = 2,360 SGD steps < 3,000
    row, shown = row_of(runs)
    assert row["verdict"] == protocol.NOT_IN_REGIME
    assert row["gate"]["min_terminal_steps"] == 40 * SPE
    assert "1 of 3 networks fail the gate" in row["caveat"]
    # the train-accuracy-only reading would support it, so the row says what it depends on
    assert row["robustness"][ra7.GATE_ACCURACY_ONLY] == protocol.SUPPORTED
    assert "gate" in row["depends_on"]
    assert shown["effect"].verdict(True) == protocol.SUPPORTED


def test_a_final_train_accuracy_below_the_bar_fails_the_gate():
    runs = [net(s, 1.0, 1e-3) for s in range(2)] + [net(2, 1.0, 1e-3, train_acc=0.998)]
    row, _ = row_of(runs)
    assert row["verdict"] == protocol.NOT_IN_REGIME and row["min_train_acc"] == pytest.approx(0.998)


def test_half_budget_gates_the_truncated_history():
    """At half the budget the networks have not yet entered the terminal phase (it starts at epoch 101)."""
    row, shown = row_of([net(s, 1.0, 1e-3) for s in range(3)])
    assert row["robustness"]["budget: 100 epochs"] == protocol.NOT_IN_REGIME
    t = ra7.network_table([net(0, 1.0, 1e-3)], budget=100)
    assert t["epochs"].iloc[0] == 100 and t["terminal_steps"].iloc[0] == 0
    assert t["nc1_decades"].iloc[0] == pytest.approx(3.0 * 99 / 199 - math.log10(1), abs=0.05)


def test_terminal_reference_counts_only_the_fall_inside_the_terminal_phase():
    assert ra7.terminal_start([{"train_acc": 0.9}, {"train_acc": 1.0}, {"train_acc": 0.99}, {"train_acc": 1.0},
                               {"train_acc": 1.0}]) == 4
    assert ra7.terminal_start([{"train_acc": 1.0}, {"train_acc": 0.5}]) is None
    t = ra7.network_table([net(0, 1.0, 1e-3)], reference="terminal")
    # the terminal phase starts at epoch 101: the first measurement in it is epoch 110, 90 epochs before the end
    assert t["nc1_decades"].iloc[0] == pytest.approx(3.0 * 90 / 199, abs=0.02)


def test_filed_row_is_recomputable(tmp_path, monkeypatch):
    monkeypatch.setenv("ENTRES_CLAIMS_DIR", str(tmp_path))
    row, _ = row_of([net(s, 1.0, 1e-3) for s in range(3)])
    path = records.record_verdict("RA-7", "smoke", [row], notebook=ra7.NOTEBOOK)
    assert records.read(path)["rows"][0]["verdict"] == protocol.SUPPORTED
