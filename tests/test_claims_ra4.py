"""RA-4 page logic on synthetic networks with known answers (no training, no datasets)."""
import math

import numpy as np
import pytest

from entres.claims import protocol, ra4, records

DEPTHS = [4, 8, 16, 32]
SPE = math.ceil(60000 / 1024)  # MNIST at batch 1024


def net(depth, seed, sigma, dataset="mnist", train_acc=1.0, epochs=200, terminal_epochs=100):
    """A fake ra_jacobian record whose blocks have top singular values ``sigma`` (a list, or a function of l)."""
    values = [sigma(l) for l in range(1, depth + 1)] if callable(sigma) else list(sigma)
    history = [{"train_acc": 0.99}] * (epochs - terminal_epochs) + [{"train_acc": 1.0}] * terminal_epochs
    return {"config": {"dataset": dataset, "skip": "identity", "depth": depth, "seed": seed, "batch_size": 1024,
                       "n_train": 0, "epochs": epochs},
            "metrics": {"train_acc": train_acc, "test_acc": 0.98},
            "history": history, "arrays": {"blocks": [{"sigma1": v} for v in values]}}


def sweep(law, seeds=(0, 1, 2), noise=0.01, **kw):
    """Networks at every depth whose blocks all have σ₁ = law(L) × (1 + seed noise)."""
    rng = np.random.default_rng(0)
    return [net(L, s, [law(L) * (1 + noise * rng.standard_normal())] * L, **kw) for L in DEPTHS for s in seeds]


def rows_of(runs, **kw):
    deltas = {"alpha": ra4.DELTA_ALPHA, "corr": ra4.DELTA_CORR, "ratio": ra4.DELTA_RATIO}
    rows, shown = ra4.dataset_rows(runs, "mnist", DEPTHS, deltas, "all", "mean",
                                   ra4.alternatives(DEPTHS, ["later half"], ["median"]), **kw)
    return {r["dataset"].split(": ", 1)[1]: r for r in rows}, shown


def test_exponent_one_is_supported_and_two_contradicted():
    rows, _ = rows_of(sweep(lambda L: 8.0 / L))
    assert rows["power law"]["verdict"] == protocol.SUPPORTED
    assert rows["power law"]["primary"]["estimate"] == pytest.approx(1.0, abs=0.02)
    rows, _ = rows_of(sweep(lambda L: 64.0 / L ** 2))
    assert rows["power law"]["verdict"] == protocol.CONTRADICTED


def test_fit_uses_one_point_per_depth_not_seeds():
    """Seeds as independent points would narrow the CI of a curve that is no power law; on depth means
    the CI (k − 2 df) does not shrink with more seeds, and the lack of fit is reported."""
    curve = lambda L: 1 / (0.5 + 0.1 * L) ** 1.3 + 0.02  # noqa: E731  (not a power law)
    few, _ = ra4.power_law_effect(ra4.network_table(sweep(curve, seeds=(0, 1))))
    many, fit = ra4.power_law_effect(ra4.network_table(sweep(curve, seeds=tuple(range(12)))))
    assert few.n == many.n == len(DEPTHS)
    assert (many.hi - many.lo) > 0.8 * (few.hi - few.lo)
    assert fit["lack_of_fit"]["p"] < 0.05 and fit["networks"] == 12 * len(DEPTHS)


def test_gate_covers_every_network():
    runs = sweep(lambda L: 8.0 / L)
    runs[5]["metrics"]["train_acc"] = 0.99  # one network at one depth short of the bar
    rows, _ = rows_of(runs)
    assert {r["verdict"] for r in rows.values()} == {protocol.NOT_IN_REGIME}
    assert rows["power law"]["min_train_acc"] == pytest.approx(0.99)
    assert rows["power law"]["caveat"].startswith("Not in regime") and "supported" in rows["power law"]["caveat"]
    runs = sweep(lambda L: 8.0 / L)
    runs[-1] = net(32, 2, [0.25] * 32, terminal_epochs=10)  # at the bar, but held for too few steps
    rows, _ = rows_of(runs)
    assert rows["power law"]["verdict"] == protocol.NOT_IN_REGIME
    assert rows["power law"]["gate"]["min_terminal_steps"] == 10 * SPE


def test_within_network_reading():
    rising = [net(L, s, lambda l: 1 / (0.2 + 0.1 * l)) for L in DEPTHS for s in (0, 1, 2)]
    rows, _ = rows_of(rising)
    assert rows["1/σ₁ linear in l"]["verdict"] == protocol.SUPPORTED
    assert rows["1/σ₁ linear in l"]["primary"]["estimate"] == pytest.approx(1.0, abs=1e-6)
    falling = [net(L, s, lambda l: 0.2 + 0.1 * l) for L in DEPTHS for s in (0, 1, 2)]
    rows, _ = rows_of(falling)
    assert rows["1/σ₁ linear in l"]["verdict"] == protocol.CONTRADICTED


def test_affine_reading():
    rows, _ = rows_of(sweep(lambda L: 1 / (0.3 + 0.2 * L)))
    assert rows["1/σ̄₁ affine in L"]["verdict"] == protocol.SUPPORTED
    assert rows["1/σ̄₁ affine in L"]["primary"]["estimate"] == pytest.approx(1.0, abs=0.1)
    rows, _ = rows_of(sweep(lambda L: 1 / (0.01 * L ** 2)))  # 1/σ̄₁ convex in L: slope ratio 12
    assert rows["1/σ̄₁ affine in L"]["verdict"] == protocol.CONTRADICTED


def test_block_scope_and_aggregation():
    assert list(ra4.scoped([1, 2, 3, 4, 5, 6], "later half")) == [4, 5, 6]
    assert list(ra4.scoped([1, 2, 3, 4, 5, 6], "after block 4")) == [5, 6]
    assert len(ra4.scoped([1, 2, 3, 4], "after block 4")) == 0
    with pytest.raises(ValueError):
        ra4.scoped([1, 2], "early")
    # the late blocks decay like 1/L^2, the early ones like 1/L: the scope changes the exponent
    runs = [net(L, s, lambda l, L=L: (1 / L) if l <= L // 2 else (4 / L ** 2)) for L in DEPTHS for s in (0, 1)]
    late = ra4.power_law_effect(ra4.network_table(runs, "later half"))[0]
    assert late.estimate == pytest.approx(2.0, abs=1e-6)
    median = ra4.network_table([net(4, 0, [1, 1, 1, 9])], aggregation="median")
    assert median["sigma1"].iloc[0] == pytest.approx(1.0)


def test_robustness_names_the_setting_that_changes_the_verdict():
    runs = [net(L, s, lambda l, L=L: (8 / L) if l <= L // 2 else (64 / L ** 2)) for L in DEPTHS for s in (0, 1, 2)]
    rows, _ = rows_of(runs)
    r = rows["power law"]
    assert r["robustness"]["scope: later half"] == protocol.CONTRADICTED
    if r["verdict"] != protocol.CONTRADICTED:
        assert "scope" in r["depends_on"]


def test_terminal_steps_from_history():
    assert ra4.regime(net(8, 0, [1.0] * 8, terminal_epochs=60))["terminal_steps"] == 60 * SPE


def test_filed_rows_recompute(isolated_results):
    rows, _ = rows_of(sweep(lambda L: 8.0 / L))
    path = records.record_verdict("RA-4", "smoke", list(rows.values()), notebook="ra4_depth")
    assert [r["verdict"] for r in records.read(path)["rows"]] == [r["verdict"] for r in rows.values()]
