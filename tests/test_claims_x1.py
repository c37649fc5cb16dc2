"""X-1 page logic on synthetic records with known answers (no training, no data)."""
import numpy as np
import pytest

import ra_fakes
from entres.claims import protocol, ra4, records, x1

BATCH_SPE = ra_fakes.STEPS_PER_EPOCH


def traj(skip, seed, lin=0.99, cv=0.05, depth=8, **kw):
    steps = [1.0 + 0.01 * seed] * (depth - 1)
    return ra_fakes.trajectory_record([lin + 0.001 * seed] * 5, [cv] * 5, steps, skip=skip, seed=seed, **kw)


def jac(skip, seed, overlap=0.5, within=0.6, rank=10.0, depth=8, sigma=None, **kw):
    r = ra_fakes.jacobian_record(within, overlap + 0.005 * seed, skip=skip, seed=seed, depth=depth,
                                 rank=rank + 0.05 * seed, **kw)
    for b in r["arrays"]["blocks"]:
        b["rank_median"] = b["rank"]
        if sigma is not None:
            b["sigma1"] = sigma * (1 + 0.01 * seed)
    return r


def tables(family_kw=None, identity_kw=None, family="permutation", frames=("untangled", "raw"), raw_kw=None):
    """Per-frame tables of 3 identity and 3 family networks; the family's raw frame uses ``raw_kw``."""
    out = {}
    for frame in frames:
        fkw = {**(family_kw or {}), **((raw_kw or {}) if frame == "raw" else {})}
        t_runs = [traj("identity", s, **(identity_kw or {}).get("traj", {})) for s in range(3)] + \
                 [traj(family, s, **fkw.get("traj", {})) for s in range(3)]
        j_runs = [jac("identity", s, **(identity_kw or {}).get("jac", {})) for s in range(3)] + \
                 [jac(family, s, **fkw.get("jac", {})) for s in range(3)]
        out[frame] = x1.network_table(t_runs, j_runs, frame, null_draws=200)
    return out


def test_a_family_that_keeps_the_identitys_values_is_supported_on_every_row():
    t = tables()
    for row in x1.ROWS:
        r, _ = x1.measure_row(t, "permutation", row)
        assert r["verdict"] == protocol.SUPPORTED, row
        assert r["primary"]["direction"] == 0 and r["primary"]["null"] == 0.0


def test_losing_alignment_beyond_delta_is_contradicted():
    t = tables({"jac": {"overlap": 0.05}}, family="orthogonal")
    r, _ = x1.measure_row(t, "orthogonal", "RA-2 across depth")
    assert r["verdict"] == protocol.CONTRADICTED
    assert r["primary"]["delta"] == x1.ra2.DELTA
    assert "more RA" not in r["caveat"]


def test_more_ra_than_the_identity_is_named_in_the_caveat():
    """An equivalence row is contradicted either way; the caveat says which way."""
    t = tables({"jac": {"rank": 7.0}}, family="sparse")
    r, _ = x1.measure_row(t, "sparse", "RA-3 rank")
    assert r["verdict"] == protocol.CONTRADICTED and "direction of more RA" in r["caveat"]


def test_the_untangled_frame_is_primary_and_raw_is_robustness():
    """A permutation network compared in raw coordinates loses its alignment; untangled it matches."""
    t = tables(raw_kw={"jac": {"overlap": 0.05}})
    r, _ = x1.measure_row(t, "permutation", "RA-2 across depth")
    assert r["verdict"] == protocol.SUPPORTED
    assert r["robustness"]["frame: raw"] == protocol.CONTRADICTED
    assert r["depends_on"] == ["frame"]


def test_the_gate_covers_the_identity_too():
    t = tables(identity_kw={"jac": {"train_acc": 0.99}, "traj": {"train_acc": 0.99}})
    for row in x1.ROWS:
        r, _ = x1.measure_row(t, "permutation", row)
        assert r["verdict"] == protocol.NOT_IN_REGIME, row
        assert r["min_train_acc"] == pytest.approx(0.99)
        assert r["gate"]["networks"] == 6


def test_the_gate_counts_held_steps_of_the_family():
    t = tables({"jac": {"epochs_at_bar": 10}, "traj": {"epochs_at_bar": 10}})  # 10 × 59 < 3,000 steps
    r, _ = x1.measure_row(t, "permutation", "RA-1 line")
    assert r["verdict"] == protocol.NOT_IN_REGIME
    assert r["robustness"]["gate: accuracy only"] == protocol.SUPPORTED


def depth_runs(alpha_family, alpha_identity=1.0, family="permutation", depths=(4, 8, 16, 32), seeds=(0, 1, 2),
               family_depths=None):
    """Networks whose σ̄₁ follows 8 L^−α with 2% noise per network (depth means off the law by a little)."""
    rng = np.random.default_rng(0)
    runs = []
    for skip, alpha, ds in ((family, alpha_family, family_depths or depths), ("identity", alpha_identity, depths)):
        runs += [jac(skip, s, depth=L, sigma=8.0 / L ** alpha * (1 + 0.02 * rng.standard_normal()))
                 for L in ds for s in seeds]
    return runs


def test_alpha_difference_is_fitted_on_depth_means_and_read_as_equivalence():
    row, _, shown = x1.alpha_row(depth_runs(1.0), "permutation")
    assert row["verdict"] == protocol.SUPPORTED
    assert row["primary"]["n"] == 4  # depth means, not networks
    assert row["primary"]["delta"] == ra4.DELTA_ALPHA
    row, _, _ = x1.alpha_row(depth_runs(2.0), "permutation")
    assert row["verdict"] == protocol.CONTRADICTED
    assert row["primary"]["estimate"] == pytest.approx(1.0, abs=0.05)


def test_alpha_compares_the_depths_both_families_have_and_gates_every_network():
    runs = depth_runs(1.0, family="sparse", family_depths=(4, 8, 16))
    row, _, shown = x1.alpha_row(runs, "sparse")
    assert sorted(set(shown["tables"]["identity"].depth)) == [4, 8, 16]
    assert row["gate"]["networks"] == 18
    runs[-1]["metrics"]["train_acc"] = 0.5  # an identity network at depth 32: outside the common depths
    row, _, _ = x1.alpha_row(runs, "sparse")
    assert row["verdict"] == protocol.SUPPORTED
    assert row["robustness"]["depths: all of each family"] == protocol.NOT_IN_REGIME
    runs[0]["metrics"]["train_acc"] = 0.5  # a sparse network inside them
    row, _, _ = x1.alpha_row(runs, "sparse")
    assert row["verdict"] == protocol.NOT_IN_REGIME


def test_filed_rows_are_recomputable(tmp_path, monkeypatch):
    monkeypatch.setenv("ENTRES_CLAIMS_DIR", str(tmp_path))
    rows = [x1.measure_row(tables(), "permutation", row)[0] for row in x1.ROWS]
    rows.append(x1.alpha_row(depth_runs(1.0), "permutation")[0])
    path = records.record_verdict("X-1", "smoke", rows)
    assert [r["verdict"] for r in records.read(path)["rows"]] == [protocol.SUPPORTED] * 4
    assert np.isfinite(rows[-1]["primary"]["lo"])
