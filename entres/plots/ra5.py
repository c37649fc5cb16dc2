"""Figures of the RA-5 page (book/ra5_no_skip)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .theme import fixed_jitter


@fixed_jitter()
def overlap_and_regime(table: pd.DataFrame, bar: float = 0.999):
    """Left: across-depth overlap ÷ chance per network; right: final train accuracy per network with the bar."""
    fig, axes = plt.subplots(1, 2, figsize=(8.2, 3.3))
    sns.stripplot(data=table, x="dataset", y="overlap_x_all_mean", hue="skip", dodge=True, size=6, ax=axes[0])
    axes[0].axhline(1, color="k", lw=1, ls="--", label="chance (C/d)")
    axes[0].set(xlabel="", ylabel="overlap ÷ C/d", title="across-depth overlap (primary)")
    axes[0].legend(fontsize=7)
    sns.stripplot(data=table, x="dataset", y="train_acc", hue="skip", dodge=True, size=6, ax=axes[1], legend=False)
    axes[1].axhline(bar, color="k", lw=1, ls=":")
    axes[1].set(xlabel="", ylabel="final train accuracy", title=f"regime (bar {bar:g})")
    fig.tight_layout()
    return fig


def training_curves(runs: list[dict], bar: float = 0.999):
    """Train accuracy per epoch (during the epoch) of every network, by dataset, with the terminal-phase bar."""
    rows = [{"dataset": r["config"]["dataset"], "skip": r["config"]["skip"], "seed": r["config"]["seed"],
             "epoch": i + 1, "train accuracy": e["train_acc"]} for r in runs for i, e in enumerate(r["history"])]
    g = sns.relplot(pd.DataFrame(rows), x="epoch", y="train accuracy", hue="skip", col="dataset", kind="line",
                    units="seed", estimator=None, alpha=0.7, height=2.8, aspect=1.0)
    for ax in g.axes.flat:
        ax.axhline(bar, color="k", lw=0.8, ls=":")
    return g.figure
