"""Figures of the RA-4 page (depth scaling of the top singular value)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns


def depth_fits(networks: pd.DataFrame, fits: pd.DataFrame):
    """Left: σ̄₁ against L (log-log), every network and the power law fitted on depth means. Right: 1/σ̄₁
    against L with the affine fit (the authors' reading)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    palette = dict(zip(networks["dataset"].unique(), sns.color_palette(n_colors=networks["dataset"].nunique())))
    shown = networks.assign(inv_sigma1=1 / networks["sigma1"])
    for ax, y in ((left, "sigma1"), (right, "inv_sigma1")):
        sns.scatterplot(shown, x="depth", y=y, hue="dataset", palette=palette, ax=ax, s=22, alpha=0.7, legend=ax is left)
    for _, fit in fits.iterrows():
        alpha, slope = fit["α"], fit["affine slope b"]
        g = shown[shown.dataset == fit["dataset"]]
        L = np.geomspace(g.depth.min(), g.depth.max(), 50)
        logmeans = g.groupby("depth")["sigma1"].apply(lambda s: np.log(s).mean())
        anchor = np.exp(np.mean(logmeans.to_numpy() + alpha * np.log(logmeans.index.to_numpy())))
        left.plot(L, anchor * L ** -alpha, color=palette[fit["dataset"]], lw=1.2)
        means = g.groupby("depth")["inv_sigma1"].mean()
        intercept = means.mean() - slope * means.index.to_numpy().mean()
        right.plot(L, intercept + slope * L, color=palette[fit["dataset"]], lw=1.2, ls="--")
    left.set(xscale="log", yscale="log", xlabel="depth L", ylabel="σ̄₁ (mean over blocks and inputs)",
             title="power law on depth means")
    right.set(xlabel="depth L", ylabel="1 / σ̄₁", title="affine 1/σ̄₁ = a + bL")
    for ax in (left, right):
        ax.set_xticks(sorted(networks.depth.unique()), [str(d) for d in sorted(networks.depth.unique())])
        ax.minorticks_off()
    left.legend(fontsize=8, title=None)
    fig.tight_layout()
    return fig


def inverse_sigma_by_block(runs: list[dict], datasets: list[str]):
    """1/σ₁(J_l) against the block index l, one panel per dataset, one line per depth (lowest seed)."""
    fig, axes = plt.subplots(1, len(datasets), figsize=(3.3 * len(datasets), 3.3), squeeze=False)
    depths = sorted({r["config"]["depth"] for r in runs})
    colours = dict(zip(depths, sns.color_palette("viridis", len(depths))))
    for ax, dataset in zip(axes[0], datasets):
        chosen = {}
        for r in sorted(runs, key=lambda r: r["config"]["seed"]):
            if r["config"]["dataset"] == dataset:
                chosen.setdefault(r["config"]["depth"], r)
        for depth, r in sorted(chosen.items()):
            inv = [1 / b["sigma1"] for b in r["arrays"]["blocks"]]
            ax.plot(np.arange(1, len(inv) + 1), inv, "o-", ms=2.5, lw=1, color=colours[depth], label=f"L = {depth}")
        ax.set(xlabel="block l", title=dataset)
    axes[0][0].set_ylabel("1 / σ₁(J_l)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig
