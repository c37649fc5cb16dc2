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








def test_line_fit_recovers_a_power_law():
    L = np.array([4, 8, 16, 32] * 3, dtype=float)
    rng = np.random.default_rng(0)
    y = 2.0 - 1.0 * np.log(L) + rng.normal(0, 0.01, len(L))
    fit = stats.line_fit(np.log(L), y)
    assert fit["slope_lo"] < -1 < fit["slope_hi"] and fit["slope_hi"] - fit["slope_lo"] < 0.05
    with pytest.raises(ValueError, match=">= 3 points"):
        stats.line_fit([1, 2], [1, 2])
