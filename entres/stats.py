"""Confidence intervals and line fits (the verdict rules are in :mod:`entres.claims.protocol`)."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as st

def mean_ci(values, level: float = 0.95) -> dict:
    """Mean with a Student-t confidence interval (NaN bounds for fewer than two values)."""
    x = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    n = len(x)
    if n == 0:
        return {"mean": math.nan, "lo": math.nan, "hi": math.nan, "n": 0}
    mean = float(x.mean())
    if n < 2:
        return {"mean": mean, "lo": math.nan, "hi": math.nan, "n": 1}
    half = float(st.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "n": n}


def welch_diff(a, b, level: float = 0.95) -> dict:
    """Difference of means a − b with a Welch t confidence interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    if len(a) < 2 or len(b) < 2:
        return {"diff": diff, "lo": math.nan, "hi": math.nan, "df": math.nan}
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return {"diff": diff, "lo": diff, "hi": diff, "df": math.inf}
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(st.t.ppf(0.5 + level / 2, df) * se)
    return {"diff": diff, "lo": diff - half, "hi": diff + half, "df": float(df)}




def line_fit(x, y, level: float = 0.95) -> dict:
    """Least-squares line y = a + b x with a Student-t CI for the slope b (n − 2 degrees of freedom)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    if n < 3 or np.ptp(x) == 0:
        raise ValueError(f"a line fit needs >= 3 points at >= 2 distinct x values, got {n} points")
    res = st.linregress(x, y)
    half = float(st.t.ppf(0.5 + level / 2, n - 2) * res.stderr)
    return {"slope": float(res.slope), "slope_lo": float(res.slope - half), "slope_hi": float(res.slope + half),
            "intercept": float(res.intercept), "r2": float(res.rvalue ** 2), "n": n}
