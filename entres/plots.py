"""Figures of the book, drawn from result records (never from live models)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def _by_skip(records: list[dict], seed: int | None = None) -> dict[str, dict]:
    """One record per skip family: the given seed, else the lowest."""
    out: dict[str, dict] = {}
    for r in sorted(records, key=lambda r: r["config"]["seed"]):
        if seed is None or r["config"]["seed"] == seed:
            out.setdefault(r["config"]["skip"], r)
    return out


def trajectories(records: list[dict], seed: int | None = None, title: str = ""):
    """Example trajectories h_1..h_L in their own top-2 principal coordinates, one panel per skip."""
    chosen = _by_skip(records, seed)
    fig, axes = plt.subplots(1, len(chosen), figsize=(4.2 * len(chosen), 3.8), squeeze=False)
    for ax, (skip, rec) in zip(axes[0], chosen.items()):
        paths = np.asarray(rec["arrays"]["examples_top2"])  # (n, L, 2)
        for path, label in zip(paths, rec["arrays"]["example_labels"]):
            scale = np.abs(path).max() or 1.0
            p = path / scale  # each trajectory scaled to fit, so shapes compare
            ax.plot(p[:, 0], p[:, 1], "-", lw=1, alpha=0.6)
            ax.scatter(p[:, 0], p[:, 1], c=np.arange(len(p)), cmap="viridis", s=12, zorder=3)
            ax.annotate(str(label), p[0], fontsize=7)
        ax.set_title(f"skip = {skip} (seed {rec['config']['seed']})")
        ax.set_xlabel("PC 1 (scaled)")
        ax.set_ylabel("PC 2 (scaled)")
        ax.set_aspect("equal", adjustable="datalim")
    fig.suptitle(f"{title}: trajectories of single test inputs (colour: block index l; label: class)".lstrip(": "))
    fig.tight_layout()
    return fig


def measure_distributions(records: list[dict], thresholds: dict[str, float], title: str = ""):
    """Per-input distributions of the RA-1 measures, by skip, with the a-priori thresholds."""
    names = list(thresholds)
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.4), squeeze=False)
    skips = list(dict.fromkeys(r["config"]["skip"] for r in records))
    for ax, name in zip(axes[0], names):
        for skip in skips:
            vals = np.concatenate([r["arrays"][name] for r in records if r["config"]["skip"] == skip])
            ax.hist(vals[np.isfinite(vals)], bins=40, alpha=0.55, label=skip, density=True)
        ax.axvline(thresholds[name], color="k", ls="--", lw=1, label="threshold")
        ax.set_xlabel(name)
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
        ax.set_title(f"{title} {name}".strip())
    fig.tight_layout()
    return fig


def step_profile(records: list[dict], title: str = ""):
    """Mean step length ||h_{l+1} − h_l|| against l, one line per run."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    colours = {}
    for r in records:
        skip = r["config"]["skip"]
        colour = colours.setdefault(skip, f"C{len(colours)}")
        steps = np.asarray(r["arrays"]["step_mean"])
        ax.plot(np.arange(1, len(steps) + 1), steps, color=colour, alpha=0.7,
                label=skip if r["config"]["seed"] == min(x["config"]["seed"] for x in records) else None)
    ax.set_xlabel("block transition l → l+1")
    ax.set_ylabel("mean step length")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
