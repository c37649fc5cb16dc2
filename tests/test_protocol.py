"""Verdict protocol v2 (entres.claims.protocol and records): each rule on inputs with known answers."""
import json
import math

import numpy as np
import pandas as pd
import pytest

from entres.claims import page, protocol, records
from entres.claims.protocol import CONTRADICTED, INCONCLUSIVE, NEGLIGIBLE, NOT_IN_REGIME, SUPPORTED


@pytest.mark.parametrize("lo, hi, direction, delta, expected", [
    (0.2, 0.5, +1, 0.1, SUPPORTED),        # excludes 0 on the claimed side and reaches beyond delta
    (0.02, 0.05, +1, 0.1, NEGLIGIBLE),     # a real effect, but inside ±delta
    (-0.05, 0.05, +1, 0.1, NEGLIGIBLE),    # no effect, and the CI rules out anything that matters
    (-0.5, 0.5, +1, 0.1, INCONCLUSIVE),    # too wide to say
    (-0.5, -0.2, +1, 0.1, CONTRADICTED),   # the other way
    (-0.5, -0.2, -1, 0.1, SUPPORTED),      # a claimed decrease
    (0.01, 0.05, +1, None, SUPPORTED),     # without delta any CI excluding 0 decides
    (math.nan, 1.0, +1, 0.1, INCONCLUSIVE),
])
def test_decide_reads_the_ci_against_null_and_delta(lo, hi, direction, delta, expected):
    assert protocol.decide(lo, hi, direction, 0.0, delta) == expected


def test_decide_against_a_nonzero_null_and_out_of_regime():
    assert protocol.decide(0.30, 0.40, +1, null=0.25, delta=0.02) == SUPPORTED
    assert protocol.decide(0.20, 0.24, +1, null=0.25, delta=0.1) == NEGLIGIBLE
    assert protocol.decide(0.3, 0.4, +1, 0.0, 0.01, in_regime=False) == NOT_IN_REGIME


@pytest.mark.parametrize("lo, hi, expected", [(0.9, 1.1, SUPPORTED), (1.3, 1.6, CONTRADICTED),
                                              (1.1, 1.8, INCONCLUSIVE), (0.5, 0.7, CONTRADICTED)])
def test_equivalence_claims(lo, hi, expected):
    assert protocol.decide(lo, hi, 0, null=1.0, delta=0.25) == expected


def test_bad_rule_arguments_are_refused():
    with pytest.raises(ValueError, match="direction"):
        protocol.decide(0, 1, 2)
    with pytest.raises(ValueError, match="delta"):
        protocol.decide(0, 1, +1, delta=-1)
    with pytest.raises(ValueError, match="needs delta"):
        protocol.decide(0, 1, 0)


def test_gate_applies_to_every_network_compared():
    gate = protocol.Gate(min_train_acc=0.999, min_terminal_steps=3000)
    both = pd.DataFrame({"train_acc": [1.0, 1.0, 0.5], "terminal_steps": [9000, 9000, 0]})
    out = gate.check(both)
    assert not out["passed"] and out["failing"] == 1 and out["min_train_acc"] == 0.5
    assert gate.check(both.iloc[:2])["passed"]
    short = pd.DataFrame({"train_acc": [1.0], "terminal_steps": [2000]})
    assert not gate.check(short)["passed"]


def test_terminal_steps_counts_only_the_final_stretch_at_the_bar():
    history = [{"train_acc": a} for a in (0.5, 1.0, 0.99, 1.0, 1.0, 1.0)]
    assert protocol.terminal_steps(history, steps_per_epoch=10) == 30
    assert protocol.terminal_steps(history[:3], steps_per_epoch=10) == 0


def test_level_fit_uses_one_point_per_level_and_detects_lack_of_fit():
    rng = np.random.default_rng(0)
    depths = np.repeat([4, 8, 16, 32], 3)
    exact = 2.0 * depths ** -1.0 * np.exp(rng.normal(0, 0.01, len(depths)))
    fit = protocol.level_fit(depths, exact)
    assert fit["levels"] == 4 and fit["n"] == 4 and abs(-fit["slope"] - 1) < 0.05
    assert fit["lack_of_fit"]["p"] > 0.01
    curved = np.exp(-0.5 * np.log(depths) ** 2) * np.exp(rng.normal(0, 0.01, len(depths)))
    assert protocol.level_fit(depths, curved)["lack_of_fit"]["p"] < 1e-3
    # seeds as points would claim 12 points; the CI comes from 4 level means (2 df), so it is wider
    pooled = protocol.stats.line_fit(np.log(depths), np.log(exact))
    assert fit["slope_hi"] - fit["slope_lo"] > pooled["slope_hi"] - pooled["slope_lo"]


def test_seeds_needed_grows_as_delta_shrinks_and_is_none_without_inputs():
    few, many = protocol.seeds_needed(0.01, 0.02, groups=2), protocol.seeds_needed(0.01, 0.005, groups=2)
    assert 2 <= few < many
    assert protocol.seeds_needed(None, 0.01) is None and protocol.seeds_needed(0.01, None) is None


def test_holm_is_step_down():
    out = protocol.holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert out == {"a": True, "c": False, "b": False}
    assert protocol.holm({"a": 0.01, "b": 0.02}) == {"a": True, "b": True}


def test_stability_names_the_settings_that_change_the_verdict():
    assert protocol.stability({"ε = 1e-3": SUPPORTED, "scope: late": SUPPORTED}, SUPPORTED) == ("stable", [])
    text, settings = protocol.stability({"ε = 1e-3": INCONCLUSIVE, "ε = 5e-2": SUPPORTED,
                                         "scope: late": CONTRADICTED}, SUPPORTED)
    assert settings == ["scope", "ε"] and text == "depends on scope, ε"


def _row(verdict_effect=(0.2, 0.1, 0.3)):
    est, lo, hi = verdict_effect
    effect = protocol.Effect("id − none", est, lo, hi, +1, 0.0, 0.05, "Welch", 3, 0.02, 2)
    gate = protocol.RA_GATE.check(pd.DataFrame({"train_acc": [1.0] * 6, "terminal_steps": [5000] * 6}))
    return records.row("mnist", effect, gate, seeds=3, robustness={"ε = 1e-3": SUPPORTED})


def test_filed_rows_recompute_and_a_hand_edited_verdict_is_caught(isolated_results):
    path = records.record_verdict("RA-5", "book", [_row()])
    payload = json.loads(path.read_text())
    assert payload["protocol"] == 2 and payload["rows"][0]["verdict"] == SUPPORTED
    table = records.load_verdicts(("book",)).set_index("claim")
    assert table.loc["RA-5", "verdict"] == SUPPORTED and table.loc["RA-5", "stability"] == "stable"
    payload["rows"][0]["verdict"] = CONTRADICTED
    path.write_text(json.dumps(payload))
    with pytest.raises(records.ClaimsFileError, match=str(path.name)):
        records.load_verdicts(("book",))
    lenient = records.load_verdicts(("book",), strict=False).set_index("claim")
    assert lenient.loc["RA-5", "verdict"] == "unreadable" and "does not follow" in lenient.loc["RA-5", "problem"]


def test_truncated_claims_file_is_named(isolated_results):
    path = records.record_verdict("RA-5", "book", [_row()])
    path.write_text(path.read_text()[:40])
    with pytest.raises(records.ClaimsFileError, match="not readable JSON"):
        records.load_verdicts(("book",))


def test_inconclusive_rows_carry_a_power_analysis_and_badges_show_counts():
    r = _row((0.02, -0.2, 0.24))
    assert r["verdict"] == INCONCLUSIVE and r["seeds_needed"] > 3
    html = page.badge_html([SUPPORTED, SUPPORTED, INCONCLUSIVE])
    assert "supported × 2" in html and "inconclusive × 1" in html
    assert page.summary_table([r]).loc[0, "verdict"] == INCONCLUSIVE
