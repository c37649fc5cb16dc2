"""RA-3 page logic on synthetic networks with known answers (no training, no datasets)."""
import numpy as np
import pytest

from entres.claims import protocol, ra3, records

SPE = 59  # MNIST at batch 1024


def net(ranks, seed=0, dataset="mnist", c=10, train_acc=1.0, terminal_epochs=100, epochs=200, medians=None):
    history = [{"train_acc": 0.99}] * (epochs - terminal_epochs) + [{"train_acc": 1.0}] * terminal_epochs
    medians = ranks if medians is None else medians
    return {"experiment": "ra_jacobian",
            "config": {"dataset": dataset, "skip": "identity", "seed": seed, "epochs": epochs, "batch_size": 1024,
                       "n_train": 0},
            "metrics": {"train_acc": train_acc, "test_acc": 0.98, "num_classes": c, "energy_top_c_mean": 0.99},
            "history": history,
            "arrays": {"blocks": [{"rank": r, "rank_median": m} for r, m in zip(ranks, medians)]}}


def row_of(runs, scope="all", how="mean"):
    return ra3.dataset_row("mnist", runs, [], scope, how)[0]


def test_rank_exactly_c_is_supported():
    """v1 tested rank − C < 0 strictly, so a rank of exactly C could never support the claim."""
    row = row_of([net([10.0] * 8, s) for s in range(3)])
    assert row["verdict"] == protocol.SUPPORTED
    assert row["primary"]["null"] == 11.0 and row["primary"]["direction"] == -1


def test_rank_above_c_is_contradicted_and_near_the_bound_inconclusive():
    assert row_of([net([16.0 + 0.1 * s] * 8, s) for s in range(3)])["verdict"] == protocol.CONTRADICTED
    assert row_of([net([10.5 + 0.5 * s] * 8, s) for s in range(3)])["verdict"] == protocol.INCONCLUSIVE


def test_early_blocks_decide_the_mean_but_not_the_later_half():
    """A few high-rank early blocks pull the all-block mean above C while later blocks sit at C."""
    runs = [net([38.0, 30.0, 24.0, 12.0] + [10.0] * 12, s) for s in range(3)]
    row = row_of(runs)
    assert row["verdict"] == protocol.CONTRADICTED
    assert row["robustness"]["scope: later half"] == protocol.SUPPORTED
    assert "scope" in row["depends_on"]
    assert row_of(runs, scope="later half")["verdict"] == protocol.SUPPORTED
    assert "12 of 16" in row["caveat"] or "36 of 48" in row["caveat"]


def test_median_aggregation():
    runs = [net([30.0] * 3 + [10.0] * 5, s, medians=[30.0] * 3 + [10.0] * 5) for s in range(3)]
    assert row_of(runs)["verdict"] == protocol.CONTRADICTED
    assert row_of(runs, how="median")["verdict"] == protocol.SUPPORTED


def test_gate_covers_every_network():
    runs = [net([10.0] * 8, s) for s in range(3)]
    runs[1] = net([10.0] * 8, 1, terminal_epochs=20)  # 20 × 59 = 1,180 steps at the bar
    row = row_of(runs)
    assert row["verdict"] == protocol.NOT_IN_REGIME
    assert row["gate"]["min_terminal_steps"] == 20 * SPE
    assert row["robustness"]["gate: train accuracy only"] == protocol.SUPPORTED


def sweep_runs(rank_of_k, epochs_of_k=None, seeds=(0, 1), noise=0.2):
    rng = np.random.default_rng(0)
    out = []
    for k in (2, 5, 10):
        name = "cifar10" if k == 10 else f"cifar10-{k}"
        e = (epochs_of_k or {}).get(k, 200)
        for s in seeds:
            out.append(net([rank_of_k(k) + noise * rng.standard_normal()] * 8, s, dataset=name, c=k, epochs=e,
                           terminal_epochs=e // 2))
    return out


def test_sweep_fits_per_k_means_and_gates_every_network():
    # equal steps: 1000, 400 and 200 epochs at 10, 25 and 49 steps per epoch; rank = K + 2
    equal = {2: 1000, 5: 400, 10: 200}
    row, shown = ra3.sweep_row(sweep_runs(lambda k: k + 2.0, equal), "sweep")
    assert row["verdict"] == protocol.SUPPORTED
    assert row["primary"]["estimate"] == pytest.approx(1.0, abs=0.1)
    assert shown["fit"]["levels"] == 3 and shown["fit"]["networks"] == 6  # one point per K, seeds not points
    # the unequal-step sweep: K = 2 at 200 epochs holds the bar for only 100 × 10 = 1,000 steps
    row, _ = ra3.sweep_row(sweep_runs(lambda k: k + 2.0), "sweep")
    assert row["verdict"] == protocol.NOT_IN_REGIME
    flat, _ = ra3.sweep_row(sweep_runs(lambda k: 12.0, equal, noise=0.01), "sweep")
    assert flat["verdict"] == protocol.NEGLIGIBLE


def test_filed_rows_recompute(isolated_results):
    row = row_of([net([10.0] * 8, s) for s in range(3)])
    path = records.record_verdict("RA-3", "smoke", [row], notebook="ra3_rank")
    assert records.read(path)["rows"][0]["verdict"] == protocol.SUPPORTED


def spectrum(seed, ranks_by_eps, c=10):
    """A fake ra_spectrum record: per-block rank at three ε as row strings, regime in the metrics."""
    columns = [f"rank_{e}_{k}" for e in ("1e-3", "1e-2", "5e-2") for k in ("mean", "q50")]
    blocks = [" ".join(str(ranks_by_eps[e]) for e in ("1e-3", "1e-2", "5e-2") for _ in ("mean", "q50"))] * 8
    return {"experiment": "ra_spectrum",
            "config": {"dataset": "mnist", "skip": "identity", "seed": seed, "epochs": 200},
            "metrics": {"train_acc": 1.0, "test_acc": 0.98, "num_classes": c, "energy_top_c_mean": 0.99,
                        "sgd_steps": 11800, "terminal_steps_held": 5000,
                        **{f"rank_{e}_le_c_mean": float(ranks_by_eps[e] <= c) for e in ("1e-3", "1e-2", "5e-2")}},
            "arrays": {"block_columns": columns, "blocks": blocks}}


def test_epsilon_alternatives_from_spectrum_records():
    runs = [net([10.0] * 8, s) for s in range(3)]
    spec = [spectrum(s, {"1e-3": 25.0 + s, "1e-2": 10.0, "5e-2": 9.0}) for s in range(3)]
    row, _ = ra3.dataset_row("mnist", runs, spec, "all", "mean")
    assert row["verdict"] == protocol.SUPPORTED
    assert row["robustness"]["ε = 1e-3"] == protocol.CONTRADICTED
    assert row["robustness"]["ε = 5e-2"] == protocol.SUPPORTED
    assert row["depends_on"] == ["ε"]
    with pytest.raises(ValueError):
        ra3.block_ranks(runs[0], eps="1e-3")  # ra_jacobian records hold ε = 1e-2 only


def test_sweep_epochs_per_class_count():
    sweep = ["cifar10-2", "cifar10-5", "cifar10"]
    assert ra3._sweep_epochs(sweep, {"cifar10-2": 1000, "cifar10-5": 400}, 200) == [1000, 400, 200]
    assert ra3._sweep_epochs(sweep, [1000, 400, 200], 200) == [1000, 400, 200]
    assert ra3._sweep_epochs(sweep, None, 200) == [200, 200, 200]
    with pytest.raises(ValueError):
        ra3._sweep_epochs(sweep, {"cifar10-3": 10}, 200)
