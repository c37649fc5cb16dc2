"""Figures of the RA-6 page (true vs random labels)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def contrast(networks: pd.DataFrame):
    """Per network, across-depth overlap (with the chance value C/d) and rank, per training budget and label kind."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, (column, label) in zip(axes, (("overlap", "across-depth overlap (U, V)"), ("rank_mean", "mean rank (ε = 1e-2)"))):
        sns.stripplot(networks, x="budget", y=column, hue="labels", hue_order=["true", "random"], dodge=True,
                      ax=ax, size=5, alpha=0.8, legend=ax is axes[0])
        sns.pointplot(networks, x="budget", y=column, hue="labels", hue_order=["true", "random"], dodge=0.4,
                      ax=ax, errorbar=("ci", 95), seed=0, markers="_", linestyles="none", legend=False, palette="dark:k")
        ax.set(xlabel="", ylabel=label)
        ax.tick_params(axis="x", labelsize=8, rotation=15)
    axes[0].axhline(networks["chance_overlap"].iloc[0], color="k", ls="--", lw=1)
    axes[0].annotate("chance C/d", (0, networks["chance_overlap"].iloc[0]), textcoords="offset points",
                     xytext=(2, 3), fontsize=8)
    axes[0].legend(title="labels", fontsize=8)
    fig.tight_layout()
    return fig


def training_curves(jac_by_budget: dict):
    """Train accuracy per epoch, one panel per budget, one line per network (colour: label kind)."""
    from ..experiments import spectra

    fig, axes = plt.subplots(1, len(jac_by_budget), figsize=(3.2 * len(jac_by_budget), 3.2), squeeze=False, sharey=True)
    colours = dict(zip(("true", "random"), sns.color_palette(n_colors=2)))
    for ax, ((batch, epochs), runs) in zip(axes[0], jac_by_budget.items()):
        for r in runs:
            labels = "random" if r["config"]["dataset"].endswith("+random-labels") else "true"
            if r.get("history"):
                x, y = range(1, len(r["history"]) + 1), [e["train_acc"] for e in r["history"]]
            else:
                c = spectra.curve(r)
                x, y = c["epoch"], c["train_acc"]
            ax.plot(x, y, color=colours[labels], lw=0.8, alpha=0.7, label=labels if r["config"]["seed"] == 0 else None)
        ax.axhline(0.999, color="k", ls=":", lw=0.8)
        ax.set(xlabel="epoch", title=f"batch {batch}, {epochs} epochs", ylim=(0.9, 1.002))
        ax.title.set_size(9)
    axes[0][0].set_ylabel("train accuracy (during the epoch)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return fig
