"""Figures of the RA-7 page (Neural Collapse), and the per-network effect strip the RA-7, conv-net and
X-1 pages share."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .theme import fixed_jitter

NC_PANELS = (("nc1", "NC1  Tr(Σ_W Σ_B⁺)/C", True), ("nc2_maxangle_means", "NC2  mean |cos + 1/(C−1)|", True),
             ("nc3_self_duality", "NC3  ‖W/‖W‖ − M/‖M‖‖²", True), ("nc4_agreement", "NC4  nearest-mean agreement", False))


def effect_strip(values: pd.DataFrame, column: str, group: str, effects: dict, ylabel: str, title: str = "",
                 ax=None):
    """One dot per network (``values[column]`` by ``values[group]``), and per group the primary effect's
    estimate with its 95% CI (``effects[group]``: a :class:`protocol.Effect` or a filed row's ``primary``
    dict), its null (dashed) and the band null ± δ (shaded) that the verdict reads."""
    import seaborn as sns

    order = list(effects)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 + 1.3 * len(order), 3.4))
    with fixed_jitter():
        sns.stripplot(data=values, x=group, y=column, order=order, ax=ax, size=6, alpha=0.7, jitter=0.12, zorder=1)
    for i, g in enumerate(order):
        e = _as_effect(effects[g])
        ax.errorbar(i + 0.28, e.estimate, yerr=[[e.estimate - e.lo], [e.hi - e.estimate]], fmt="D", color="k",
                    ms=5, capsize=4, zorder=3, label="mean, 95% CI" if i == 0 else None)
        ax.hlines(e.null, i - 0.45, i + 0.45, colors="0.3", linestyles="--", lw=1.2,
                  label="null" if i == 0 else None, zorder=2)
        if e.delta and np.isfinite(e.null):
            ax.fill_between([i - 0.45, i + 0.45], e.null - e.delta, e.null + e.delta, color="0.6", alpha=0.2,
                            lw=0, label="null ± δ" if i == 0 else None, zorder=0)
    ax.set_xlabel("")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    return ax.figure


def nc_curves(runs: list[dict], networks: pd.DataFrame | None = None):
    """The NC measures against epoch, one line per network, coloured by dataset; log axes where a measure
    falls by decades. With ``networks`` (columns dataset, seed, terminal_start), the first measurement in the
    terminal phase is marked with a dot on each NC1 curve."""
    import seaborn as sns

    rows = []
    for r in runs:
        for i, e in enumerate(r["history"]):
            if "nc" in e:
                rows.append({"dataset": r["config"]["dataset"], "seed": r["config"]["seed"], "epoch": i + 1,
                             **{k: e["nc"][k] for k, _, _ in NC_PANELS}})
    curves = pd.DataFrame(rows)
    fig, axes = plt.subplots(1, len(NC_PANELS), figsize=(13, 3.2))
    for ax, (key, label, logy) in zip(axes, NC_PANELS):
        sns.lineplot(data=curves, x="epoch", y=key, hue="dataset", units="seed", estimator=None, ax=ax, lw=1.2,
                     alpha=0.8, legend=ax is axes[0])
        if logy:
            ax.set_yscale("log")
        ax.set_title(label, fontsize=9)
        ax.set_ylabel("")
    if networks is not None:
        palette = dict(zip(curves["dataset"].unique(), sns.color_palette()))
        for n in networks.itertuples():
            c = curves[(curves.dataset == n.dataset) & (curves.seed == n.seed)]
            if np.isfinite(n.terminal_start) and len(c):
                at = c[c.epoch >= n.terminal_start].head(1)
                axes[0].plot(at.epoch, at.nc1, "o", color=palette[n.dataset], ms=5, mec="k", zorder=3,
                             label="terminal phase starts" if n.Index == 0 else None)
    fig.tight_layout()
    return fig


def _as_effect(e):
    """A filed row's ``primary`` dict read like an Effect."""
    if isinstance(e, dict):
        from types import SimpleNamespace

        nan = float("nan")
        return SimpleNamespace(estimate=e["estimate"], lo=nan if e["lo"] is None else e["lo"],
                               hi=nan if e["hi"] is None else e["hi"], null=e["null"] or 0.0, delta=e["delta"])
    return e
