"""Figures of the book, drawn from result records (never from live models)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def _by(records: list[dict], by: str = "skip", seed: int | None = None) -> dict[str, dict]:
    """One record per value of config key ``by`` (the skip family, or e.g. the dataset): the given seed, else the lowest."""
    out: dict[str, dict] = {}
    for r in sorted(records, key=lambda r: r["config"]["seed"]):
        if seed is None or r["config"]["seed"] == seed:
            out.setdefault(r["config"][by], r)
    return out


def trajectories(records: list[dict], seed: int | None = None, title: str = "", by: str = "skip"):
    """Example trajectories h_1..h_L in their own top-2 principal coordinates, one panel per skip."""
    chosen = _by(records, by, seed)
    fig, axes = plt.subplots(1, len(chosen), figsize=(4.2 * len(chosen), 3.8), squeeze=False)
    for ax, (skip, rec) in zip(axes[0], chosen.items()):
        paths = np.asarray(rec["arrays"]["examples_top2"])  # (n, L, 2)
        for path, label in zip(paths, rec["arrays"]["example_labels"]):
            scale = np.abs(path).max() or 1.0
            p = path / scale * np.where(path[0] > 0, -1.0, 1.0)  # scaled to fit; principal signs set to start left/low
            ax.plot(p[:, 0], p[:, 1], "-", lw=1, alpha=0.6)
            ax.scatter(p[:, 0], p[:, 1], c=np.arange(len(p)), cmap="viridis", s=12, zorder=3)
            ax.annotate(str(label), p[0], fontsize=7)
        ax.set_title(f"{by} = {skip} (seed {rec['config']['seed']})")
        ax.set_xlabel("PC 1 (scaled)")
        ax.set_ylabel("PC 2 (scaled)")
        ax.set_aspect("equal", adjustable="datalim")
    fig.suptitle(f"{title}: trajectories of single test inputs (colour: block index l; label: class)".lstrip(": "))
    fig.tight_layout()
    return fig


def measure_distributions(records: list[dict], thresholds: dict[str, float], title: str = "", by: str = "skip"):
    """Per-input distributions of the RA-1 measures, by skip, with the a-priori thresholds."""
    names = list(thresholds)
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.4), squeeze=False)
    skips = list(dict.fromkeys(r["config"][by] for r in records))
    for ax, name in zip(axes[0], names):
        for skip in skips:
            vals = np.concatenate([r["arrays"][name] for r in records if r["config"][by] == skip])
            ax.hist(vals[np.isfinite(vals)], bins=40, alpha=0.55, label=skip, density=True)
        ax.axvline(thresholds[name], color="k", ls="--", lw=1, label="threshold")
        ax.set_xlabel(name)
        ax.set_ylabel("density")
        ax.legend(fontsize=8)
        ax.set_title(f"{title} {name}".strip())
    fig.tight_layout()
    return fig


def step_profile(records: list[dict], title: str = "", by: str = "skip"):
    """Mean step length ||h_{l+1} − h_l|| against l, one line per run."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    colours = {}
    for r in records:
        skip = r["config"][by]
        colour = colours.setdefault(skip, f"C{len(colours)}")
        steps = np.asarray(r["arrays"]["step_mean"])
        ax.plot(np.arange(1, len(steps) + 1), steps, color=colour, alpha=0.7,
                label=skip if r["config"]["seed"] == min(x["config"]["seed"] for x in records) else None)
    ax.set_yscale("log")
    return _finish(fig, ax, "block transition l → l+1", "mean step length", title)


def _finish(fig, ax, xlabel: str, ylabel: str, title: str = "", legend_size: int = 8):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    return fig


def _colours(records: list[dict], by: str = "skip") -> dict[str, str]:
    return {s: f"C{i}" for i, s in enumerate(dict.fromkeys(r["config"][by] for r in records))}


def per_block(records: list[dict], key: str, ylabel: str, baseline: float | None = None,
              baseline_label: str = "random baseline", title: str = "", logy: bool = False, by: str = "skip"):
    """A per-block Jacobian measure against block index l, one line per run, coloured by skip."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    colours, labelled = _colours(records, by), set()
    for r in records:
        skip = r["config"][by]
        values = [b[key] for b in r["arrays"]["blocks"]]
        ax.plot(np.arange(1, len(values) + 1), values, "o-", ms=3, color=colours[skip], alpha=0.7,
                label=None if skip in labelled else skip)
        labelled.add(skip)
    if baseline is not None:
        ax.axhline(baseline, color="k", ls="--", lw=1, label=baseline_label)
    if logy:
        ax.set_yscale("log")
    return _finish(fig, ax, "block l", ylabel, title)


def overlap_heatmaps(records: list[dict], seed: int | None = None, title: str = "", by: str = "skip"):
    """L x L overlap of top-C singular subspaces across blocks (left U and right V), one row per skip (or ``by``)."""
    chosen = _by(records, by, seed)
    fig, axes = plt.subplots(len(chosen), 2, figsize=(8, 3.6 * len(chosen)), squeeze=False)
    for row, (skip, rec) in zip(axes, chosen.items()):
        baseline = rec["metrics"]["random_overlap"]
        for ax, key, side in zip(row, ("overlap_u", "overlap_v"), ("left U", "right V")):
            mat = np.asarray(rec["arrays"][key])
            im = ax.imshow(mat, vmin=0, vmax=1, cmap="magma", origin="upper",
                           extent=(0.5, len(mat) + 0.5, len(mat) + 0.5, 0.5))
            ax.set_title(f"{skip}: {side} (random ≈ {baseline:.3f})", fontsize=9)
            ax.set_xlabel("block m")
            ax.set_ylabel("block l")
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"{title} top-C subspace overlap ‖U_lᵀU_m‖²/C".strip())
    fig.tight_layout()
    return fig


def singular_spectra(records: list[dict], seed: int | None = None, title: str = "", by: str = "skip"):
    """Mean top singular values of J_l per block (colour: depth), the class count C marked."""
    chosen = _by(records, by, seed)
    fig, axes = plt.subplots(1, len(chosen), figsize=(4.6 * len(chosen), 3.5), squeeze=False)
    for ax, (skip, rec) in zip(axes[0], chosen.items()):
        blocks = rec["arrays"]["blocks"]
        cmap = plt.get_cmap("viridis")
        for l, b in enumerate(blocks):
            sv = np.asarray(b["top_singular_values"])
            ax.semilogy(np.arange(1, len(sv) + 1), sv, "o-", ms=2, lw=1, color=cmap(l / max(len(blocks) - 1, 1)))
        c = rec["metrics"]["num_classes"]
        ax.axvline(c + 0.5, color="r", ls="--", lw=1, label=f"C = {c}")
        ax.set_xlabel("index i")
        ax.set_ylabel("mean σ_i(J_l)")
        ax.set_title(f"{by} = {skip} (seed {rec['config']['seed']}); colour: block l", fontsize=9)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def depth_scaling(table, fits, title: str = ""):
    """σ̄₁ against depth L on log-log axes, one point per network, with the fitted power law."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for i, ((dataset, skip), g) in enumerate(table.groupby(["dataset", "skip"], sort=False)):
        ax.loglog(g["depth"], g["sigma1_mean"], "o", color=f"C{i}", alpha=0.7, label=f"{dataset} / {skip}")
        fit = fits[(fits.dataset == dataset) & (fits.skip == skip)].iloc[0]
        L = np.geomspace(g["depth"].min(), g["depth"].max(), 50)
        anchor = np.exp(np.mean(np.log(g["sigma1_mean"]) + fit.alpha * np.log(g["depth"])))
        ax.loglog(L, anchor * L ** -fit.alpha, "-", color=f"C{i}",
                  label=f"fit α = {fit.alpha:.2f} [{fit.alpha_lo:.2f}, {fit.alpha_hi:.2f}]")
    return _finish(fig, ax, "depth L", "σ̄₁ (mean top singular value)", title, legend_size=7)


def inverse_sigma_by_block(records: list[dict], seed: int | None = None, title: str = ""):
    """1/σ₁(J_l) against block l for one network of each depth (the authors' view of RA-4)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    by_depth: dict[int, dict] = {}
    for r in sorted(records, key=lambda r: r["config"]["seed"]):
        if seed is None or r["config"]["seed"] == seed:
            by_depth.setdefault(r["config"]["depth"], r)
    for i, (depth, r) in enumerate(sorted(by_depth.items())):
        inv = [1 / b["sigma1"] for b in r["arrays"]["blocks"]]
        ax.plot(np.arange(1, len(inv) + 1), inv, "o-", ms=3, color=f"C{i}", label=f"L = {depth}")
    return _finish(fig, ax, "block l", "1 / σ₁(J_l)", title)
