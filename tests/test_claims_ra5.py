"""RA-5 page logic on synthetic records with known answers, including the v1 failure modes."""
import json

from ra_fakes import jacobian_record, trajectory_record

from entres.claims import protocol, ra5

D, C = 128, 10


def family(skip, overlap, within, *, train_acc=1.0, energy=0.97, rank=15.0, n=3, **kw):
    jac = [jacobian_record(within, overlap * (1 + 0.02 * s), skip=skip, seed=s, train_acc=train_acc,
                           energy=energy, rank=rank, **kw) for s in range(n)]
    traj = [trajectory_record([0.99] * 20, [0.3] * 20, [1.0] * 7, skip=skip, seed=s, train_acc=train_acc)
            for s in range(n)]
    return jac, traj


def row_for(identity, none):
    table = ra5.network_table(identity[0] + none[0], identity[1] + none[1], null_draws=100)
    return ra5.dataset_row(table, "mnist")[0]


def test_alignment_lost_without_skips_is_supported_when_both_families_are_in_regime():
    r = row_for(family("identity", 0.5, 0.4), family("none", C / D, 0.07))
    assert r["verdict"] == protocol.SUPPORTED and r["gate"]["networks"] == 6


def test_the_gate_applies_to_both_families():
    """v1 gated only the identity family; a no-skip family that never trained makes the row not in regime."""
    r = row_for(family("identity", 0.5, 0.4), family("none", C / D, 0.07, train_acc=0.6))
    assert r["verdict"] == protocol.NOT_IN_REGIME
    assert r["min_train_acc"] == 0.6 and r["gate"]["failing"] == 3
    assert "read anyway, the effect is supported" in r["caveat"]


def test_a_rank_collapse_of_the_no_skip_family_does_not_vote():
    """v1: any measure moving 'the other way' made the row contradicted; the one that did was the top-C energy of
    collapsed no-skip networks (energy 1.0, rank ≈ 4). Under v2 it is a secondary measure only."""
    r = row_for(family("identity", 0.5, 0.4, energy=0.97, rank=15),
                family("none", C / D, 0.07, energy=1.0, rank=4))
    assert r["verdict"] == protocol.SUPPORTED
    energy = r["secondary"]["top-C energy (RA-3), identity − none"]
    assert energy[2] < 0  # the energy does move "the other way" …
    assert r["primary"]["name"].startswith("across-depth overlap")  # … and does not decide


def test_alignment_that_survives_without_skips_is_contradicted_or_negligible_never_supported():
    same = row_for(family("identity", 0.5, 0.4), family("none", 0.5, 0.4))
    assert same["verdict"] == protocol.NEGLIGIBLE
    more = row_for(family("identity", 0.3, 0.4), family("none", 0.8, 0.4))
    assert more["verdict"] == protocol.CONTRADICTED


def test_page_files_one_row_per_dataset(monkeypatch, isolated_results):
    monkeypatch.setenv("ENTRES_CLAIMS_DIR", str(isolated_results / "claims"))
    ident, none = family("identity", 0.5, 0.4, n=2), family("none", C / D, 0.07, n=2)
    monkeypatch.setattr(ra5.ra, "jacobian_runs", lambda *a, **k: ident[0] + none[0])
    monkeypatch.setattr(ra5.ra, "trajectory_runs", lambda *a, **k: ident[1] + none[1])
    result = ra5.page("smoke", datasets=["mnist"], null_draws=100)
    filed = json.loads((isolated_results / "claims" / "RA-5.smoke.json").read_text())
    assert [r["dataset"] for r in filed["rows"]] == ["mnist"]
    assert set(result.extra["secondary"].measure) >= {"top-C energy (RA-3), identity − none", "no-skip overlap ÷ (C/d)"}
