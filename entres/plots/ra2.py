"""Figures of the RA-2 page (book/ra2_alignment)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .ra1 import fixed_jitter


@fixed_jitter()
def multiples_of_chance(table: pd.DataFrame, delta: float):
    """Within-block alignment and across-depth overlap per network as multiples of chance, by dataset and skip."""
    fig, axes = plt.subplots(1, 2, figsize=(8.2, 3.4), sharey=True)
    for ax, (col, title) in zip(axes, (("within_x_all_mean", "within-block |u_iᵀv_i| ÷ chance"),
                                       ("overlap_x_all_mean", "across-depth overlap ÷ C/d"))):
        sns.stripplot(data=table, x="dataset", y=col, hue="skip", dodge=True, alpha=0.6, size=5, ax=ax, legend=False)
        sns.pointplot(data=table, x="dataset", y=col, hue="skip", dodge=0.4, linestyle="none", markers="_",
                      markersize=14, errorbar=("ci", 95), seed=0, ax=ax)
        ax.axhline(1, color="k", lw=1, ls="--", label="chance")
        ax.axhline(1 + delta, color="0.4", lw=1, ls=":", label=f"{1 + delta:g}× chance")
        ax.set(title=title, xlabel="", ylabel="multiple of chance")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def overlap_grids(runs: list[dict], seed: int = 0):
    """L×L overlap ‖U_lᵀU_m‖²_F/C ÷ chance for one network per dataset and skip (rows: skip, columns: dataset)."""
    chosen = {}
    for r in sorted(runs, key=lambda r: r["config"]["seed"] != seed):
        chosen.setdefault((r["config"]["skip"], r["config"]["dataset"]), r)
    skips = list(dict.fromkeys(k[0] for k in chosen))
    datasets = list(dict.fromkeys(k[1] for k in chosen))
    fig, axes = plt.subplots(len(skips), len(datasets), figsize=(2.9 * len(datasets) + 0.8, 2.6 * len(skips)),
                             squeeze=False)
    vmax = max(np.max(np.asarray(r["arrays"]["overlap_u"])) / r["metrics"]["random_overlap"] for r in chosen.values())
    for i, skip in enumerate(skips):
        for j, ds in enumerate(datasets):
            ax = axes[i, j]
            rec = chosen.get((skip, ds))
            if rec is None:
                ax.axis("off")
                continue
            mat = np.asarray(rec["arrays"]["overlap_u"]) / rec["metrics"]["random_overlap"]
            sns.heatmap(mat, ax=ax, vmin=0, vmax=vmax, cmap="magma", square=True, cbar=j == len(datasets) - 1,
                        xticklabels=False, yticklabels=False, cbar_kws={"label": "÷ C/d"})
            ax.set_title(f"{ds}, {skip}", fontsize=9)
            ax.set(xlabel="block m", ylabel="block l")
    fig.tight_layout()
    return fig


def within_by_block(runs: list[dict], chance: float):
    """Within-block alignment per block (mean over inputs and i ≤ C), one line per network, with chance."""
    rows = [{"dataset": r["config"]["dataset"], "skip": r["config"]["skip"], "seed": r["config"]["seed"],
             "block": i + 1, "|u_iᵀv_i|": b["within_alignment"]}
            for r in runs for i, b in enumerate(r["arrays"]["blocks"])]
    g = sns.relplot(pd.DataFrame(rows), x="block", y="|u_iᵀv_i|", hue="skip", col="dataset", kind="line",
                    units="seed", estimator=None, alpha=0.7, height=2.8, aspect=1.0)
    for ax in g.axes.flat:
        ax.axhline(chance, color="k", lw=0.8, ls="--")
    return g.figure


@fixed_jitter()
def grid_diagonal_by_depth(spec: pd.DataFrame):
    """The authors' statistic (grid-diagonal share ÷ chance) per network, by depth and dataset."""
    fig, ax = plt.subplots(figsize=(5.2, 3.3))
    spec = spec.assign(family=spec.skip + ", depth " + spec.depth.astype(str))
    order = sorted(spec.family.unique(), key=lambda f: (f.startswith("none"), int(f.rsplit(" ", 1)[1])))
    sns.stripplot(data=spec, x="family", y="diag_x_all_mean", hue="dataset", order=order, dodge=True, ax=ax)
    ax.axhline(1, color="k", lw=1, ls="--", label="chance (≈ 1/C)")
    ax.set(xlabel="", ylabel="diagonal share ÷ chance")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def placeholder(text: str):
    """A small figure that says why there is nothing to show (a profile without the results)."""
    fig, ax = plt.subplots(figsize=(5.2, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    return fig
