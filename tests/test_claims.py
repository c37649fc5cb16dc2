import json

import pytest

from entres import claims


def test_verdict_records_roundtrip(isolated_results):
    row = claims.verdict_row("fashionmnist", "supported", 3, 0.9, 0.9999, lin=(0.99, 0.98, 1.0))
    path = claims.record_verdict("RA-1", "book", [row])
    assert json.loads(path.read_text())["rows"][0]["effects"]["lin"] == [0.99, 0.98, 1.0]
    table = claims.load_verdicts(("paper", "book")).set_index("claim")
    assert table.loc["RA-1", "verdict"] == "supported" and table.loc["RA-1", "profile"] == "book"
    assert table.loc["RA-1", "effect"] == "lin 0.99 [0.98, 1]"
    assert table.loc["ERM-1", "verdict"] == "not yet run"
    assert set(table.index) == set(claims.CLAIMS)


def test_paper_profile_takes_precedence(isolated_results):
    claims.record_verdict("RA-4", "book", [claims.verdict_row("d", "inconclusive", 3, 0.9, 1.0, alpha=(1, 0, 2))])
    claims.record_verdict("RA-4", "paper", [claims.verdict_row("d", "supported", 3, 0.9, 1.0, alpha=(1, .9, 1.1))])
    table = claims.load_verdicts(("paper", "book")).set_index("claim")
    assert table.loc["RA-4", "verdict"] == "supported" and table.loc["RA-4", "profile"] == "paper"


def test_another_notebook_files_its_rows_beside_the_claims_own(isolated_results):
    claims.record_verdict("RA-2", "book", [claims.verdict_row("mnist", "supported", 3, 0.98, 1.0, a=(1, .9, 1.1))])
    claims.record_verdict("RA-2", "book", [claims.verdict_row("cifar10 (conv)", "contradicted", 2, 0.5, 1.0,
                                                              a=(0.1, 0, 0.2))], notebook="ra_conv")
    claims.record_verdict("RA-2", "book", [claims.verdict_row("mnist", "inconclusive", 3, 0.98, 1.0, a=(1, 0, 2))])
    rows = claims.load_verdicts(("paper", "book")).query("claim == 'RA-2'")
    assert rows[["dataset", "verdict", "notebook"]].values.tolist() == [
        ["mnist", "inconclusive", "ra2_alignment"], ["cifar10 (conv)", "contradicted", "ra_conv"]]


def test_bad_records_are_refused():
    with pytest.raises(ValueError, match="valid: ERM-1"):
        claims.record_verdict("RA-9", "book", [])
    with pytest.raises(ValueError, match="verdict must be one of"):
        claims.verdict_row("d", "probably", 3, 0.9, 1.0)


def test_every_claim_notebook_exists():
    from entres import profiles

    for claim in claims.CLAIMS.values():
        if claim.notebook:
            assert claim.notebook in profiles.notebooks(), claim


def test_equivalence_verdicts_against_the_reference():
    import pandas as pd

    rows = []
    for seed in range(4):
        rows += [{"skip": "identity", "seed": seed, "train_acc": 1.0, "a": 1.0 + 0.01 * seed, "b": 0.5 + 0.01 * seed},
                 {"skip": "same", "seed": seed, "train_acc": 1.0, "a": 1.0 + 0.01 * seed, "b": 0.5 + 0.01 * seed},
                 {"skip": "worse", "seed": seed, "train_acc": 1.0, "a": 0.5 + 0.01 * seed, "b": 0.5 + 0.01 * seed},
                 {"skip": "unfit", "seed": seed, "train_acc": 0.9, "a": 1.0 + 0.01 * seed, "b": 0.5 + 0.01 * seed}]
    out = claims.equivalence_verdicts(pd.DataFrame(rows), {"a": +1, "b": -1}, margin=0.1).set_index(["skip", "measure"])
    assert out.loc[("same", "a"), "verdict"] == "supported" and out.loc[("same", "a"), "family_verdict"] == "supported"
    assert out.loc[("worse", "a"), "verdict"] == "contradicted"  # a fell by half, the margin is 10%
    assert out.loc[("worse", "b"), "verdict"] == "supported"
    assert out.loc[("worse", "a"), "family_verdict"] == "contradicted"
    assert out.loc[("unfit", "a"), "family_verdict"] == "inconclusive"  # not in the terminal phase
    assert "identity" not in out.index.get_level_values(0)
