"""Figures of the RA-1 page (book/ra1_line), drawn from the page's per-network table and cached records."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .common import trajectories
from .theme import fixed_jitter



@fixed_jitter()
def kappa_by_network(table: pd.DataFrame, delta: float):
    """κ_line and κ_steps per network (points) with the family mean and 95% CI, by dataset and skip."""
    fig, axes = plt.subplots(1, 2, figsize=(8.2, 3.4), sharey=True)
    for ax, (col, title) in zip(axes, (("kappa_line_mean", "line: κ_line"), ("kappa_steps_mean", "equal steps: κ_steps"))):
        sns.stripplot(data=table, x="dataset", y=col, hue="skip", dodge=True, alpha=0.6, size=5, ax=ax, legend=False)
        sns.pointplot(data=table, x="dataset", y=col, hue="skip", dodge=0.4, linestyle="none",
                      errorbar=("ci", 95), seed=0, markers="_", markersize=14, ax=ax)
        ax.axhline(0, color="k", lw=1, ls="--", label="chance")
        ax.axhline(delta, color="0.4", lw=1, ls=":", label=f"δ = {delta:g}")
        ax.set(title=title, xlabel="", ylabel="κ (0 = chance, 1 = ideal)")
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def step_profiles(runs: list[dict]):
    """Mean step length per block transition, each network's profile divided by its own mean, by dataset."""
    rows = [{"dataset": r["config"]["dataset"], "skip": r["config"]["skip"], "seed": r["config"]["seed"],
             "step": i + 1, "relative step length": s / np.mean(r["arrays"]["step_mean"])}
            for r in runs for i, s in enumerate(r["arrays"]["step_mean"])]
    df = pd.DataFrame(rows)
    g = sns.relplot(data=df, x="step", y="relative step length", hue="skip", col="dataset", kind="line",
                    units="seed", estimator=None, alpha=0.7, height=2.8, aspect=1.0)
    g.set(yscale="log")
    for ax in g.axes.flat:
        ax.axhline(1, color="k", lw=0.8, ls="--")
    g.set_axis_labels("block transition l → l+1", "step / mean step")
    return g.figure


def offline_variance(runs: list[dict]):
    """ECDF over test inputs of the variance off the first principal direction, 1 − lin (log axis: a line
    has almost none, so a plot of lin itself would put every identity input in one bin at 1)."""
    rows = [{"dataset": r["config"]["dataset"], "skip": r["config"]["skip"], "1 − lin": max(1 - v, 1e-6)}
            for r in runs for v in r["arrays"]["lin"] if v == v]
    g = sns.displot(pd.DataFrame(rows), x="1 − lin", hue="skip", col="dataset", kind="ecdf", log_scale=True,
                    height=2.8, aspect=1.0)
    g.set_axis_labels("1 − lin (off-line variance share)", "share of inputs")
    return g.figure


def example_trajectories(runs: list[dict]):
    """One identity network per dataset: single trajectories in their own top-2 principal plane."""
    return trajectories([r for r in runs if r["config"]["skip"] == "identity"], by="dataset")
