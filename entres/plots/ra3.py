"""Figures of the RA-3 page (numerical rank of the residual Jacobians)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator


def rank_by_block(per_block: pd.DataFrame):
    """Numerical rank (mean over inputs) of J_l against block l, one panel per dataset, by skip (mean over
    seeds with 95% CI), the class count C dashed."""
    datasets = list(dict.fromkeys(per_block["dataset"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.4 * len(datasets), 3.3), squeeze=False, sharey=True)
    for ax, d in zip(axes[0], datasets):
        g = per_block[per_block.dataset == d]
        sns.lineplot(g, x="block", y="rank", hue="skip", marker="o", markersize=3, errorbar=("ci", 95), seed=0, ax=ax,
                     legend=ax is axes[0][0])
        ax.axhline(g["C"].iloc[0], color="k", ls="--", lw=1)
        ax.annotate("C", (g["block"].max(), g["C"].iloc[0]), textcoords="offset points", xytext=(2, 3), fontsize=8)
        ax.set(title=d, xlabel="block l", ylabel="numerical rank (ε = 1e-2)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    return fig


def class_sweep(table: pd.DataFrame, fit: dict):
    """Rank against the class count K: every network, the per-K means, the fit on them and rank = K."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    sns.stripplot(table, x="C", y="rank", native_scale=True, ax=ax, size=6, alpha=0.8, color="C0", label="one network")
    means = table.groupby("C")["rank"].mean()
    ax.plot(means.index, means.to_numpy(), "s", color="C1", label="per-K mean")
    ks = np.array(sorted(table["C"].unique()), dtype=float)
    if fit:
        ax.plot(ks, fit["intercept"] + fit["slope"] * ks, "-", color="C1", label=f"fit on means: slope {fit['slope']:.2f}")
    ax.plot(ks, ks, "k--", lw=1, label="rank = K")
    ax.set(xlabel="number of classes K", ylabel="numerical rank (mean over inputs, blocks)")
    handles, labels = ax.get_legend_handles_labels()
    keep = dict(zip(labels, handles))
    ax.legend(keep.values(), keep.keys(), fontsize=8)
    fig.tight_layout()
    return fig
