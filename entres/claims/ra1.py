"""RA-1 (book/ra1_line): intermediate representations of an input lie equispaced on a line.

The claim has two parts, and each is one verdict row per dataset, read against chance:

* **line**: ``lin`` (variance share of the first principal direction of the centred trajectory h_1..h_L)
  against what a walk with the network's own step lengths but *random* step directions gives (``lin₀``).
  Long steps raise ``lin`` whatever their directions (one long jump is "a line"), which is why the bare
  ``lin`` also passes networks without skips; the null removes that. Effect: the share of chance's
  off-line variance that the network removes, κ_line = 1 − (1 − lin)/(1 − lin₀) (0 = chance, 1 = a line).
* **equal steps**: the coefficient of variation ``cv`` of the step lengths against points thrown at
  random on a line (i.i.d. exponential gaps, CV ≈ 1: the classic reference of regular spacing).
  Effect: κ_steps = 1 − cv/cv₀ (0 = random spacing, 1 = equal steps).

δ = 0.5 for both: the network must come at least twice as close to the ideal as chance (the same
"2× chance" as the subspace overlaps of RA-2). Only the identity family is compared (the nulls are
computed from each network itself), so the gate is applied to it; the no-skip control is shown.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..experiments import ra
from . import page as page_mod
from . import protocol, records
from .ra_common import (ACCURACY_ONLY_GATE, SHARED_NETWORKS, Reading, aggregate, caveat, network_row,
                        random_spacing_cv, random_walk_linearity, read_row, robustness_frame, scope_indices,
                        secondary_mean, span, verdict_list)

CLAIM = "RA-1"
NOTEBOOK = "ra1_line"
DELTA = 0.5                      # at least 2× closer to the ideal than chance
CHANCE_MULTIPLES = (1.5, 4.0)    # robustness: the multiple of chance that counts
PRIMARY_AGGREGATION = "mean"


def delta_for(multiple: float) -> float:
    """δ on the κ scale for "at least ``multiple``× closer to the ideal than chance"."""
    return 1.0 - 1.0 / multiple


# ---------------------------------------------------------------------------------------------
# Per-network measures

def kappa(observed: float, chance: float, ideal: float) -> float:
    """The share of chance's distance to the ideal that ``observed`` removes: 0 at chance, 1 at the ideal."""
    return 1.0 - (ideal - observed) / (ideal - chance) if ideal != chance else np.nan


def profile_cv(step_mean, scope: str) -> float:
    """CV (population std / mean) of the mean step-length profile over the steps a scope keeps."""
    s = np.asarray(step_mean, dtype=float)[scope_indices(len(step_mean), scope)]
    return float(s.std() / s.mean()) if len(s) > 1 and s.mean() > 0 else np.nan


def network_measures(record: dict, null_draws: int = 2000) -> dict:
    """One network's RA-1 measures, their chance values and κ readings (mean and median over inputs;
    all steps per input, and the mean step-length profile over all steps or the later half)."""
    lin = np.asarray(record["arrays"]["lin"], dtype=float)
    cv = np.asarray(record["arrays"]["cv"], dtype=float)
    steps = np.asarray(record["arrays"]["step_mean"], dtype=float)
    lin0 = random_walk_linearity(steps, int(record["config"]["width"]), null_draws,
                                 seed=int(record["config"]["seed"]))
    out = network_row(record)
    n_late = len(scope_indices(len(steps), "later half"))
    cv0 = {"all": random_spacing_cv(len(steps)), "later half": random_spacing_cv(n_late)}
    for how in ("mean", "median"):
        out[f"lin_{how}"] = aggregate(lin, how)
        out[f"lin0_{how}"] = aggregate(lin0, how)
        out[f"kappa_line_{how}"] = kappa(out[f"lin_{how}"], out[f"lin0_{how}"], 1.0)
        out[f"cv_{how}"] = aggregate(cv, how)
        out[f"kappa_steps_{how}"] = kappa(out[f"cv_{how}"], cv0["all"], 0.0)
    out["cv0"] = cv0["all"]
    for scope, tag in (("all", "all"), ("later half", "late")):
        out[f"cv_profile_{tag}"] = profile_cv(steps, scope)
        out[f"kappa_steps_profile_{tag}"] = kappa(out[f"cv_profile_{tag}"], cv0[scope], 0.0)
    out["first_step_share"] = float(steps[0] / steps.mean())
    return out


def network_table(runs: list[dict], null_draws: int = 2000) -> pd.DataFrame:
    return pd.DataFrame([network_measures(r, null_draws) for r in runs])


# ---------------------------------------------------------------------------------------------
# Readings of each row (primary first)

def line_readings(delta: float = DELTA) -> tuple[Reading, list[Reading]]:
    primary = Reading("primary", "kappa_line_mean", delta)
    alts = [primary.but("aggregation: median", column="kappa_line_median")]
    alts += [primary.but(f"chance multiple: {m:g}×", delta=delta_for(m)) for m in CHANCE_MULTIPLES]
    alts += [primary.but("gate: accuracy only", gate=ACCURACY_ONLY_GATE)]
    return primary, alts


def steps_readings(delta: float = DELTA) -> tuple[Reading, list[Reading]]:
    primary = Reading("primary", "kappa_steps_mean", delta)
    alts = [primary.but("aggregation: median", column="kappa_steps_median"),
            primary.but("scope: all steps, mean profile", column="kappa_steps_profile_all"),
            primary.but("scope: later half, mean profile", column="kappa_steps_profile_late")]
    alts += [primary.but(f"chance multiple: {m:g}×", delta=delta_for(m)) for m in CHANCE_MULTIPLES]
    alts += [primary.but("gate: accuracy only", gate=ACCURACY_ONLY_GATE)]
    return primary, alts


def dataset_rows(table: pd.DataFrame, dataset: str, delta: float = DELTA) -> tuple[list[dict], dict]:
    """The two verdict rows of one dataset (line, equal steps) and their robustness lines."""
    t = table[table.dataset == dataset]
    ident = t[t.skip == "identity"]
    has_control = (t.skip == "none").any()
    out, details = [], {}

    primary, alts = line_readings(delta)
    effect, gate, verdicts, det = read_row(t, "κ_line = 1 − (1 − lin)/(1 − lin₀), identity", primary, alts)
    secondary = {"lin (mean over inputs)": secondary_mean(t, "lin_mean"),
                 "lin₀ (random directions)": secondary_mean(t, "lin0_mean")}
    if has_control:
        secondary["κ_line, no-skip control"] = secondary_mean(t, "kappa_line_mean", "none")
        secondary["lin, no-skip control"] = secondary_mean(t, "lin_mean", "none")
    label = f"{dataset}: line"
    out.append(records.row(label, effect, gate, seeds=len(ident), test_acc=ident.test_acc.mean(),
                           robustness=verdicts, secondary=secondary, scope="all blocks, per input",
                           caveat=caveat(gate, effect, det, "lin₀ uses each network's mean step-length profile "
                                         "(per-input step lengths are not stored)", SHARED_NETWORKS)))
    details[label] = det

    primary, alts = steps_readings(delta)
    effect, gate, verdicts, det = read_row(t, "κ_steps = 1 − cv/cv₀, identity", primary, alts)
    late = ident.cv_profile_late
    secondary = {"cv (mean over inputs)": secondary_mean(t, "cv_mean"),
                 "cv, later-half mean profile": secondary_mean(t, "cv_profile_late"),
                 "first step / mean step": secondary_mean(t, "first_step_share")}
    if has_control:
        secondary["κ_steps, no-skip control"] = secondary_mean(t, "kappa_steps_mean", "none")
    label = f"{dataset}: equal steps"
    out.append(records.row(label, effect, gate, seeds=len(ident), test_acc=ident.test_acc.mean(),
                           robustness=verdicts, secondary=secondary, scope="all steps, per input",
                           caveat=caveat(gate, effect, det, f"CV of the mean step-length profile {span(ident.cv_profile_all)} "
                                         f"over all steps, {span(late, '.3f')} over the later half", SHARED_NETWORKS)))
    details[label] = det
    return out, details


# ---------------------------------------------------------------------------------------------
# The page

def page(profile: str = "smoke", datasets=("fashionmnist",), skips=("identity", "none"),
         identity_only_datasets=("mnist",), seeds=(0, 1), depth: int = 8, width: int = 32, epochs: int = 3,
         batch_size: int = 128, lr: float = 0.1, weight_decay: float = 0.01, n_train: int = 2000,
         n_samples: int = 200, null_draws: int = 2000) -> page_mod.PageResult:
    """Runs (cached, else computed) → per-network table → two rows per dataset → filed verdicts."""
    options = dict(depth=depth, width=width, epochs=epochs, batch_size=batch_size, lr=lr,
                   weight_decay=weight_decay, n_train=n_train, n_samples=n_samples)
    runs = ra.trajectory_runs(list(datasets), list(skips), list(seeds), **options)
    if identity_only_datasets:
        runs += ra.trajectory_runs(list(identity_only_datasets), ["identity"], list(seeds), **options)
    table = network_table(runs, null_draws)
    all_datasets = list(dict.fromkeys(list(datasets) + list(identity_only_datasets)))
    rows, details = [], {}
    for ds in all_datasets:
        if ((table.dataset == ds) & (table.skip == "identity")).any():
            r, d = dataset_rows(table, ds)
            rows += r
            details.update(d)
    stamp = records.provenance_stamp(runs)
    records.record_verdict(CLAIM, profile, rows, notebook=NOTEBOOK, computed_from=stamp)
    return page_mod.PageResult(CLAIM, rows, table, runs={"trajectory": runs},
                               robustness=robustness_frame(details), values=prose_values(table, rows),
                               stamp=stamp, extra={"datasets": all_datasets})


def prose_values(table: pd.DataFrame, rows: list[dict]) -> dict:
    """Numbers the page's prose quotes (glued as ``ra1_line_<name>``)."""
    ident, none = table[table.skip == "identity"], table[table.skip == "none"]
    v = {"networks": len(table), "delta": DELTA,
         "lin_identity": span(ident.lin_mean, ".3f"), "lin_none": span(none.lin_mean, ".2f"),
         "lin0_identity": span(ident.lin0_mean, ".2f"), "lin0_none": span(none.lin0_mean, ".2f"),
         "kappa_line_identity": span(ident.kappa_line_mean, ".3f"),
         "kappa_line_none": span(none.kappa_line_mean, ".2f"),
         "cv_identity": span(ident.cv_mean, ".2f"), "cv_none": span(none.cv_mean, ".2f"),
         "cv0": span(table.cv0, ".2f"),
         "cv_late_identity": span(ident.cv_profile_late, ".3f"),
         "first_step_identity": span(ident.first_step_share, ".2f"),
         "terminal_steps_identity": span(ident.terminal_steps, ",.0f"),
         "gate_steps": f"{protocol.RA_GATE.min_terminal_steps:,}",
         "train_acc_none": span(none.train_acc, ".2f")}
    v["verdict_list"] = verdict_list(rows)
    for r in rows:
        key = r["dataset"].replace(": ", "_").replace(" ", "_")
        v[f"verdict_{key}"] = r["verdict"]
        v[f"stability_{key}"] = r["stability"]
        p = r["primary"]
        v[f"effect_{key}"] = page_mod.effect_text(p, ".3f")
    return v
