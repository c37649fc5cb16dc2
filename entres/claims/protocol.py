"""Verdict protocol v2 (SPEC §7): one primary test per row, against a null, with a smallest effect of interest.

A claim row is decided by one *primary effect*: an estimate with a 95% CI, oriented so that the
claimed direction is positive (``direction``), measured against a ``null`` (chance, a control, the
permutation skip) and read against a smallest effect of interest ``delta``:

* **negligible**    the CI lies inside (null − δ, null + δ): whatever the effect is, it is too small to matter;
* **supported**     otherwise, the CI excludes the null on the claimed side (so it reaches beyond δ);
* **contradicted**  otherwise, the CI excludes the null on the other side;
* **inconclusive**  none of these: the CI is too wide (:func:`seeds_needed` says how many seeds would do);
* **not in regime** the networks compared are not in the state the claim is about (a :class:`Gate` failed);
  then the effect is reported and not judged.

This is the two one-sided tests reading of equivalence testing (Lakens 2017): "significant and not
equivalent" supports, "equivalent" (significant or not) is negligible.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as st

from .. import regime, stats

SUPPORTED, CONTRADICTED, NEGLIGIBLE, INCONCLUSIVE, NOT_IN_REGIME = (
    "supported", "contradicted", "negligible", "inconclusive", "not in regime")
VERDICTS = (SUPPORTED, CONTRADICTED, NEGLIGIBLE, INCONCLUSIVE, NOT_IN_REGIME)
LEVEL = 0.95


def decide(lo: float, hi: float, direction: int = +1, null: float = 0.0, delta: float | None = None,
           in_regime: bool = True) -> str:
    """The verdict of an effect whose CI is [lo, hi] on the measure's own scale (see the module docstring).

    ``direction`` +1 claims the effect exceeds ``null``, −1 that it falls below it; ``delta`` (≥ 0, or
    None for "no smallest effect stated") is in the measure's units.

    ``direction`` 0 reads an *equivalence* claim ("the exponent is 1", "the family keeps the identity's
    value"): supported if the CI lies inside (null − δ, null + δ), contradicted if it lies wholly outside
    [null − δ, null + δ], inconclusive otherwise; δ is required.
    """
    if direction not in (+1, -1, 0):
        raise ValueError(f"direction must be +1, -1 or 0 (equivalence), got {direction!r}")
    if delta is not None and not (math.isfinite(delta) and delta >= 0):
        raise ValueError(f"delta must be a finite number >= 0 or None, got {delta!r}")
    if direction == 0 and delta is None:
        raise ValueError("an equivalence claim (direction 0) needs delta")
    if not in_regime:
        return NOT_IN_REGIME
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return INCONCLUSIVE
    if direction == 0:
        a, b = lo - null, hi - null
        if -delta < a and b < delta:
            return SUPPORTED
        if a > delta or b < -delta:
            return CONTRADICTED
        return INCONCLUSIVE
    a, b = sorted((direction * (lo - null), direction * (hi - null)))
    if delta is not None and -delta < a and b < delta:
        return NEGLIGIBLE
    if a > 0:
        return SUPPORTED
    if b < 0:
        return CONTRADICTED
    return INCONCLUSIVE


@dataclass(frozen=True)
class Effect:
    """The primary effect of a row: what is estimated, its CI, and the rule that reads it."""

    name: str             # e.g. "identity − none, across-depth overlap of U"
    estimate: float
    lo: float
    hi: float
    direction: int = +1   # +1: the claim says estimate > null; −1: below; 0: equal within delta
    null: float = 0.0
    delta: float | None = None
    test: str = ""        # e.g. "Welch t over networks", "one-sample t over networks", "fit on depth means"
    n: int = 0            # networks (or levels) behind the CI
    sd: float | None = None  # per-network SD (for the power analysis)
    groups: int = 1       # 2 for a difference of two independent groups

    def verdict(self, in_regime: bool = True) -> str:
        return decide(self.lo, self.hi, self.direction, self.null, self.delta, in_regime)

    def as_dict(self) -> dict:
        return {"name": self.name, "estimate": _r(self.estimate), "lo": _r(self.lo), "hi": _r(self.hi),
                "direction": self.direction, "null": _r(self.null),
                "delta": None if self.delta is None else _r(self.delta), "test": self.test, "n": int(self.n)}


def _r(x, digits: int = 6):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


# ---------------------------------------------------------------------------------------------
# Primary tests (the unit is the trained network: one value per network in)

def mean_effect(name: str, values, direction: int = +1, null: float = 0.0, delta: float | None = None) -> Effect:
    """One-sample t CI of the mean of per-network values, read against ``null``."""
    x = _finite(values)
    ci = stats.mean_ci(x, LEVEL)
    return Effect(name, ci["mean"], ci["lo"], ci["hi"], direction, null, delta,
                  "one-sample t over networks", ci["n"], _sd(x), 1)


def difference_effect(name: str, a, b, direction: int = +1, delta: float | None = None) -> Effect:
    """Welch t CI of mean(a) − mean(b) (independent groups of networks), read against 0."""
    a, b = _finite(a), _finite(b)
    d = stats.welch_diff(a, b, LEVEL)
    sd = math.sqrt((_sd(a) ** 2 + _sd(b) ** 2) / 2) if len(a) > 1 and len(b) > 1 else None
    return Effect(name, d["diff"], d["lo"], d["hi"], direction, 0.0, delta, "Welch t over networks",
                  min(len(a), len(b)), sd, 2)


def paired_effect(name: str, a, b, direction: int = +1, delta: float | None = None) -> Effect:
    """t CI of the mean per-pair difference a_i − b_i (e.g. two measures of the same network)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need equal lengths, got {a.shape} and {b.shape}")
    e = mean_effect(name, a - b, direction, 0.0, delta)
    return Effect(e.name, e.estimate, e.lo, e.hi, direction, 0.0, delta, "paired t over networks", e.n, e.sd, 1)


def _finite(values) -> np.ndarray:
    x = np.asarray([v for v in values if v is not None], dtype=float)
    return x[np.isfinite(x)]


def _sd(x: np.ndarray) -> float | None:
    return float(np.std(x, ddof=1)) if len(x) > 1 else None


# ---------------------------------------------------------------------------------------------
# Power: how many networks would resolve delta

def seeds_needed(sd: float | None, delta: float | None, groups: int = 1, power: float = 0.8,
                 level: float = LEVEL, max_n: int = 1000) -> int | None:
    """Networks per group for a t-test at ``level`` to detect an effect of size ``delta`` with ``power``,
    given the per-network SD ``sd`` (t quantiles, iterated). None when sd or delta is unknown or zero."""
    if sd is None or delta is None or not math.isfinite(sd) or sd <= 0 or not delta or delta <= 0:
        return None
    n = 2
    while n <= max_n:
        df = groups * (n - 1)
        needed = groups * ((st.t.ppf(0.5 + level / 2, df) + st.t.ppf(power, df)) * sd / delta) ** 2
        if n >= needed:
            return n
        n += 1
    return max_n


# ---------------------------------------------------------------------------------------------
# Several tests in one row: Holm

def holm(pvalues: dict[str, float], alpha: float = 1 - LEVEL) -> dict[str, bool]:
    """Holm's step-down procedure: which hypotheses are rejected at family-wise level ``alpha``."""
    order = sorted(pvalues, key=pvalues.get)
    rejected, m = {}, len(order)
    still = True
    for i, key in enumerate(order):
        still = still and pvalues[key] <= alpha / (m - i)
        rejected[key] = still
    return rejected


def welch_p(a, b) -> float:
    """Two-sided Welch t-test p-value of mean(a) = mean(b)."""
    a, b = _finite(a), _finite(b)
    if len(a) < 2 or len(b) < 2:
        return math.nan
    return float(st.ttest_ind(a, b, equal_var=False).pvalue)


# ---------------------------------------------------------------------------------------------
# Regime gates (every family compared)

@dataclass(frozen=True)
class Gate:
    """The state a claim is about, stated a priori.

    RA (SPEC §8): the terminal phase, train accuracy ≥ ``min_train_acc`` at the end of training and held for
    at least ``min_terminal_steps`` SGD steps. The default step count is three weight-decay time constants
    1/(ηλ) of the authors' optimiser (η = 0.1, λ = 0.01: 1,000 steps each), so that decay has had time
    to shape the weights after the data were fitted. ERM claims are about generalisation at the end of a
    standard recipe: train accuracy only (``min_terminal_steps = 0``).
    """

    min_train_acc: float = 0.999
    min_terminal_steps: int = 3000
    rule: str = field(default="", compare=False)

    def describe(self) -> str:
        held = f", held for ≥ {self.min_terminal_steps:,} SGD steps" if self.min_terminal_steps else ""
        return self.rule or f"train accuracy ≥ {self.min_train_acc:g}{held}, every network of every family compared"

    def check(self, table) -> dict:
        """``table`` has one row per network compared, columns ``train_acc`` and (if steps are gated)
        ``terminal_steps``. Returns passed, min_train_acc, min_terminal_steps and the failing count."""
        acc = np.asarray(table["train_acc"], dtype=float)
        ok = acc >= self.min_train_acc
        steps = None
        if self.min_terminal_steps:
            if "terminal_steps" not in table:
                raise ValueError("this gate needs a 'terminal_steps' column (SGD steps held at the train-accuracy bar)")
            s = np.asarray(table["terminal_steps"], dtype=float)
            ok &= s >= self.min_terminal_steps
            steps = int(np.nanmin(s)) if len(s) else None
        return {"passed": bool(len(acc) and ok.all()), "min_train_acc": float(np.min(acc)) if len(acc) else math.nan,
                "min_terminal_steps": steps, "failing": int((~ok).sum()), "networks": int(len(acc)),
                "rule": self.describe()}


RA_GATE = Gate()
ERM_GATE = Gate(min_train_acc=0.99, min_terminal_steps=0)


def terminal_steps(history: list[dict], steps_per_epoch: int, bar: float = regime.BAR) -> int:
    """SGD steps after train accuracy reached ``bar`` and stayed there to the end of training (0 if the
    last epoch is below it). ``history`` is the per-epoch list of a result (``train_acc`` per epoch)."""
    return regime.steps_held(history, steps_per_epoch, bar)


# ---------------------------------------------------------------------------------------------
# Fits across levels (depths, class counts): one point per level, with a lack-of-fit test

def level_fit(levels, values, transform: str = "loglog", level: float = LEVEL) -> dict:
    """Least-squares line through the per-level MEANS of ``values`` (one point per level), with a
    lack-of-fit F test against the replicate (network-to-network) variance within levels.

    ``transform``: "loglog" fits log y = a + b log x (a power law, b the exponent), "linear" y = a + b x,
    "inverse" 1/y = a + b x. Returns slope, its CI (t with k − 2 df, k levels), intercept, r² of the
    means, and lack_of_fit {F, df1, df2, p} (NaN where no level has replicates or k < 3).
    """
    x = np.asarray(levels, dtype=float)
    y = np.asarray(values, dtype=float)
    fx, fy = {"loglog": (np.log, np.log), "linear": (lambda v: v, lambda v: v),
              "inverse": (lambda v: v, lambda v: 1 / v)}[transform]
    tx, ty = fx(x), fy(y)
    keys = np.unique(x)
    means = np.array([ty[x == k].mean() for k in keys])
    fit = stats.line_fit(fx(keys), means, level)
    pred_lvl = fit["intercept"] + fit["slope"] * fx(keys)
    ss_pe = float(sum(((ty[x == k] - ty[x == k].mean()) ** 2).sum() for k in keys))
    n_lvl = np.array([(x == k).sum() for k in keys])
    ss_lof = float((n_lvl * (means - pred_lvl) ** 2).sum())
    df1, df2 = len(keys) - 2, len(x) - len(keys)
    if df1 > 0 and df2 > 0 and ss_pe > 0:
        f = (ss_lof / df1) / (ss_pe / df2)
        p = float(st.f.sf(f, df1, df2))
    else:
        f, p = math.nan, math.nan
    return {**fit, "levels": len(keys), "networks": len(x), "transform": transform,
            "lack_of_fit": {"F": f, "df1": df1, "df2": df2, "p": p}}


# ---------------------------------------------------------------------------------------------
# Robustness: the verdict under reasonable alternatives

def stability(verdicts: dict[str, str], primary: str) -> tuple[str, list[str]]:
    """``verdicts`` maps an alternative's label ("ε = 1e-3", "scope: late blocks", …) to its verdict;
    labels share a prefix before " = " or ": " per setting. Returns ("stable", []) when every
    alternative gives the ``primary`` verdict, else ("depends on …", the settings that change it)."""
    changed = sorted({_setting(label) for label, v in verdicts.items() if v != primary})
    return ("stable", []) if not changed else (f"depends on {', '.join(changed)}", changed)


def _setting(label: str) -> str:
    for sep in (" = ", ": ", "="):
        if sep in label:
            return label.split(sep, 1)[0].strip()
    return label.strip()
