"""The claims of SPEC §2 and the computed verdicts of each.

Verdict functions take the per-run table a notebook built from cached results
and return a table with means, 95% CIs and the verdict; nothing here is typed by hand.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import stats


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    source: str
    notebook: str | None = None  # book/<notebook>.ipynb, once it exists


CLAIMS = {c.id: c for c in [
    Claim("ERM-1", "Entangled sparse skip mappings improve generalisation of CNNs over identity skips", "ERM"),
    Claim("ERM-2", "Entangled sparse skip mappings improve generalisation of Vision Transformers", "ERM"),
    Claim("ERM-3", "Orthogonal skip mappings hurt CNNs and Vision Transformers", "ERM"),
    Claim("ERM-4", "In RNNs, orthogonal residual mappings favour time-variant over time-invariant tasks", "ERM"),
    Claim("ERM-5", "Entangled mappings can preserve iterative feature refinement", "ERM"),
    Claim("RA-1", "Intermediate representations of an input lie equispaced on a line", "RA", "ra1_line"),
    Claim("RA-2", "Top singular vectors of residual Jacobians align within blocks and across depth", "RA"),
    Claim("RA-3", "Residual Jacobians of fully-connected ResNets have rank at most C", "RA"),
    Claim("RA-4", "Top singular values of residual Jacobians scale inversely with depth", "RA"),
    Claim("RA-5", "Residual Alignment disappears when skip connections are removed", "RA"),
    Claim("RA-6", "Residual Alignment occurs in models that generalise", "RA"),
    Claim("RA-7", "The last layer undergoes Neural Collapse", "RA"),
    Claim("X-1", "(ours) Does Residual Alignment survive entangled skips?", "both"),
]}


def _ci_row(values, prefix: str) -> dict:
    ci = stats.mean_ci(values)
    return {prefix: ci["mean"], f"{prefix}_lo": ci["lo"], f"{prefix}_hi": ci["hi"]}


def ra1_verdicts(table: pd.DataFrame, lin_threshold: float, cv_threshold: float,
                 min_train_acc: float = 0.999) -> pd.DataFrame:
    """RA-1 per (dataset, skip): one value per seed (the mean over test inputs).

    Linearity holds if the CI of mean(lin) - lin_threshold lies above 0; equispacing
    holds if the CI of cv_threshold - mean(cv) lies above 0; RA-1 needs both, and
    networks trained into the terminal phase (every seed's train accuracy >= min_train_acc);
    otherwise the verdict is inconclusive whatever the measures say.
    """
    rows = []
    for (dataset, skip), g in table.groupby(["dataset", "skip"], sort=False):
        lin, cv = _ci_row(g["lin_mean"], "lin"), _ci_row(g["cv_mean"], "cv")
        v_lin = stats.verdict(lin["lin_lo"] - lin_threshold, lin["lin_hi"] - lin_threshold, +1)
        v_cv = stats.verdict(cv["cv_lo"] - cv_threshold, cv["cv_hi"] - cv_threshold, -1)
        terminal = bool((g["train_acc"] >= min_train_acc).all())
        combined = stats.combine([v_lin, v_cv])
        rows.append({"dataset": dataset, "skip": skip, "seeds": len(g),
                     **_ci_row(g["test_acc"], "test_acc"), "train_acc": g["train_acc"].min(),
                     **lin, **cv, "linear": v_lin, "equispaced": v_cv, "terminal": terminal,
                     "verdict": combined if terminal else "inconclusive"})
    return pd.DataFrame(rows)


def group_difference(table: pd.DataFrame, columns: list[str], a: str, b: str, by: str = "skip") -> pd.DataFrame:
    """Welch difference of each of ``columns`` between groups ``a`` and ``b`` (a − b), per dataset."""
    rows = []
    for dataset, g in table.groupby("dataset", sort=False):
        for column in columns:
            d = stats.welch_diff(g.loc[g[by] == a, column], g.loc[g[by] == b, column])
            rows.append({"dataset": dataset, "measure": column, "contrast": f"{a} − {b}", **d})
    return pd.DataFrame(rows)
