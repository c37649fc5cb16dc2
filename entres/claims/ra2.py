"""RA-2 (book/ra2_alignment): top singular vectors of residual Jacobians align within blocks and across depth.

Two parts, one verdict row each per dataset, both as multiples of chance (null 1, δ = 1: an alignment
must be at least twice what random vectors or subspaces give to count):

* **within-block**: mean over blocks of |u_iᵀv_i| (mean over inputs and i ≤ C) divided by E|uᵀv| of
  independent random unit vectors in R^d (≈ sqrt(2/(π d)));
* **across depth**: mean over block pairs l ≠ m of ‖U_lᵀU_m‖²_F/C (U and V averaged) divided by C/d.

Rows from the ``ra_spectrum`` experiment (``spectrum_datasets``) add the authors' own statistic, the
diagonal share of the |U_mᵀ J_l V_m| grids against its chance value, and the within-block alignment restricted
to well-determined directions (σ_i ≥ 0.1 σ₁).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments import ra
from . import page as page_mod
from . import protocol, records
from .ra_common import (ACCURACY_ONLY_GATE, SHARED_NETWORKS, Reading, block_stat, caveat, chance_alignment,
                        chance_overlap, detail_line, network_row, pair_stat, read_row, robustness_frame, secondary_mean, span, verdict_list)

CLAIM = "RA-2"
NOTEBOOK = "ra2_alignment"
DELTA = 1.0                        # in multiples of chance: at least 2× chance
CHANCE_MULTIPLES = (1.5, 4.0)      # robustness: the multiple of chance that counts
AGGREGATIONS = ("mean", "median")
SCOPE_TAGS = {"all": "all", "later half": "late"}


def delta_for(multiple: float) -> float:
    """δ on the multiple-of-chance scale (null 1) for "at least ``multiple``× chance"."""
    return multiple - 1.0


# ---------------------------------------------------------------------------------------------
# Per-network measures (ra_jacobian records)

def jacobian_measures(record: dict) -> dict:
    """One network's RA-2/3 measures from an ``ra_jacobian`` record: alignment and overlaps as multiples of
    chance, over all blocks or the later half, mean or median over blocks (pairs), and the raw values."""
    m, a = record["metrics"], record["arrays"]
    d = int(m.get("width", record["config"]["width"]))
    c = int(m["num_classes"])
    blocks = a["blocks"]
    within = [b["within_alignment"] for b in blocks]
    out = {**network_row(record), "num_classes": c, "d": d, "chance_within": chance_alignment(d),
           "chance_overlap": chance_overlap(c, d),
           "within": float(np.mean(within)), "overlap_u": pair_stat(a["overlap_u"]),
           "overlap_v": pair_stat(a["overlap_v"]),
           "energy_top_c": m.get("energy_top_c_mean"), "rank": m.get("rank_mean"),
           "sigma_c_share": _sigma_c_share(blocks, c)}
    for scope, tag in SCOPE_TAGS.items():
        for how in AGGREGATIONS:
            out[f"within_x_{tag}_{how}"] = block_stat(within, scope, how) / out["chance_within"]
            u = pair_stat(a["overlap_u"], scope, how) / out["chance_overlap"]
            v = pair_stat(a["overlap_v"], scope, how) / out["chance_overlap"]
            out[f"overlap_u_x_{tag}_{how}"], out[f"overlap_v_x_{tag}_{how}"] = u, v
            out[f"overlap_x_{tag}_{how}"] = (u + v) / 2
    return out


def _sigma_c_share(blocks: list[dict], c: int) -> float:
    """Median over blocks of σ_C/σ₁ (from the mean top singular values): how determined the C-th pair is."""
    shares = [b["top_singular_values"][c - 1] / b["top_singular_values"][0]
              for b in blocks if len(b.get("top_singular_values", [])) >= c and b["top_singular_values"][0] > 0]
    return float(np.median(shares)) if shares else np.nan


def network_table(runs: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([jacobian_measures(r) for r in runs])


# ---------------------------------------------------------------------------------------------
# Readings

def within_readings(delta: float = DELTA, families=("identity",)) -> tuple[Reading, list[Reading]]:
    primary = Reading("primary", "within_x_all_mean", delta, families, null=1.0 if len(families) == 1 else 0.0)
    alts = [primary.but("aggregation: median", column="within_x_all_median"),
            primary.but("scope: later half", column="within_x_late_mean")]
    alts += [primary.but(f"chance multiple: {k:g}×", delta=delta_for(k)) for k in CHANCE_MULTIPLES]
    alts += [primary.but("gate: accuracy only", gate=ACCURACY_ONLY_GATE)]
    return primary, alts


def overlap_readings(delta: float = DELTA, families=("identity",)) -> tuple[Reading, list[Reading]]:
    primary = Reading("primary", "overlap_x_all_mean", delta, families, null=1.0 if len(families) == 1 else 0.0)
    alts = [primary.but("aggregation: median", column="overlap_x_all_median"),
            primary.but("scope: later half", column="overlap_x_late_mean"),
            primary.but("side: U only", column="overlap_u_x_all_mean"),
            primary.but("side: V only", column="overlap_v_x_all_mean")]
    alts += [primary.but(f"chance multiple: {k:g}×", delta=delta_for(k)) for k in CHANCE_MULTIPLES]
    alts += [primary.but("gate: accuracy only", gate=ACCURACY_ONLY_GATE)]
    return primary, alts


def dataset_rows(table: pd.DataFrame, dataset: str, spectrum: pd.DataFrame | None = None):
    """The two verdict rows of one dataset (within-block, across depth) and their robustness lines.
    ``spectrum`` (per-network ``ra_spectrum`` measures of this dataset's depth, or None) adds the
    well-determined-directions alternative to the within-block row."""
    t = table[table.dataset == dataset]
    ident = t[t.skip == "identity"]
    has_control = (t.skip == "none").any()
    out, details = [], {}

    primary, alts = within_readings()
    tt = t
    if spectrum is not None and len(spectrum):
        tt = t.merge(spectrum[["dataset", "skip", "seed", "within_x_determined"]], how="left",
                     on=["dataset", "skip", "seed"])
        alts.insert(2, primary.but("directions: σ_i ≥ 0.1σ₁", column="within_x_determined"))
    effect, gate, verdicts, det = read_row(tt, "within-block |u_iᵀv_i| / chance, identity", primary, alts)
    secondary = {"|u_iᵀv_i| (mean, i ≤ C)": secondary_mean(t, "within"),
                 "σ_C / σ₁ (median over blocks)": secondary_mean(t, "sigma_c_share")}
    if has_control:
        secondary["÷ chance, no-skip control"] = secondary_mean(t, "within_x_all_mean", "none")
    label = f"{dataset}: within-block"
    out.append(records.row(label, effect, gate, seeds=len(ident), test_acc=ident.test_acc.mean(),
                           robustness=verdicts, secondary=secondary, scope="all blocks, i ≤ C",
                           caveat=caveat(gate, effect, det, f"the mean runs over all i ≤ C although σ_C/σ₁ is only "
                                         f"{span(ident.sigma_c_share, '.3f')}", SHARED_NETWORKS)))
    details[label] = det

    primary, alts = overlap_readings()
    effect, gate, verdicts, det = read_row(t, "across-depth overlap / (C/d), identity", primary, alts)
    secondary = {"overlap U (raw)": secondary_mean(t, "overlap_u"), "overlap V (raw)": secondary_mean(t, "overlap_v"),
                 "÷ chance, later half": secondary_mean(t, "overlap_x_late_mean")}
    if has_control:
        secondary["÷ chance, no-skip control"] = secondary_mean(t, "overlap_x_all_mean", "none")
    label = f"{dataset}: across depth"
    out.append(records.row(label, effect, gate, seeds=len(ident), test_acc=ident.test_acc.mean(),
                           robustness=verdicts, secondary=secondary, scope="all block pairs l ≠ m",
                           caveat=caveat(gate, effect, det, f"early blocks overlap less than late ones "
                                         f"(later half {span(ident.overlap_x_late_mean, '.1f')}× chance)",
                                         SHARED_NETWORKS)))
    details[label] = det
    return out, details


# ---------------------------------------------------------------------------------------------
# ra_spectrum: the authors' grid statistic and well-determined directions (MNIST, FashionMNIST)

def spectrum_measures(record: dict) -> dict:
    """One network's ``ra_spectrum`` measures as multiples of chance: the authors' statistic (the diagonal
    share of the grids |U_mᵀ J_l V_m| over block pairs l ≠ m; the l = m grid is diag(σ) by construction)
    against its Monte Carlo chance value (≈ 1/C), and the within-block alignment over well-determined
    directions (σ_i ≥ 0.1σ₁) against E|uᵀv| of random unit vectors."""
    from ..experiments import spectra

    m = record["metrics"]
    share = spectra.matrix(record, "diag_share")
    chance = float(m["diag_share_chance"])
    out = {**network_row(record), "diag_share_chance": chance, "diag_share": pair_stat(share),
           "within_determined": float(m["align_strong_mean"]),
           "within_x_determined": float(m["align_strong_mean"]) / chance_alignment(int(m["width"]))}
    for scope, tag in SCOPE_TAGS.items():
        for how in AGGREGATIONS:
            out[f"diag_x_{tag}_{how}"] = pair_stat(share, scope, how) / chance
    return out


def spectrum_rows(spec: pd.DataFrame, dataset: str, depth: int):
    """One row per dataset: the authors' statistic (grid-diagonal share ÷ chance) of the identity networks at
    the page's depth (the networks of the other rows); the other depths are robustness settings."""
    t = spec[spec.dataset == dataset]
    main = t[t.depth == depth]
    ident = main[main.skip == "identity"]
    primary = Reading("primary", "diag_x_all_mean", DELTA, null=1.0)
    alts = [primary.but("aggregation: median", column="diag_x_all_median"),
            primary.but("scope: later half", column="diag_x_late_mean")]
    alts += [primary.but(f"chance multiple: {k:g}×", delta=delta_for(k)) for k in CHANCE_MULTIPLES]
    alts += [primary.but("gate: accuracy only", gate=ACCURACY_ONLY_GATE)]
    effect, gate, verdicts, det = read_row(main, "grid-diagonal share ÷ chance, identity", primary, alts)
    for L in sorted(set(t.loc[t.skip == "identity", "depth"]) - {depth}):
        e, g = primary.effect(t[t.depth == L], ""), primary.gate_check(t[t.depth == L])
        verdicts[f"depth: {L}"] = e.verdict(g["passed"])
        det.append(detail_line(f"depth: {L}", e, g))
    secondary = {"diagonal share (raw)": secondary_mean(main, "diag_share"),
                 "chance (≈ 1/C)": secondary_mean(main, "diag_share_chance")}
    if (main.skip == "none").any():
        secondary["÷ chance, no-skip control"] = secondary_mean(main, "diag_x_all_mean", "none")
    label = f"{dataset}: grid diagonal"
    row = records.row(label, effect, gate, seeds=len(ident), test_acc=ident.test_acc.mean(), robustness=verdicts,
                      secondary=secondary, scope="all block pairs l ≠ m",
                      caveat=caveat(gate, effect, det, "the authors' RA-2 statistic (diagonal share of the grids "
                                    "|U_mᵀ J_l V_m|, l ≠ m), from ra_spectrum", SHARED_NETWORKS))
    return [row], {label: det}


# ---------------------------------------------------------------------------------------------
# The page

def page(profile: str = "smoke", datasets=("fashionmnist",), skips=("identity", "none"),
         identity_only_datasets=("mnist",), seeds=(0, 1), depth: int = 6, width: int = 32, epochs: int = 3,
         batch_size: int = 128, lr: float = 0.1, weight_decay: float = 0.01, n_train: int = 2000,
         n_samples: int = 100, spectrum_datasets=(), spectrum_depths=(4, 8, 16, 32),
         spectrum_n_samples: int = 100, spectrum_control: bool = True) -> page_mod.PageResult:
    """Runs (cached, else computed) → per-network table → two rows per dataset (+ one per spectrum dataset)."""
    options = dict(depth=depth, width=width, epochs=epochs, batch_size=batch_size, lr=lr,
                   weight_decay=weight_decay, n_train=n_train, n_samples=n_samples)
    runs = ra.jacobian_runs(list(datasets), list(skips), list(seeds), **options)
    if identity_only_datasets:
        runs += ra.jacobian_runs(list(identity_only_datasets), ["identity"], list(seeds), **options)
    table = network_table(runs)
    spec, spec_runs = _spectrum(spectrum_datasets, spectrum_depths, seeds, depth, spectrum_n_samples, options,
                                spectrum_control)
    all_datasets = list(dict.fromkeys(list(datasets) + list(identity_only_datasets)))
    rows, details = [], {}
    for ds in all_datasets:
        if ((table.dataset == ds) & (table.skip == "identity")).any():
            same_depth = None if spec is None else spec[(spec.dataset == ds) & (spec.depth == depth)]
            r, d = dataset_rows(table, ds, same_depth)
            rows += r
            details.update(d)
    for ds in spectrum_datasets:
        r, d = spectrum_rows(spec, ds, depth)
        rows += r
        details.update(d)
    stamp = records.provenance_stamp(runs + spec_runs)
    records.record_verdict(CLAIM, profile, rows, notebook=NOTEBOOK, computed_from=stamp)
    return page_mod.PageResult(CLAIM, rows, table, runs={"jacobian": runs, "spectrum": spec_runs},
                               robustness=robustness_frame(details), values=prose_values(table, rows, spec),
                               stamp=stamp, extra={"datasets": all_datasets, "spectrum": spec})


def _spectrum(datasets, depths, seeds, depth, n_samples, options, control: bool = True):
    """The ``ra_spectrum`` networks (identity at ``depths``, and with ``control`` no-skip at ``depth``) and
    their measures."""
    if not datasets:
        return None, []
    from ..experiments import spectra

    opts = {k: v for k, v in options.items() if k not in ("depth", "n_samples")}
    runs = spectra.spectrum_runs(list(datasets), ["identity"], list(seeds), depths=list(depths),
                                 n_samples=n_samples, **opts)
    if control:
        runs += spectra.spectrum_runs(list(datasets), ["none"], list(seeds), depths=[depth], n_samples=n_samples,
                                      **opts)
    return pd.DataFrame([spectrum_measures(r) for r in runs]), runs


def prose_values(table: pd.DataFrame, rows: list[dict], spec: pd.DataFrame | None = None) -> dict:
    """Numbers the page's prose quotes (glued as ``ra2_alignment_<name>``)."""
    ident, none = table[table.skip == "identity"], table[table.skip == "none"]
    v = {"networks": len(table), "chance_within": f"{table.chance_within.iloc[0]:.3f}" if len(table) else "n/a",
         "chance_overlap": span(table.chance_overlap, ".3f"),
         "within_identity": span(ident.within, ".2f"), "within_x_identity": span(ident.within_x_all_mean, ".1f"),
         "within_x_none": span(none.within_x_all_mean, ".2f"),
         "overlap_x_identity": span(ident.overlap_x_all_mean, ".1f"),
         "overlap_x_late_identity": span(ident.overlap_x_late_mean, ".1f"),
         "overlap_x_none": span(none.overlap_x_all_mean, ".2f"),
         "sigma_c_share": span(ident.sigma_c_share, ".3f"),
         "terminal_steps_identity": span(ident.terminal_steps, ",.0f"),
         "gate_steps": f"{protocol.RA_GATE.min_terminal_steps:,}"}
    v["diag_x_identity"] = v["diag_x_none"] = v["within_x_determined"] = "not computed in this profile"
    if spec is not None and len(spec):
        si = spec[spec.skip == "identity"]
        v["diag_x_identity"] = span(si.diag_x_all_mean, ".1f")
        v["diag_x_none"] = span(spec.loc[spec.skip == "none", "diag_x_all_mean"], ".2f")
        v["within_x_determined"] = span(si.within_x_determined, ".1f")
    v["verdict_list"] = verdict_list(rows)
    for r in rows:
        key = r["dataset"].split(" (")[0].replace(": ", "_").replace(" ", "_").replace("-", "_")
        v[f"verdict_{key}"] = r["verdict"]
        p = r["primary"]
        v[f"effect_{key}"] = page_mod.effect_text(p, ".2f")
    return v
