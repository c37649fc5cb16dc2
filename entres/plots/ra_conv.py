"""Figures of the conv-net page (RA-1, RA-2, RA-4 on the convolutional ResNet)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .theme import fixed_jitter

# (network column, row suffix, axis label) of the RA-1/RA-2 rows' primary measures
PANELS = (("kappa_line_mean", "line", "κ_line (0 chance, 1 a line)"),
          ("kappa_steps_mean", "equal steps", "κ_steps (0 chance, 1 equal)"),
          ("within_x_all_mean", "within-block", "within-block |uᵀv| ÷ chance"),
          ("overlap_x_all_mean", "across depth", "across-depth overlap ÷ C/d"))


def measures_by_depth(networks: pd.DataFrame, robustness: pd.DataFrame, rows: list[dict]):
    """The primary measure of each RA-1/RA-2 row against depth: one dot per network, the mean with its 95% CI
    per depth (from the row's robustness lines), the null (dashed) and null ± δ (shaded)."""
    import seaborn as sns

    by_suffix = {r["dataset"].split(": ", 1)[1]: r for r in rows if ": " in r["dataset"]}
    depths = sorted(networks.depth.unique())
    fig, axes = plt.subplots(1, len(PANELS), figsize=(13, 3.3))
    for ax, (column, suffix, label) in zip(axes, PANELS):
        row = by_suffix[suffix]
        with fixed_jitter():
            sns.stripplot(data=networks, x="depth", y=column, order=depths, ax=ax, size=5, alpha=0.7, jitter=0.1,
                          zorder=1, color="C0")
        lines = robustness[robustness.row == row["dataset"]]
        for i, L in enumerate(depths):
            setting = "primary" if L == max(depths) else f"depth: {L}"
            line = lines[lines.setting == setting]
            if len(line):
                e = line.iloc[0]
                ax.errorbar(i + 0.25, e.estimate, yerr=[[e.estimate - e.lo], [e.hi - e.estimate]], fmt="D",
                            color="k", ms=4, capsize=3, zorder=3)
        p = row["primary"]
        null = p["null"] or 0.0
        ax.axhline(null, color="0.3", ls="--", lw=1.2, zorder=2)
        ax.axhspan(null - p["delta"], null + p["delta"], color="0.6", alpha=0.2, lw=0, zorder=0)
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("")
        ax.set_xlabel("depth L")
    fig.tight_layout()
    return fig


def overlap_heatmaps(record: dict):
    """The L×L across-depth overlaps of U and V of one network, as multiples of chance C/d."""
    import seaborn as sns

    chance = record["metrics"]["random_overlap"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0))
    mats = {side: np.asarray(record["arrays"][key]) / chance
            for side, key in (("left U", "overlap_u"), ("right V", "overlap_v"))}
    off = np.concatenate([m[~np.eye(len(m), dtype=bool)] for m in mats.values()])
    vmax = float(np.quantile(off, 0.99))
    for ax, (side, m) in zip(axes, mats.items()):
        shown = m.copy()
        np.fill_diagonal(shown, np.nan)  # the diagonal is 1/chance by construction
        ticks = np.arange(1, len(m) + 1)
        sns.heatmap(pd.DataFrame(shown, index=ticks, columns=ticks), ax=ax, vmin=0, vmax=vmax, cmap="magma",
                    cbar_kws={"label": "overlap ÷ C/d"}, xticklabels=4, yticklabels=4)
        ax.set_title(f"{side}, L = {len(m)}, seed {record['config']['seed']}", fontsize=9)
        ax.set_xlabel("block m")
        ax.set_ylabel("block l")
    fig.tight_layout()
    return fig


def sigma_by_depth(table: pd.DataFrame, fit: dict, alpha_row: dict):
    """σ̄₁ against depth (log-log): one dot per network, the depth means, the power law fitted on them and
    the slope −1 the claim reads, through the same centre."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    ax.loglog(table.depth, table.sigma1, "o", alpha=0.6, color="C0", label="network")
    means = table.groupby("depth")["sigma1"].mean()
    ax.loglog(means.index, means.values, "D", color="k", ms=5, label="depth mean")
    L = np.geomspace(means.index.min(), means.index.max(), 50)
    x0, y0 = np.mean(np.log(means.index)), np.mean(np.log(means.values))
    p = alpha_row["primary"]
    ax.loglog(L, np.exp(y0 + fit["slope"] * (np.log(L) - x0)), "-", color="C1",
              label=f"fit on depth means: α = {p['estimate']:.2f} [{p['lo']:.2f}, {p['hi']:.2f}]")
    ax.loglog(L, np.exp(y0 - (np.log(L) - x0)), ":", color="0.3", label="α = 1 (the claim)")
    ax.set_xlabel("depth L")
    ax.set_ylabel("σ̄₁ (mean top singular value)")
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    ax.set_xticks(list(means.index), [str(int(d)) for d in means.index])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
