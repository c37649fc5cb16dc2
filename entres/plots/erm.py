"""Figures of the ERM accuracy pages (ERM-1..4): per-network accuracies, effects against δ, sweeps, curves."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def _padded(lo: float, hi: float, pad: float = 0.08) -> tuple[float, float]:
    span = (hi - lo) or abs(hi) or 1.0
    return lo - pad * span, hi + pad * span


def accuracy_and_effects(table: pd.DataFrame, effects: pd.DataFrame, delta: float, title: str = ""):
    """Left: test accuracy per network (one dot per seed) and the family mean. Right: each contrast (estimate and
    95% CI, in percentage points) with the ±δ band and 0 marked. ``effects`` has columns contrast, estimate, lo, hi."""
    import seaborn as sns

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1, 1.25]})
    order = list(dict.fromkeys(table.skip))
    sns.stripplot(data=table, x="skip", y="test_acc", order=order, hue="skip", hue_order=order, size=6, jitter=0.15,
                  ax=left, legend=False)
    sns.pointplot(data=table, x="skip", y="test_acc", order=order, color="k", markers="_", linestyles="none",
                  errorbar=None, ax=left)
    left.set_xlabel("")
    left.set_ylabel("test accuracy")
    left.tick_params(axis="x", rotation=25)
    left.set_title("one dot per network", fontsize=9)
    y = np.arange(len(effects))[::-1]
    est, lo, hi = (100 * effects[c].to_numpy(dtype=float) for c in ("estimate", "lo", "hi"))
    right.axvspan(-100 * delta, 100 * delta, color="0.85", label=f"±δ ({100 * delta:g} points)")
    right.axvline(0, color="k", lw=0.8)
    right.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", color="C0", capsize=3)
    right.set_yticks(y, effects["contrast"], fontsize=8)
    right.set_xlabel("test accuracy difference (percentage points, 95% CI)")
    right.set_xlim(*_padded(min(lo.min(), -100 * delta), max(hi.max(), 100 * delta)))
    right.legend(fontsize=8, loc="upper left")
    right.set_title("contrasts against the reference", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def density_sweep(sweep: pd.DataFrame):
    """Test accuracy of the sparse family per density (one dot per seed) beside the identity on the same budget."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    sparse, ident = sweep[sweep.skip == "sparse"], sweep[sweep.skip == "identity"]
    ax.axhspan(ident.test_acc.min(), ident.test_acc.max(), color="0.8", label="identity (range over seeds)")
    ax.scatter(sparse.density, sparse.test_acc, color="C1", zorder=3, label="sparse, one dot per seed")
    means = sparse.groupby("density").test_acc.mean()
    ax.plot(means.index, means.values, color="C1", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("density ρ of the sparse part")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def training_curves(records: list[dict], title: str = ""):
    """Mean test accuracy per epoch of each family (thin lines: single networks)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    families = list(dict.fromkeys(r["config"]["skip"] for r in records))
    lows = []
    for i, skip in enumerate(families):
        curves = [[e.get("test_acc", np.nan) for e in r["history"]] for r in records if r["config"]["skip"] == skip]
        n = min(len(c) for c in curves)
        arr = np.array([c[:n] for c in curves], dtype=float)
        epochs = np.arange(1, n + 1)
        for c in arr:
            ax.plot(epochs, c, color=f"C{i}", lw=0.5, alpha=0.4)
        ax.plot(epochs, np.nanmean(arr, axis=0), color=f"C{i}", lw=1.8, label=skip)
        lows.append(np.nanmin(arr[:, n // 3:]))
    ax.set_ylim(bottom=min(lows) - 0.02)  # the last two thirds of training, where families differ
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def rnn_tasks(table: pd.DataFrame, regime: pd.DataFrame, by_seed: pd.DataFrame, delta: float):
    """Left: test accuracy per task and family (one dot per seed), chance marked, tasks out of regime greyed.
    Right: per seed, orth − id on each kind of task and the interaction (the primary effect), with ±δ."""
    import seaborn as sns

    tasks = list(regime.task)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.6, 1]})
    sns.stripplot(data=table, x="task", y="test_acc", hue="skip", order=tasks, dodge=True, size=5, ax=left)
    for i, r in regime.reset_index(drop=True).iterrows():
        left.hlines(r["chance"], i - 0.4, i + 0.4, color="k", ls=":", lw=1)
        if not r["in regime"]:
            left.axvspan(i - 0.5, i + 0.5, color="0.9", zorder=0)
    left.set_xticks(range(len(tasks)), [f"{t}\n({k})" for t, k in zip(tasks, regime.kind)], fontsize=8)
    left.set_xlabel("")
    left.set_ylabel("test accuracy")
    left.set_title("dotted: chance; grey: task out of regime", fontsize=9)
    left.legend(fontsize=8, title=None)
    long = by_seed.melt(id_vars="seed", value_vars=["variant", "invariant", "interaction"], var_name="measure",
                        value_name="difference")
    long["difference"] *= 100
    right.axhspan(-100 * delta, 100 * delta, color="0.85")
    right.axhline(0, color="k", lw=0.8)
    sns.stripplot(data=long, x="measure", y="difference", hue="seed", palette="dark", size=7, ax=right)
    right.set_xlabel("")
    right.set_ylabel("orth − id (percentage points)")
    right.set_title("per seed (grey: ±δ)", fontsize=9)
    right.legend(fontsize=7, title="seed")
    fig.tight_layout()
    return fig
