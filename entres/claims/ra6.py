"""RA-6: Residual Alignment occurs in networks that generalise (protocol v2).

The control is the same ResMLP trained on the same images with randomly permuted training labels (the
dataset suffix ``+random-labels``): it fits its training set but learns no rule. One verdict row per
dataset and training budget (batch size, epochs):

* **primary effect**: the difference true − random labels of the across-depth overlap of the top-C
  singular subspaces (RA-2; per network the mean over block pairs l ≠ m of ‖U_lᵀU_m‖²_F/C and of the same
  for V, averaged), Welch t over networks, against 0 (the null: alignment no larger with a rule to learn);
* **δ** = C/d, the overlap of random C-dimensional subspaces: a difference smaller than chance itself is
  not "RA occurs here and not there";
* **gate**: :data:`protocol.RA_GATE` on every network of BOTH label kinds;
* the other RA measures (linearity, step CV, within-block alignment, top-C energy, rank) are shown as
  differences, not voted.

Jacobian measures come from ``ra_jacobian`` or, for the budgets in ``spectrum_budgets`` (trained on a GPU
into the terminal phase), from ``ra_spectrum``; RA-1 measures from ``ra_trajectory``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import data
from . import page as page_mod
from . import protocol, ra_common, ra4, records

CLAIM = "RA-6"
NOTEBOOK = "ra6_generalisation"
PRIMARY = "overlap"
SECONDARY = {"RA-1 linearity": ("lin_mean", +1), "RA-1 step CV": ("cv_mean", -1),
             "RA-2 within-block alignment": ("within_alignment_mean", +1),
             "RA-3 top-C energy": ("energy_top_c_mean", +1), "RA-3 rank (ε = 1e-2)": ("rank_mean", -1)}


def overlap_matrices(record: dict) -> tuple[np.ndarray, np.ndarray]:
    """The L×L across-depth overlap matrices of U and V of a ra_jacobian or ra_spectrum record."""
    if record.get("experiment") == "ra_spectrum":
        from ..experiments import spectra

        return spectra.matrix(record, "overlap_u"), spectra.matrix(record, "overlap_v")
    return np.asarray(record["arrays"]["overlap_u"], dtype=float), np.asarray(record["arrays"]["overlap_v"], dtype=float)


def regime(record: dict) -> dict:
    """Train accuracy and SGD steps (in all, and held at the bar): from the history, else from a
    ra_spectrum record's metrics (it stores no history)."""
    if record.get("history"):
        return ra4.regime(record)
    m = record["metrics"]
    return {"train_acc": float(m["train_acc"]), "test_acc": float(m["test_acc"]), "sgd_steps": int(m["sgd_steps"]),
            "terminal_steps": int(m["terminal_steps_held"])}


def network_row(jac: dict, traj: dict | None, scope: str = "all", how: str = "mean") -> dict:
    """One network: labels, regime, the overlap under ``scope``/``how`` and the other RA measures."""
    c = jac["config"]
    ou, ov = overlap_matrices(jac)
    m = jac["metrics"]
    random = c["dataset"].endswith(data.RANDOM_LABELS)
    row = {"dataset": c["dataset"].removesuffix(data.RANDOM_LABELS), "labels": "random" if random else "true",
           "seed": c["seed"], "batch_size": c["batch_size"], "epochs": c["epochs"], **regime(jac),
           "overlap_u": ra_common.pair_stat(ou, scope, how), "overlap_v": ra_common.pair_stat(ov, scope, how),
           "chance_overlap": float(m["random_overlap"]),
           **{k: float(m[k]) for k in ("within_alignment_mean", "energy_top_c_mean", "rank_mean")}}
    row["overlap"] = (row["overlap_u"] + row["overlap_v"]) / 2
    row.update({k: float(traj["metrics"][k]) if traj else math.nan for k in ("lin_mean", "cv_mean")})
    return row


def network_table(jac_runs: list[dict], traj_runs: list[dict], scope: str = "all", how: str = "mean") -> pd.DataFrame:
    """One row per network, the trajectory record matched by dataset and seed."""
    traj = {(r["config"]["dataset"], r["config"]["seed"]): r for r in traj_runs}
    return pd.DataFrame([network_row(r, traj.get((r["config"]["dataset"], r["config"]["seed"])), scope, how)
                         for r in jac_runs])


# ---------------------------------------------------------------------------------------------
# Readings of one budget's table: the primary one and the robustness alternatives

def effect(table: pd.DataFrame, column: str = PRIMARY, delta: float | None = None) -> protocol.Effect:
    """true − random labels of a per-network column (Welch t), δ = chance overlap unless given."""
    if delta is None:
        delta = float(table["chance_overlap"].iloc[0])
    name = {"overlap": "across-depth overlap (U and V), true − random labels"}.get(column, f"{column}, true − random")
    return protocol.difference_effect(name, table.loc[table.labels == "true", column],
                                      table.loc[table.labels == "random", column], +1, delta)


def robustness(jac: list[dict], traj: list[dict], table: pd.DataFrame, delta: float | None) -> tuple[dict, dict]:
    """Verdict and effect under each alternative reading: U or V alone, later-half scope, median over
    pairs, and the accuracy-only gate."""
    alts = {"measure: U only": (table, "overlap_u", protocol.RA_GATE),
            "measure: V only": (table, "overlap_v", protocol.RA_GATE),
            "scope: later half": (network_table(jac, traj, "later half"), PRIMARY, protocol.RA_GATE),
            "aggregation: median": (network_table(jac, traj, "all", "median"), PRIMARY, protocol.RA_GATE),
            "gate: train accuracy only": (table, PRIMARY, ra_common.ACCURACY_ONLY_GATE)}
    verdicts, effects = {}, {}
    for label, (t, column, gate) in alts.items():
        effects[label] = effect(t, column, delta)
        verdicts[label] = effects[label].verdict(gate.check(t)["passed"])
    return verdicts, effects


def budget_row(dataset: str, budget: tuple[int, int], jac: list[dict], traj: list[dict],
               delta: float | None = None) -> tuple[dict, pd.DataFrame, dict]:
    """The verdict row of one dataset at one training budget, its network table and its secondary effects."""
    mine = [r for r in jac if r["config"]["dataset"].removesuffix(data.RANDOM_LABELS) == dataset]
    table = network_table(mine, traj)
    gate = protocol.RA_GATE.check(table)  # both label kinds, every network
    primary = effect(table, PRIMARY, delta)
    verdicts, alt_effects = robustness(mine, traj, table, delta)
    secondary = {name: effect(table, column, 0.0) for name, (column, _) in SECONDARY.items()}
    details = [{}] + [{"setting": k, "if in regime": e.verdict(True)} for k, e in alt_effects.items()]
    label = f"{dataset} (batch {budget[0]}, {budget[1]} epochs)"
    steps = int(table["sgd_steps"].min())
    row = records.row(label, primary, gate, seeds=int(table.groupby("labels").size().min()),
                      test_acc=float(table.loc[table.labels == "true", "test_acc"].mean()), robustness=verdicts,
                      caveat=ra_common.caveat(gate, primary, details,
                                              f"{steps:,} SGD steps per network; test accuracy with random labels "
                                              f"{table.loc[table.labels == 'random', 'test_acc'].mean():.3f} (chance 1/C)"),
                      secondary={k: (e.estimate, e.lo, e.hi) for k, e in secondary.items()},
                      scope="all blocks, mean over block pairs l ≠ m")
    table.insert(0, "budget", f"batch {budget[0]}, {budget[1]} epochs")
    return row, table, {"primary": primary, **secondary}


def page(profile: str, datasets: list[str], seeds: list[int], depth: int, width: int, budgets: list[list[int]],
         lr: float, weight_decay: float, n_train: int, n_samples: int, n_traj_samples: int,
         spectrum_budgets: list[list[int]] = (), delta: float | None = None) -> page_mod.PageResult:
    """Get the runs of every budget (cached, else computed), decide and file one row per dataset and budget."""
    from ..experiments import ra, spectra

    variants = [name for base in datasets for name in (base, base + data.RANDOM_LABELS)]
    spectral = {tuple(b) for b in spectrum_budgets}
    rows, tables, effects, all_records, jac_by_budget = [], [], {}, [], {}
    for batch_size, epochs in [tuple(b) for b in budgets] + sorted(spectral - {tuple(b) for b in budgets}):
        options = dict(depth=depth, width=width, epochs=epochs, batch_size=batch_size, lr=lr,
                       weight_decay=weight_decay, n_train=n_train)
        traj = ra.trajectory_runs(variants, ["identity"], seeds, n_samples=n_traj_samples, **options)
        runs = spectra.spectrum_runs if (batch_size, epochs) in spectral else ra.jacobian_runs
        jac = runs(variants, ["identity"], seeds, n_samples=n_samples, **options)
        all_records += traj + jac
        jac_by_budget[batch_size, epochs] = jac
        for dataset in datasets:
            row, table, eff = budget_row(dataset, (batch_size, epochs), jac, traj, delta)
            rows.append(row)
            tables.append(table)
            effects[row["dataset"]] = eff
    stamp = records.provenance_stamp(all_records)
    records.record_verdict(CLAIM, profile, rows, notebook=NOTEBOOK, computed_from=stamp)
    networks = pd.concat(tables, ignore_index=True)
    return page_mod.PageResult(CLAIM, rows, networks, runs={"jacobian": jac_by_budget},
                               robustness=pd.DataFrame([{"row": r["dataset"], "verdict": r["verdict"], **r["robustness"]}
                                                        for r in rows]),
                               values=_values(rows, networks), stamp=stamp,
                               extra={"measures": measures_table(effects), "budgets": budgets_table(networks)})


def measures_table(effects: dict) -> pd.DataFrame:
    """Every measure's difference true − random per row (the primary first; the rest shown, not voted)."""
    return pd.DataFrame([{"row": row, "measure": "overlap (primary)" if k == "primary" else k,
                          "true − random": e.estimate, "95% CI": f"[{e.lo:.3g}, {e.hi:.3g}]"}
                         for row, eff in effects.items() for k, e in eff.items()])


def budgets_table(networks: pd.DataFrame) -> pd.DataFrame:
    """Per budget and label kind: SGD steps, the fewest held at the bar, lowest train accuracy, mean test
    accuracy, mean overlap and rank."""
    g = networks.groupby(["dataset", "budget", "labels"], sort=False)
    return g.agg(sgd_steps=("sgd_steps", "min"), min_terminal_steps=("terminal_steps", "min"),
                 min_train_acc=("train_acc", "min"), test_acc=("test_acc", "mean"), overlap=("overlap", "mean"),
                 rank=("rank_mean", "mean")).reset_index()


def _key(label: str) -> str:
    """"fashionmnist (batch 128, 400 epochs)" -> "fashionmnist_batch128_epochs400"."""
    base, rest = label.split(" (", 1)
    b, e = rest.rstrip(")").split(", ")
    return f"{base}_batch{b.split()[1]}_epochs{e.split()[0]}"


def _values(rows: list[dict], networks: pd.DataFrame) -> dict:
    values = {}
    for r in rows:
        k, p = _key(r["dataset"]), r["primary"]
        values[f"verdict_{k}"] = r["verdict"]
        values[f"effect_{k}"] = page_mod.effect_text(p, ".3f")
        values[f"delta_{k}"] = f"{p['delta']:.3f}"
        values[f"min_terminal_steps_{k}"] = f"{r['gate']['min_terminal_steps']:,}"
        values[f"min_train_acc_{k}"] = f"{r['min_train_acc']:.4f}"
        values[f"stability_{k}"] = r["stability"]
    values["n_in_regime"] = str(sum(r["gate"]["passed"] for r in rows))
    values["n_rows"] = str(len(rows))
    values["rank_range"] = ra_common.span(networks.groupby(["budget", "labels"])["rank_mean"].mean(), ".0f")
    return values
