"""ERM-5 page logic (entres.claims.erm5) on synthetic records with known answers."""
import math

import numpy as np
import pytest

from entres import experiments, results
from entres.claims import erm5, protocol, records

DEPTH = 20  # ResNet-20: 9 blocks, stage changes at blocks 3 and 6 (0-based)


def record(skip, seed, drop_cost_late, train_acc=0.995, test_acc=0.9, update_late=0.3, cosine=0.1):
    """A fake erm_refinement record: early blocks drop cost 0.1, later half ``drop_cost_late``."""
    sample_acc = 0.9
    blocks = []
    for l in range(9):
        late = l >= 4
        blocks.append({"relative_update": update_late if late else 0.6, "gradient_cosine": cosine,
                       "drop_accuracy": sample_acc - (drop_cost_late if late else 0.1), "probe_accuracy": 0.5})
    return {"config": {"skip": skip, "seed": seed, "depth": DEPTH, "dataset": "cifar10"},
            "metrics": {"train_acc": train_acc, "test_acc": test_acc, "sample_acc": sample_acc},
            "arrays": {"blocks": blocks}, "provenance": {"date": "2026-01-01", "git_commit": "abc1234", "device": "cpu"}}


def family(skip, costs, **kw):
    return [record(skip, i, c, **kw) for i, c in enumerate(costs)]


REF = family("identity", [0.20, 0.21, 0.19]) + family("permutation", [0.20, 0.205, 0.195])


def row_for(runs, fam, **kw):
    table = erm5.network_table(runs)
    return erm5.family_row(runs, table, fam, erm5.DELTA, erm5.LATE_HALF, "mean", False, -1.0, **kw)[0]


def test_scopes():
    assert erm5.scope_blocks(9, erm5.LATE_HALF) == [4, 5, 6, 7, 8]
    assert erm5.scope_blocks(9, erm5.WITHIN_STAGES, DEPTH) == [1, 2, 4, 5, 7, 8]
    assert erm5.scope_blocks(9, erm5.ALL) == list(range(9))
    with pytest.raises(ValueError, match="unknown scope"):
        erm5.scope_blocks(9, "late")


def test_network_row_measures():
    r = erm5.network_row(record("identity", 0, 0.25))
    assert math.isclose(r["drop_cost"], 0.25) and math.isclose(r["update_contrast"], 0.3 - 0.6)
    assert math.isclose(r["cosine"], 0.1)
    assert math.isnan(erm5.network_row(record("identity", 0, 0.25), coordinate_free_only=True)["cosine"])


def test_equal_drop_cost_is_supported_as_preserving():
    tight = family("identity", [0.200, 0.201, 0.199]) + family("permutation", [0.2, 0.2005, 0.1995])
    runs = tight + family("sparse", [0.2, 0.201, 0.199, 0.2, 0.2], train_acc=0.999)
    r = row_for(runs, "sparse")
    assert r["primary"]["direction"] == 0 and r["verdict"] == protocol.SUPPORTED


def test_a_much_larger_drop_cost_contradicts():
    r = row_for(REF + family("orthogonal", [0.45, 0.46, 0.44]), "orthogonal")
    assert r["verdict"] == protocol.CONTRADICTED and r["primary"]["estimate"] > 0.2


def test_a_wide_ci_is_inconclusive_with_seeds_needed():
    r = row_for(REF + family("sparse", [0.1, 0.3, 0.22]), "sparse")
    assert r["verdict"] == protocol.INCONCLUSIVE and r["seeds_needed"] and r["seeds_needed"] > 3


def test_gate_applies_to_every_family_compared():
    """A reference network below the bar fails the row although the family itself passes."""
    low_ref = family("identity", [0.20, 0.21, 0.19], train_acc=0.96) + family("permutation", [0.2, 0.205, 0.195])
    r = row_for(low_ref + family("orthogonal", [0.45, 0.46, 0.44]), "orthogonal")
    assert r["verdict"] == protocol.NOT_IN_REGIME and math.isclose(r["min_train_acc"], 0.96)
    assert "contradicted" in r["caveat"]  # the ungated reading is said
    r = row_for(REF + family("orthogonal", [0.45, 0.46, 0.44], train_acc=0.9), "orthogonal")
    assert r["verdict"] == protocol.NOT_IN_REGIME


def test_identity_baseline_below_minimum_fails_the_gate():
    low = family("identity", [0.2, 0.21, 0.19], test_acc=0.5) + family("permutation", [0.2, 0.205, 0.195])
    table = erm5.network_table(low + family("sparse", [0.2, 0.2, 0.2]))
    assert not erm5.regime(table)["passed"]


def test_permutation_pools_with_identity_and_gives_the_noise_floor():
    runs = REF + family("sparse", [0.2, 0.2, 0.2])
    table = erm5.network_table(runs)
    assert erm5.reference_label(table) == "identity ∪ permutation"
    assert len(erm5.reference_of(table)) == 6
    floor = erm5.noise_floor(table)
    assert floor.lo < 0 < floor.hi


def test_robustness_labels_name_their_setting():
    runs = REF + family("orthogonal", [0.45, 0.46, 0.44])
    table = erm5.network_table(runs)
    _, grid = erm5.family_row(runs, table, "orthogonal", erm5.DELTA, erm5.LATE_HALF, "mean", False, -1.0)
    labels = {g["alternative"] for g in grid}
    assert {"scope: within stages", "scope: all blocks", "aggregation: median", "δ = 0.0025", "δ = 0.01",
            "reference: identity"} == labels


def test_version_1_results_are_read_never_computed_and_drop_the_cosine(isolated_results):
    exp = experiments.get("erm_refinement")
    assert exp.version == 2
    cfg = dict(dataset="cifar10", skip="identity", seed=0, depth=20, width=16, epochs=30)
    with pytest.raises(results.MissingResultError, match="never computed"):
        erm5.get_runs([cfg], 1)
    full = exp.full_config(cfg)
    rec = {**record("identity", 0, 0.2), "experiment": "erm_refinement", "version": 1, "config": full,
           "key": results.config_key("erm_refinement", 1, full)}
    results.save(rec)
    got = erm5.get_runs([cfg], 1)
    assert got[0]["version"] == 1
    assert np.isnan(erm5.network_table(got, coordinate_free_only=True).cosine).all()


def test_page_files_rows_that_recompute(isolated_results, monkeypatch):
    runs = REF + family("orthogonal", [0.45, 0.46, 0.44]) + family("sparse", [0.2, 0.201, 0.199])
    runs = [{**r, "config": {**r["config"], "dataset": "cifar10"}} for r in runs]
    monkeypatch.setattr(erm5, "get_runs", lambda configs, version: runs)
    monkeypatch.setenv("ENTRES_CLAIMS_DIR", str(isolated_results / "claims"))
    result = erm5.page("smoke", "cifar10", ["identity", "orthogonal", "sparse", "permutation"], [0, 1, 2], 20, 16, 1,
                       128, 0.1, 5e-4, 0, 10, 10, 10)
    assert [r["dataset"].split(" (")[0] for r in result.rows] == ["orthogonal", "sparse"]
    filed = records.read(records.claims_folder() / "ERM-5.smoke.json")
    assert [r["verdict"] for r in filed["rows"]] == [protocol.CONTRADICTED, protocol.INCONCLUSIVE]
    assert result.values["ungated_orthogonal"] == protocol.CONTRADICTED
