import json

import pandas as pd
import pytest

from entres import claims
from entres.claims import protocol, records


def _row(label, lo, hi, delta=0.05, passed=True):
    effect = protocol.Effect("identity − none", (lo + hi) / 2, lo, hi, +1, 0.0, delta, "Welch t", 3, 0.02, 2)
    gate = protocol.RA_GATE.check(pd.DataFrame({"train_acc": [1.0 if passed else 0.5] * 6,
                                                "terminal_steps": [5000] * 6}))
    return records.row(label, effect, gate, seeds=3, test_acc=0.9)


def test_verdict_records_roundtrip(isolated_results):
    path = claims.record_verdict("RA-1", "book", [_row("fashionmnist", 0.1, 0.3)])
    payload = json.loads(path.read_text())
    assert payload["protocol"] == 2 and payload["rows"][0]["primary"]["lo"] == 0.1
    table = claims.load_verdicts(("paper", "book")).set_index("claim")
    assert table.loc["RA-1", "verdict"] == "supported" and table.loc["RA-1", "profile"] == "book"
    assert table.loc["RA-1", "effect"] == "identity − none: 0.2 [0.1, 0.3]"
    assert table.loc["ERM-1", "verdict"] == "not yet run"
    assert set(table.index) == set(claims.CLAIMS)


def test_paper_profile_takes_precedence(isolated_results):
    claims.record_verdict("RA-4", "book", [_row("d", -0.1, 0.3)])
    claims.record_verdict("RA-4", "paper", [_row("d", 0.1, 0.3)])
    table = claims.load_verdicts(("paper", "book")).set_index("claim")
    assert table.loc["RA-4", "verdict"] == "supported" and table.loc["RA-4", "profile"] == "paper"


def test_another_notebook_files_its_rows_beside_the_claims_own(isolated_results):
    claims.record_verdict("RA-2", "book", [_row("mnist", 0.1, 0.3)])
    claims.record_verdict("RA-2", "book", [_row("cifar10 (conv)", -0.3, -0.1)], notebook="ra_conv")
    claims.record_verdict("RA-2", "book", [_row("mnist", -0.01, 0.01)])
    rows = claims.load_verdicts(("paper", "book")).query("claim == 'RA-2'")
    assert rows[["dataset", "verdict", "notebook"]].values.tolist() == [
        ["mnist", "negligible", "ra2_alignment"], ["cifar10 (conv)", "contradicted", "ra_conv"]]


def test_a_row_out_of_regime_is_not_judged(isolated_results):
    claims.record_verdict("RA-5", "book", [_row("mnist", 0.1, 0.3, passed=False)])
    row = claims.load_verdicts(("book",)).set_index("claim").loc["RA-5"]
    assert row["verdict"] == "not in regime" and row["min_train_acc"] == 0.5


def test_bad_records_are_refused(isolated_results):
    with pytest.raises(ValueError, match="valid: ERM-1"):
        claims.record_verdict("RA-9", "book", [])
    bad = _row("d", 0.1, 0.3)
    bad["verdict"] = "probably"
    with pytest.raises(records.ClaimsFileError, match="verdict must be one of"):
        claims.record_verdict("RA-1", "book", [bad])


def test_every_claim_notebook_exists():
    from entres import profiles

    for claim in claims.CLAIMS.values():
        if claim.notebook:
            assert claim.notebook in profiles.notebooks(), claim
