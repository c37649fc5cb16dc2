"""Figures of the X-1 page (Residual Alignment under entangled skips)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .theme import fixed_jitter

MEASURES = (("kappa_line_mean", "RA-1  κ_line"), ("overlap_x_all_mean", "RA-2  overlap ÷ C/d"),
            ("rank", "RA-3  numerical rank"))


def measures_by_family(networks: pd.DataFrame, families: list[str]):
    """Each row's per-network measure by skip family, raw and untangled frame side by side (one dot per
    network); the identity's mean dashed."""
    import seaborn as sns

    order = ["identity"] + list(families)
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(13, 3.4))
    for ax, (column, label) in zip(axes, MEASURES):
        with fixed_jitter():
            sns.stripplot(data=networks, x="skip", y=column, hue="frame", order=order, dodge=True, ax=ax, size=5,
                          alpha=0.8, jitter=0.1, legend=ax is axes[0])
        ident = networks.loc[(networks.skip == "identity") & (networks.frame == "raw"), column].mean()
        ax.axhline(ident, color="0.3", ls="--", lw=1)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig


def differences(robustness: pd.DataFrame, rows: list[dict]):
    """Per row type, each family's primary difference from the identity with its 95% CI (untangled frame,
    filled) and the raw frame's (open), against the equivalence band ±δ (shaded)."""
    kinds = list(dict.fromkeys(r["dataset"].split(": ", 1)[1] for r in rows))
    fig, axes = plt.subplots(1, len(kinds), figsize=(3.3 * len(kinds), 3.2))
    for ax, kind in zip(np.atleast_1d(axes), kinds):
        mine = [r for r in rows if r["dataset"].endswith(kind)]
        for i, r in enumerate(mine):
            lines = robustness[robustness.row == r["dataset"]].set_index("setting")
            for setting, offset, face in (("primary", -0.12, "C0"), ("frame: raw", 0.12, "white")):
                if setting in lines.index:
                    e = lines.loc[setting]
                    ax.errorbar(i + offset, e.estimate, yerr=[[e.estimate - e.lo], [e.hi - e.estimate]], fmt="o",
                                mfc=face, mec="C0", color="C0", capsize=3, ms=5,
                                label=({"primary": "untangled", "frame: raw": "raw"}[setting] if i == 0 else None))
        delta = mine[0]["primary"]["delta"]
        ax.axhspan(-delta, delta, color="0.6", alpha=0.25, lw=0, label="±δ")
        ax.axhline(0, color="0.3", lw=0.8)
        ax.set_xticks(range(len(mine)), [r["dataset"].split(":")[0] for r in mine], fontsize=8)
        ax.set_title(f"{kind}: family − identity", fontsize=9)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def sigma_by_depth(depth_table: pd.DataFrame):
    """σ̄₁ against depth per family (log-log): one dot per network, the depth means joined."""
    import seaborn as sns
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    fig, ax = plt.subplots(figsize=(5.4, 3.6))
    sns.lineplot(data=depth_table, x="depth", y="sigma1", hue="skip", estimator="mean", errorbar=None, marker="D",
                 ax=ax)
    sns.scatterplot(data=depth_table, x="depth", y="sigma1", hue="skip", ax=ax, alpha=0.5, legend=False, s=20)
    ax.set_xscale("log")
    ax.set_yscale("log")
    depths = sorted(depth_table.depth.unique())
    ax.set_xticks(depths, [str(int(d)) for d in depths])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("depth L")
    ax.set_ylabel("σ̄₁ (mean top singular value)")
    ax.legend(fontsize=8, title="skip")
    fig.tight_layout()
    return fig
