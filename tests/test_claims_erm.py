"""ERM-1..4 under protocol v2, on synthetic tables and records with known answers (entres.claims.erm*)."""
import json

import numpy as np
import pandas as pd
import pytest

from entres.claims import erm, erm4, erm_cnn, erm_vit, protocol, records


def _networks(spec: dict[str, list[float]], train_acc=0.995, task="cifar10", chance=0.1) -> pd.DataFrame:
    """{skip: [test acc per seed]} → an accuracy table; train_acc a number or {skip: number}."""
    rows = []
    for skip, accs in spec.items():
        tr = train_acc[skip] if isinstance(train_acc, dict) else train_acc
        for seed, acc in enumerate(accs):
            rows.append({"task": task, "skip": skip, "seed": seed, "density": np.nan, "train_acc": tr,
                         "test_acc": acc, "gap": tr - acc, "chance": chance})
    return pd.DataFrame(rows)


BASE = [0.900, 0.902, 0.904]


# ----------------------------------------------------------------------------------------------- reference, δ, gate

def test_the_reference_pools_identity_and_permutation():
    t = _networks({"identity": BASE, "permutation": [0.896, 0.898, 0.900], "sparse": [0.91, 0.912, 0.914]})
    e = erm.accuracy_effect(t, "sparse", +1)
    assert e.estimate == pytest.approx(0.912 - np.mean(BASE + [0.896, 0.898, 0.900]))
    assert "identity ∪ permutation" in e.name and e.groups == 2
    alone = erm.accuracy_effect(t, "sparse", +1, reference=("identity",))
    assert alone.estimate == pytest.approx(0.912 - 0.902)


def test_the_noise_floor_is_permutation_minus_identity_read_as_an_equivalence():
    tight = [0.900, 0.9005, 0.901]
    t = _networks({"identity": tight, "permutation": [b + 0.001 for b in tight]})
    floor = erm.noise_floor(t)
    assert floor.estimate == pytest.approx(0.001) and floor.direction == 0
    assert floor.verdict() == protocol.SUPPORTED  # inside ±δ: the null is clean at δ
    assert erm.noise_floor(_networks({"identity": BASE})) is None


@pytest.mark.parametrize("shift, direction, expected", [
    (+0.02, +1, protocol.SUPPORTED),      # clearly beyond δ in the claimed direction
    (-0.02, +1, protocol.CONTRADICTED),   # the other way
    (+0.0005, +1, protocol.NEGLIGIBLE),   # CI inside ±δ
    (-0.02, -1, protocol.SUPPORTED),      # ERM-3 claims orthogonal < reference
])
def test_accuracy_effects_read_against_delta(shift, direction, expected):
    t = _networks({"identity": BASE, "permutation": BASE, "x": [b + shift for b in BASE]})
    assert erm.accuracy_effect(t, "x", direction).verdict() == expected


def test_an_effect_the_seeds_cannot_resolve_is_inconclusive_with_a_power_statement():
    t = _networks({"identity": [0.90, 0.91, 0.89], "permutation": [0.905, 0.895, 0.90], "x": [0.91, 0.89, 0.915]})
    e = erm.accuracy_effect(t, "x", +1)
    assert e.verdict() == protocol.INCONCLUSIVE
    assert erm.power(e) > 3 and "networks per group would resolve δ = 0.005" in erm.power_text(e)


def test_the_gate_applies_to_every_family_compared():
    # the reference fits its data, the sparse family does not: a gate on the identity alone would pass
    t = _networks({"identity": BASE, "permutation": BASE, "sparse": [0.95, 0.96, 0.97]},
                  train_acc={"identity": 0.999, "permutation": 0.999, "sparse": 0.96})
    row, _, _ = erm_cnn.claim_row("ERM-1", "sparse", +1, t, None, "cifar10", 20, erm.DELTA, 0.85,
                                  _sparse_props())
    assert row["verdict"] == protocol.NOT_IN_REGIME
    assert row["min_train_acc"] == pytest.approx(0.96)
    assert row["gate"]["failing"] == 3 and row["gate"]["networks"] == 9
    assert "Not in regime" in row["caveat"] and "supported" in row["caveat"]  # the ungated reading is stated


def test_in_regime_the_row_is_decided_and_its_verdict_recomputes_from_the_file():
    t = _networks({"identity": BASE, "permutation": BASE, "sparse": [b + 0.02 for b in BASE]}, train_acc=0.999)
    row, grid, _ = erm_cnn.claim_row("ERM-1", "sparse", +1, t, None, "cifar10", 20, erm.DELTA, 0.85, _sparse_props())
    assert row["verdict"] == protocol.SUPPORTED and row["stability"] == "stable"
    assert records.recomputed_verdict(row) == row["verdict"]
    assert {"reference: identity alone", "δ = 0.0025", "δ = 0.01"} <= set(row["robustness"])


def test_a_missed_identity_baseline_takes_the_row_out_of_regime():
    low = [0.70, 0.71, 0.72]
    t = _networks({"identity": low, "permutation": low, "sparse": low}, train_acc=0.999)
    gate = erm.regime(t, t[t.skip == "identity"].test_acc.mean(), 0.85)
    assert not gate["passed"] and not gate["baseline_reached"]


def test_robustness_names_the_setting_that_changes_the_verdict():
    # a resolved 0.4-point gain: negligible at δ = 0.5 points, supported at δ halved
    tight = [0.9000, 0.9002, 0.9004]
    t = _networks({"identity": tight, "permutation": tight, "sparse": [b + 0.004 for b in tight]}, train_acc=0.999)
    row, _, _ = erm_cnn.claim_row("ERM-1", "sparse", +1, t, None, "cifar10", 20, erm.DELTA, 0.85, _sparse_props())
    assert row["verdict"] == protocol.NEGLIGIBLE
    assert row["robustness"]["δ = 0.0025"] == protocol.SUPPORTED
    assert row["stability"] == "depends on δ" and row["depends_on"] == ["δ"]


def test_the_density_sweep_enters_erm1_robustness_with_its_own_gate():
    t = _networks({"identity": BASE, "permutation": BASE, "sparse": BASE}, train_acc=0.999)
    sweep = pd.concat([_networks({"identity": [0.70, 0.71]}, train_acc=0.77),
                       _networks({"sparse": [0.72, 0.73]}, train_acc=0.78).assign(density=0.01)])
    grid = erm_cnn.robustness_grid(t, sweep, "sparse", +1, erm.DELTA, 0.85)
    line = next(g for g in grid if g["alternative"] == "sparse density = 0.01")
    assert line["verdict"] == protocol.NOT_IN_REGIME and line["estimate"] == pytest.approx(0.02)


def _sparse_props():
    return {"density": 0.05, "extra non-zeros per row": 0.9, "by channels": "0.47 at 16",
            "spectral norm min": 1.3, "spectral norm max": 2.4}


# ----------------------------------------------------------------------------------------------- the skip matrices

def test_sparse_skips_do_not_keep_the_identity_scale_but_orthogonal_and_permutation_do():
    sparse = erm_cnn.matrix_properties("sparse", [0], depth=8, width=16)
    assert not sparse["keeps identity scale"] and sparse["spectral norm max"] > 1.2
    for skip in ("orthogonal", "permutation"):
        assert erm_cnn.matrix_properties(skip, [0], depth=8, width=16)["keeps identity scale"]
    assert erm.extra_nonzeros_per_row([np.eye(4)[[1, 0, 3, 2]]])[0] == 0  # a permutation adds no mixing


def test_the_vit_residuals_use_different_matrices_in_the_code():
    assert not erm_vit.residuals_share_e("orthogonal", [0], depth=2, width=24)
    assert "different matrices" in erm_vit.shared_e_text(False)


# ----------------------------------------------------------------------------------------------- ERM-4

def _rnn(accs: dict[tuple[str, str], list[float]], train_acc=0.9) -> pd.DataFrame:
    chance = {"seq-motif": 0.5, "seq-majority": 0.25, "smnist": 0.1, "seq-position": 0.25, "seq-recall": 0.25}
    return pd.concat([_networks({skip: v}, train_acc, task, chance[task]) for (task, skip), v in accs.items()],
                     ignore_index=True)


def _suite(variant_gain, invariant_gain, variant_base=0.80, invariant_base=0.80, noise=(0.0, 0.002, -0.002)):
    accs = {}
    for task, base, gain in (("seq-motif", invariant_base, invariant_gain), ("smnist", invariant_base, invariant_gain),
                             ("seq-position", variant_base, variant_gain), ("seq-recall", variant_base, variant_gain)):
        accs[(task, "identity")] = [base + n for n in noise]
        accs[(task, "orthogonal")] = [base + gain + n / 2 for n in noise]
    return _rnn(accs)


def test_erm4_reads_the_interaction():
    effect, gate, used, _ = erm4.decide_row(_suite(+0.05, -0.05), erm.DELTA, erm.DELTA)
    assert gate["passed"] and effect.estimate == pytest.approx(0.10) and effect.n == 3  # seeds, not tasks × seeds
    assert effect.verdict() == protocol.SUPPORTED


def test_erm4_a_mapping_that_helps_every_task_alike_shows_no_interaction():
    # orthogonal helps both kinds by 5 points: the separate "invariant < 0" test would call this contradicted,
    # but the claim is the interaction, which is zero
    t = _suite(+0.05, +0.05)
    effect, gate, used, _ = erm4.decide_row(t, erm.DELTA, erm.DELTA)
    assert effect.verdict() == protocol.NEGLIGIBLE
    assert erm4.kind_effects(erm4.paired_differences(t), used, erm.DELTA)["invariant"].verdict() == protocol.CONTRADICTED


def test_erm4_tasks_at_the_ceiling_leave_the_interaction_and_a_kind_without_tasks_is_not_in_regime():
    t = _suite(+0.15, -0.05, variant_base=0.80)
    t.loc[(t.task == "seq-position") & (t.skip == "orthogonal"), "test_acc"] = 1.0
    regime = erm4.task_regime(t, erm.DELTA)
    assert regime.set_index("task").loc["seq-position", "in regime"] == False  # noqa: E712
    effect, gate, used, _ = erm4.decide_row(t, erm.DELTA, erm.DELTA)
    assert gate["passed"] and "seq-position" not in used
    t.loc[(t.task == "seq-recall") & (t.skip == "orthogonal"), "test_acc"] = 1.0
    effect, gate, used, _ = erm4.decide_row(t, erm.DELTA, erm.DELTA)
    assert not gate["passed"] and effect.verdict(gate["passed"]) == protocol.NOT_IN_REGIME
    assert set(used) == set(t.task)  # the interaction over all tasks is still reported


def test_erm4_a_family_at_chance_is_out_of_regime():
    t = _suite(+0.05, -0.05)
    t.loc[(t.task == "smnist") & (t.skip == "identity"), "test_acc"] = 0.1
    assert "identity at chance" in erm4.task_regime(t, erm.DELTA).set_index("task").loc["smnist", "why not"]


# ----------------------------------------------------------------------------------------------- pages, end to end

def _record(cfg: dict, train_acc: float, test_acc: float, chance: float = 0.1) -> dict:
    return {"config": cfg, "metrics": {"train_acc": train_acc, "test_acc": test_acc, "chance": chance},
            "history": [{"epoch": 1, "train_acc": train_acc, "test_acc": test_acc}],
            "provenance": {"device": "cpu: test", "git_commit": "abcdef0", "date": "2025-01-01T00:00:00",
                           "train_seconds": 60.0}}


def _fake_runs(accuracy):
    def runs(tasks, skips, seeds, **options):
        return [_record({**options, "dataset": t, "skip": s, "seed": seed, "skip_params": options.get("skip_params", {})},
                        *accuracy(t, s, seed, options)) for t in tasks for s in skips for seed in seeds]
    return runs


def test_the_cnn_page_files_both_claims_from_cached_runs(monkeypatch, isolated_results):
    shift = {"sparse": 0.02, "orthogonal": -0.02}
    monkeypatch.setattr("entres.experiments.erm.runs",
                        _fake_runs(lambda t, s, seed, o: (0.999, 0.90 + shift.get(s, 0.0) + 0.001 * seed)))
    result = erm_cnn.page("smoke", dataset="cifar10", seeds=[0, 1, 2], depth=8, width=4, densities=[0.01],
                          density_seeds=[0, 1])
    assert [r["verdict"] for r in result.rows] == [protocol.SUPPORTED, protocol.SUPPORTED]
    assert set(result.rows[0]["robustness"]) >= {"reference: identity alone", "sparse density = 0.01"}
    folder = records.claims_folder()
    for name in ("ERM-1.smoke.json", "ERM-3.smoke.json"):
        payload = records.read(folder / name)
        assert payload["protocol"] == records.PROTOCOL and payload["notebook"] == "erm_cnn"
    assert result.values["erm1_verdict"] == protocol.SUPPORTED
    assert "does not keep" in result.values["sparse_keeps_scale"]


def test_the_vit_page_files_erm2_and_the_vit_half_of_erm3(monkeypatch, isolated_results):
    monkeypatch.setattr("entres.experiments.erm.runs", _fake_runs(lambda t, s, seed, o: (0.78, 0.75 + 0.003 * seed)))
    result = erm_vit.page("smoke", depth=2, width=24, seeds=[0, 1, 2])
    assert all(r["verdict"] == protocol.NOT_IN_REGIME for r in result.rows)
    assert (records.claims_folder() / "ERM-3+erm_vit.smoke.json").exists()
    assert "No permutation ViT" in result.rows[0]["caveat"]
    assert "different matrices" in result.values["shared_e_text"]


def test_the_rnn_page_files_the_interaction(monkeypatch, isolated_results):
    gain = {"variant": 0.05, "invariant": -0.05}

    def accuracy(task, skip, seed, options):
        from entres import sequences
        return 0.9, 0.8 + (gain[sequences.TASKS[task]] if skip == "orthogonal" else 0.0) + 0.002 * seed

    monkeypatch.setattr("entres.experiments.erm.runs", _fake_runs(accuracy))
    result = erm4.page("smoke", seeds=[0, 1, 2])
    row = result.rows[0]
    assert row["verdict"] == protocol.SUPPORTED and row["primary"]["estimate"] == pytest.approx(0.10)
    payload = json.loads((records.claims_folder() / "ERM-4.smoke.json").read_text())
    assert payload["rows"][0]["min_train_acc"] == pytest.approx(0.9)
