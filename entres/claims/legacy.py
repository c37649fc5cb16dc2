"""Protocol-v1 verdict helpers, kept while claim pages move to protocol v2 (:mod:`entres.claims.protocol`).

Nothing new should call these; each is deleted once no page uses it.
"""
from __future__ import annotations

import math

import pandas as pd

from .. import stats


def _ci_row(values, prefix: str) -> dict:
    ci = stats.mean_ci(values)
    return {prefix: ci["mean"], f"{prefix}_lo": ci["lo"], f"{prefix}_hi": ci["hi"]}


def threshold_verdicts(table: pd.DataFrame, criteria: dict[str, tuple[str, float, int]],
                       min_train_acc: float = 0.999, by=("dataset", "skip")) -> pd.DataFrame:
    """Per group (one value per seed in each row of ``table``): mean ± 95% CI of each criterion's
    column and its verdict against a threshold fixed in advance.

    ``criteria`` maps a name to ``(column, threshold, direction)``: direction +1 claims
    column > threshold, -1 claims column < threshold. The group's verdict combines all
    criteria (:func:`entres.stats.combine`) and is inconclusive unless every network
    reached train accuracy >= ``min_train_acc`` (the terminal phase RA is claimed for).
    """
    rows = []
    for key, g in table.groupby(list(by), sort=False):
        row = dict(zip(by, key), seeds=len(g), **_ci_row(g["test_acc"], "test_acc"),
                   train_acc=g["train_acc"].min())
        verdicts = []
        for name, (column, threshold, direction) in criteria.items():
            ci = _ci_row(g[column], column)
            row.update(ci)
            row[name] = stats.verdict(ci[f"{column}_lo"] - threshold, ci[f"{column}_hi"] - threshold, direction)
            verdicts.append(row[name])
        row["terminal"] = bool((g["train_acc"] >= min_train_acc).all())
        row["verdict"] = stats.combine(verdicts) if row["terminal"] else "inconclusive"
        rows.append(row)
    return pd.DataFrame(rows)


def ra1_verdicts(table: pd.DataFrame, lin_threshold: float, cv_threshold: float,
                 min_train_acc: float = 0.999) -> pd.DataFrame:
    """RA-1: trajectories are linear (mean lin above its threshold) and equispaced (mean cv below)."""
    return threshold_verdicts(table, {"linear": ("lin_mean", lin_threshold, +1),
                                      "equispaced": ("cv_mean", cv_threshold, -1)}, min_train_acc)


def group_difference(table: pd.DataFrame, columns: list[str], a: str, b: str, by: str = "skip") -> pd.DataFrame:
    """Welch difference of each of ``columns`` between groups ``a`` and ``b`` (a − b), per dataset."""
    rows = []
    for dataset, g in table.groupby("dataset", sort=False):
        for column in columns:
            d = stats.welch_diff(g.loc[g[by] == a, column], g.loc[g[by] == b, column])
            rows.append({"dataset": dataset, "measure": column, "contrast": f"{a} − {b}", **d})
    return pd.DataFrame(rows)


def ra4_verdicts(table: pd.DataFrame, band: tuple[float, float], min_train_acc: float = 0.999,
                 min_depths: int = 4) -> pd.DataFrame:
    """RA-4 per (dataset, skip): fit log σ̄₁ = a − α log L over all networks (every depth and seed).

    Supported if the 95% CI of α lies inside ``band`` (around 1), contradicted if wholly outside,
    inconclusive otherwise, if any network missed the terminal phase, or if fewer than
    ``min_depths`` depths were trained (SPEC §5 asks for at least four).
    """
    import numpy as np

    rows = []
    for (dataset, skip), g in table.groupby(["dataset", "skip"], sort=False):
        fit = stats.line_fit(np.log(g["depth"]), np.log(g["sigma1_mean"]))
        alpha, lo, hi = -fit["slope"], -fit["slope_hi"], -fit["slope_lo"]
        terminal = bool((g["train_acc"] >= min_train_acc).all())
        verdict = stats.band_verdict(lo, hi, band)
        enough = g["depth"].nunique() >= min_depths
        rows.append({"dataset": dataset, "skip": skip, "depths": sorted(g["depth"].unique().tolist()),
                     "networks": len(g), "alpha": alpha, "alpha_lo": lo, "alpha_hi": hi, "r2": fit["r2"],
                     "train_acc": g["train_acc"].min(), "test_acc": g["test_acc"].mean(),
                     "in_band": verdict, "terminal": terminal, "enough_depths": enough,
                     "verdict": verdict if terminal and enough else "inconclusive"})
    return pd.DataFrame(rows)


def contrast_verdicts(table: pd.DataFrame, measures: dict[str, tuple[str, int]], a: str, b: str,
                      by: str = "skip") -> pd.DataFrame:
    """Per dataset and measure: Welch difference a − b of ``column`` with its verdict.

    ``measures`` maps a name to ``(column, direction)``: +1 claims a > b, -1 claims a < b.
    """
    rows = []
    for dataset, g in table.groupby("dataset", sort=False):
        for name, (column, direction) in measures.items():
            d = stats.welch_diff(g.loc[g[by] == a, column], g.loc[g[by] == b, column])
            rows.append({"dataset": dataset, "measure": name, "column": column, "claimed": ">" if direction > 0 else "<",
                         f"mean_{a}": g.loc[g[by] == a, column].mean(), f"mean_{b}": g.loc[g[by] == b, column].mean(),
                         "diff": d["diff"], "lo": d["lo"], "hi": d["hi"],
                         "verdict": stats.verdict(d["lo"], d["hi"], direction)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Verdict records: each claim notebook files its computed verdict; the dashboard and
# `entres claims` read them back. Deterministic content (no timestamps), written atomically.

def _r(x, digits: int = 4):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), digits)


def verdict_row(dataset: str, verdict: str, seeds: int, test_acc: float, train_acc: float,
                **effects: tuple[float, float, float]) -> dict:
    """One dataset's verdict with its effects, each ``name=(estimate, ci_low, ci_high)``."""
    if verdict not in stats.VERDICTS:
        raise ValueError(f"verdict must be one of {stats.VERDICTS}, got {verdict!r}")
    return {"dataset": dataset, "verdict": verdict, "seeds": int(seeds), "test_acc": _r(test_acc),
            "train_acc": _r(train_acc), "effects": {k: [_r(v) for v in est] for k, est in effects.items()}}


def erm4_verdicts(table: pd.DataFrame, kinds: dict[str, str], reference: str = "identity",
                  other: str = "orthogonal") -> tuple[pd.DataFrame, pd.DataFrame]:
    """ERM-4: per task, Welch CI of test accuracy (other − reference); and per seed the mean
    difference over time-variant and over time-invariant tasks, with t-CIs over seeds.

    Supported if the variant mean difference is > 0 and the invariant one < 0 (both CIs exclude 0).
    Returns (per-task table, summary table with the verdict).
    """
    per_task = []
    for task, g in table.groupby("task", sort=False):
        d = stats.welch_diff(g.loc[g.skip == other, "test_acc"], g.loc[g.skip == reference, "test_acc"])
        direction = +1 if kinds[task] == "variant" else -1
        per_task.append({"task": task, "kind": kinds[task],
                         f"acc_{reference}": g.loc[g.skip == reference, "test_acc"].mean(),
                         f"acc_{other}": g.loc[g.skip == other, "test_acc"].mean(),
                         "diff": d["diff"], "lo": d["lo"], "hi": d["hi"],
                         "verdict": stats.verdict(d["lo"], d["hi"], direction)})
    wide = table.pivot_table(index=["task", "seed"], columns="skip", values="test_acc").reset_index()
    wide["diff"] = wide[other] - wide[reference]
    wide["kind"] = wide["task"].map(kinds)
    by_seed = wide.groupby(["seed", "kind"])["diff"].mean().unstack()
    rows, verdicts = [], []
    for kind, direction in (("variant", +1), ("invariant", -1)):
        ci = stats.mean_ci(by_seed[kind])
        v = stats.verdict(ci["lo"], ci["hi"], direction)
        verdicts.append(v)
        rows.append({"tasks": kind, "claimed": ">" if direction > 0 else "<", "diff": ci["mean"],
                     "lo": ci["lo"], "hi": ci["hi"], "seeds": ci["n"], "verdict": v})
    inter = stats.mean_ci(by_seed["variant"] - by_seed["invariant"])
    rows.append({"tasks": "interaction (variant − invariant)", "claimed": ">", "diff": inter["mean"],
                 "lo": inter["lo"], "hi": inter["hi"], "seeds": inter["n"],
                 "verdict": stats.verdict(inter["lo"], inter["hi"], +1)})
    summary = pd.DataFrame(rows)
    summary.attrs["verdict"] = stats.combine(verdicts)
    return pd.DataFrame(per_task), summary


def equivalence_verdicts(table: pd.DataFrame, measures: dict[str, int], reference: str = "identity",
                         margin: float = 0.1, by: list[str] | None = None,
                         min_train_acc: float = 0.999) -> pd.DataFrame:
    """X-1: does each family keep the reference's value of each measure, up to a relative margin?

    ``by`` lists context columns and, last, the family column (default ``["skip"]``). Per family
    (other than ``reference``) and measure: Δ = direction · (family − reference) with its Welch 95% CI,
    margin m = ``margin`` times the reference mean's absolute value. Supported ("survives") if the CI lies above −m,
    contradicted ("lost") if it lies below −m, inconclusive otherwise. ``family_verdict`` combines a
    family's measures: supported if all survive, contradicted if any is lost, and inconclusive if any
    network of the family or the reference missed train accuracy ``min_train_acc``.
    """
    by = list(by or ["skip"])
    context, family = by[:-1], by[-1]
    rows = []
    for keys, g in table.groupby(by, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        if keys[-1] == reference:
            continue
        ref = table[(table[family] == reference)
                    & (table[context] == pd.Series(dict(zip(context, keys[:-1])))).all(axis=1)] if context \
            else table[table[family] == reference]
        terminal = bool((g["train_acc"] >= min_train_acc).all() and (ref["train_acc"] >= min_train_acc).all())
        group_rows = []
        for measure, direction in measures.items():
            d = stats.welch_diff(g[measure], ref[measure])
            lo, hi = sorted((direction * d["lo"], direction * d["hi"]))
            m = margin * abs(ref[measure].mean())
            verdict = "supported" if lo > -m else "contradicted" if hi < -m else "inconclusive"
            group_rows.append({**dict(zip(by, keys)), "measure": measure, "ref_mean": ref[measure].mean(),
                               "mean": g[measure].mean(), "delta": direction * d["diff"], "lo": lo, "hi": hi,
                               "margin": m, "verdict": verdict})
        verdicts = [r["verdict"] for r in group_rows]
        combined = ("contradicted" if "contradicted" in verdicts else
                    "supported" if all(v == "supported" for v in verdicts) else "inconclusive")
        for r in group_rows:
            r["family_verdict"] = combined if terminal else "inconclusive"
        rows += group_rows
    return pd.DataFrame(rows)
