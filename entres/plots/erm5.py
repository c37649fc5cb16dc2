"""Figures of the ERM-5 page (iterative refinement per block, per family)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

MEASURES = (("drop_cost", "accuracy lost when block l is dropped"), ("relative_update", "‖F_l(h)‖ / ‖h‖"),
            ("probe_accuracy", "linear probe accuracy"), ("gradient_cosine", "cos(F_l, −∂L/∂(E h + F_l))"))


def per_block(blocks: pd.DataFrame, scope_start: int | None = None):
    """One panel per measure (those with values): mean over seeds per block and family, with 95% CIs.
    ``scope_start`` (1-based block) shades the blocks the primary test is about."""
    shown = [(k, label) for k, label in MEASURES if k in blocks and blocks[k].notna().any()]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 3.3), squeeze=False)
    for ax, (key, label) in zip(axes[0], shown):
        sns.pointplot(blocks, x="block", y=key, hue="skip", errorbar=("ci", 95), seed=0, dodge=0.4, markersize=3,
                      linewidth=1.1, ax=ax, legend=ax is axes[0][0])
        if scope_start is not None:
            ax.axvspan(scope_start - 1.5, blocks.block.max() - 0.5, color="0.9", zorder=0)
        ax.set(title=label, xlabel="block l", ylabel="")
    axes[0][0].legend(fontsize=7, title=None)
    fig.tight_layout()
    return fig


def primary_contrast(networks: pd.DataFrame, reference: tuple[str, ...], delta: float):
    """Drop cost of the scoped blocks per network (points) and per family (mean, 95% CI), with the reference
    networks' mean ± δ shaded: the band a family must stay inside to 'preserve' refinement."""
    fig, ax = plt.subplots(figsize=(6.2, 3.2))
    order = list(dict.fromkeys(networks.skip))
    sns.stripplot(networks, x="skip", y="drop_cost", order=order, color="0.35", size=4, jitter=0.12, ax=ax)
    sns.pointplot(networks, x="skip", y="drop_cost", order=order, errorbar=("ci", 95), seed=0, color="C3",
                  linestyle="none", markers="D", markersize=5, ax=ax)
    ref = networks[networks.skip.isin(reference)].drop_cost.mean()
    ax.axhspan(ref - delta, ref + delta, color="C0", alpha=0.25, lw=0)
    ax.axhline(ref, color="C0", lw=0.8)
    lo, hi = networks.drop_cost.min(), networks.drop_cost.max()
    pad = 0.1 * (hi - lo if hi > lo else max(abs(hi), 0.01))
    ax.set(ylim=(lo - pad, hi + pad), xlabel="", ylabel="drop cost, later blocks",
           title="per network (grey), family mean with 95% CI (red); reference ± δ (blue)")
    ax.title.set_size(8)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{100 * v:.0f} pp"))
    fig.tight_layout()
    return fig


def scope_start(n_blocks: int) -> int:
    """First (1-based) block of the later half."""
    return int(np.floor(n_blocks / 2)) + 1
