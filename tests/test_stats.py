import math

import numpy as np
import pytest
from scipy import stats as st

from entres import stats


def test_mean_ci_matches_scipy():
    x = [0.1, 0.4, 0.35, 0.2]
    ci = stats.mean_ci(x)
    lo, hi = st.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=st.sem(x))
    assert math.isclose(ci["lo"], lo) and math.isclose(ci["hi"], hi)


def test_single_value_has_no_interval():
    ci = stats.mean_ci([0.5])
    assert ci["mean"] == 0.5 and math.isnan(ci["lo"])


def test_welch_matches_scipy():
    a, b = [1.0, 1.2, 0.9, 1.1], [0.5, 0.7, 0.2]
    d = stats.welch_diff(a, b)
    res = st.ttest_ind(a, b, equal_var=False)
    lo, hi = res.confidence_interval(0.95)
    assert math.isclose(d["lo"], lo, rel_tol=1e-9) and math.isclose(d["hi"], hi, rel_tol=1e-9)


@pytest.mark.parametrize("lo, hi, direction, expected", [
    (0.1, 0.3, +1, "supported"), (-0.3, -0.1, +1, "contradicted"), (-0.1, 0.1, +1, "inconclusive"),
    (-0.3, -0.1, -1, "supported"), (0.1, 0.3, -1, "contradicted"), (math.nan, math.nan, +1, "inconclusive"),
])
def test_verdict_rule(lo, hi, direction, expected):
    assert stats.verdict(lo, hi, direction) == expected


def test_combine():
    assert stats.combine(["supported", "supported"]) == "supported"
    assert stats.combine(["supported", "inconclusive"]) == "inconclusive"
    assert stats.combine(["inconclusive", "contradicted"]) == "contradicted"


def test_threshold_verdicts_need_the_terminal_phase():
    import pandas as pd

    from entres import claims

    rows = [{"dataset": "d", "skip": s, "seed": i, "test_acc": 0.9, "train_acc": acc, "lin_mean": lin, "cv_mean": 0.1}
            for s, acc, lin in [("identity", 1.0, 0.95), ("late", 0.98, 0.95), ("bent", 1.0, 0.5)]
            for i, lin in enumerate([lin, lin + 0.01, lin - 0.01])]
    out = claims.ra1_verdicts(pd.DataFrame(rows), 0.9, 0.3).set_index("skip")
    assert out.loc["identity", "verdict"] == "supported"
    assert out.loc["late", "linear"] == "supported" and out.loc["late", "verdict"] == "inconclusive"
    assert out.loc["bent", "linear"] == "contradicted" and out.loc["bent", "verdict"] == "contradicted"


def test_line_fit_recovers_a_power_law():
    L = np.array([4, 8, 16, 32] * 3, dtype=float)
    rng = np.random.default_rng(0)
    y = 2.0 - 1.0 * np.log(L) + rng.normal(0, 0.01, len(L))
    fit = stats.line_fit(np.log(L), y)
    assert fit["slope_lo"] < -1 < fit["slope_hi"] and fit["slope_hi"] - fit["slope_lo"] < 0.05
    with pytest.raises(ValueError, match=">= 3 points"):
        stats.line_fit([1, 2], [1, 2])


def test_band_verdict():
    assert stats.band_verdict(0.9, 1.1, (0.75, 1.25)) == "supported"
    assert stats.band_verdict(0.1, 0.3, (0.75, 1.25)) == "contradicted"
    assert stats.band_verdict(0.6, 1.1, (0.75, 1.25)) == "inconclusive"
