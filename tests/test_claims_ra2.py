"""RA-2 page logic on synthetic records with known answers."""
import json

import pytest
from ra_fakes import jacobian_record, spectrum_record

from entres.claims import protocol, ra2, ra_common

D, C = 128, 10


def fams(within, overlap, n=3, **kw):
    return [jacobian_record(within, overlap, seed=s, **kw) for s in range(n)]


def rows_for(records, spectrum=None):
    return ra2.dataset_rows(ra2.network_table(records), "mnist", spectrum)[0]


def test_measures_are_multiples_of_chance():
    t = ra2.network_table(fams(ra_common.chance_alignment(D) * 3, 0.5))
    assert t.within_x_all_mean.iloc[0] == pytest.approx(3.0)
    assert t.overlap_x_all_mean.iloc[0] == pytest.approx(0.5 / (C / D))


def test_strong_alignment_is_supported_and_chance_is_negligible():
    strong = rows_for(fams(0.45, 0.6))
    assert [r["verdict"] for r in strong] == [protocol.SUPPORTED] * 2
    chance = rows_for([jacobian_record(ra_common.chance_alignment(D) * (1 + 0.02 * s), C / D * (1 + 0.02 * s), seed=s)
                       for s in range(3)])
    assert [r["verdict"] for r in chance] == [protocol.NEGLIGIBLE] * 2


def test_no_unsourced_threshold_an_overlap_of_0_4_is_five_times_chance_and_supported():
    """v1 called an overlap of 0.46 'contradicted' against τ = 0.5 (no source); against chance it is RA."""
    r = rows_for([jacobian_record(0.36 + 0.01 * s, 0.4 + 0.01 * s, seed=s) for s in range(3)])[1]
    assert r["verdict"] == protocol.SUPPORTED and r["primary"]["null"] == 1.0


def test_gate_of_the_identity_family_decides_regime():
    r = rows_for(fams(0.45, 0.6, epochs_at_bar=40))  # 40 × 59 = 2,360 SGD steps held < 3,000
    assert {x["verdict"] for x in r} == {protocol.NOT_IN_REGIME}
    assert all(x["robustness"]["gate: accuracy only"] == protocol.SUPPORTED for x in r)


def test_later_half_scope_and_median_are_robustness_settings():
    r = rows_for(fams(0.45, 0.6))[1]
    assert {"aggregation: median", "scope: later half", "side: U only", "side: V only"} <= set(r["robustness"])


def test_spectrum_rows_read_the_authors_statistic_against_its_chance():
    spec = [spectrum_record(0.5, seed=s, depth=L) for s in range(3) for L in (4, 8)]
    spec += [spectrum_record(0.1 + 0.005 * s, seed=s, skip="none", train_acc=0.8, held_steps=0) for s in range(3)]
    table = ra2.pd.DataFrame([ra2.spectrum_measures(r) for r in spec])
    assert table.diag_x_all_mean.iloc[0] == pytest.approx(5.0)
    rows, details = ra2.spectrum_rows(table, "mnist", depth=8)
    row = rows[0]
    assert row["verdict"] == protocol.SUPPORTED and row["gate"]["networks"] == 3  # identity only: RA-2 is about it
    assert row["robustness"]["depth: 4"] == protocol.SUPPORTED
    assert row["secondary"]["÷ chance, no-skip control"][0] == pytest.approx(1.05, abs=0.01)


def test_the_within_row_gets_the_well_determined_directions_setting_from_the_spectrum():
    recs = fams(0.2, 0.6)
    spec = ra2.pd.DataFrame([ra2.spectrum_measures(spectrum_record(0.5, seed=s, align_strong=0.07)) for s in range(3)])
    r = rows_for(recs, spec)[0]
    assert r["robustness"]["directions: σ_i ≥ 0.1σ₁"] == protocol.NEGLIGIBLE
    assert "directions" in r["depends_on"]


def test_page_files_rows_and_leaves_spectrum_rows_out_when_no_spectrum_datasets(monkeypatch, isolated_results):
    monkeypatch.setenv("ENTRES_CLAIMS_DIR", str(isolated_results / "claims"))
    monkeypatch.setattr(ra2.ra, "jacobian_runs", lambda d, s, seeds, **kw: fams(0.45, 0.6, n=2))
    result = ra2.page("smoke", datasets=["mnist"], skips=["identity"], identity_only_datasets=[])
    filed = json.loads((isolated_results / "claims" / "RA-2.smoke.json").read_text())
    assert [r["dataset"] for r in filed["rows"]] == ["mnist: within-block", "mnist: across depth"]
    assert result.extra["spectrum"] is None
