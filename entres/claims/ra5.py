"""RA-5 (book/ra5_no_skip): Residual Alignment disappears when skip connections are removed.

One row per dataset, one primary test: the **across-depth overlap** of the blocks' top-C singular subspaces
(U and V averaged, in multiples of chance C/d), identity − no-skip (Welch over networks), δ = 1× chance.
Why this one: "Residual Alignment" names the alignment of the blocks' Jacobians along one shared subspace;
the straight, evenly stepped trajectory (RA-1) is what such blocks produce, and a rank bound (RA-3, ≤ C)
cannot show that RA is lost, since a network that collapses also has low rank. The other measures are
shown (secondary), not voted. The gate applies to BOTH families: a comparison with networks that never
reached the terminal phase is "not in regime", whatever its numbers, and the numbers are reported.
"""
from __future__ import annotations

import pandas as pd

from ..experiments import ra
from . import page as page_mod
from . import protocol, records, ra1, ra2
from .ra_common import (ACCURACY_ONLY_GATE, SHARED_NETWORKS, Reading, caveat, read_row, robustness_frame, span, verdict_list)

CLAIM = "RA-5"
NOTEBOOK = "ra5_no_skip"
FAMILIES = ("identity", "none")
DELTA = 1.0                       # one × chance (C/d) between the families
DELTA_ALTERNATIVES = (0.5, 3.0)
# Measures shown beside the primary: identity − none, per network means (not voted).
SECONDARY = {"within-block alignment ÷ chance (RA-2)": "within_x_all_mean",
             "κ_line (RA-1)": "kappa_line_mean", "κ_steps (RA-1)": "kappa_steps_mean",
             "top-C energy (RA-3)": "energy_top_c", "numerical rank (RA-3)": "rank",
             "test accuracy": "test_acc"}


def network_table(jac_runs: list[dict], traj_runs: list[dict], null_draws: int = 2000) -> pd.DataFrame:
    """One row per network: the Jacobian measures (RA-2/3) and the trajectory measures (RA-1) merged."""
    keys = ["dataset", "skip", "depth", "width", "seed"]
    jac = ra2.network_table(jac_runs)
    traj = ra1.network_table(traj_runs, null_draws)[keys + ["lin_mean", "cv_mean", "kappa_line_mean",
                                                            "kappa_steps_mean"]]
    return jac.merge(traj, on=keys, how="left")


def readings(delta: float = DELTA) -> tuple[Reading, list[Reading]]:
    primary = Reading("primary", "overlap_x_all_mean", delta, FAMILIES)
    alts = [primary.but("aggregation: median", column="overlap_x_all_median"),
            primary.but("scope: later half", column="overlap_x_late_mean"),
            primary.but("side: U only", column="overlap_u_x_all_mean"),
            primary.but("side: V only", column="overlap_v_x_all_mean")]
    alts += [primary.but(f"δ = {k:g}× chance", delta=k) for k in DELTA_ALTERNATIVES]
    alts += [primary.but("gate: accuracy only", gate=ACCURACY_ONLY_GATE)]
    return primary, alts


def difference(table: pd.DataFrame, column: str) -> tuple[float, float, float]:
    e = protocol.difference_effect(column, table.loc[table.skip == "identity", column],
                                   table.loc[table.skip == "none", column])
    return (e.estimate, e.lo, e.hi)


def dataset_row(table: pd.DataFrame, dataset: str):
    t = table[table.dataset == dataset]
    primary, alts = readings()
    effect, gate, verdicts, det = read_row(t, "across-depth overlap ÷ (C/d), identity − none", primary, alts)
    secondary = {f"{name}, identity − none": difference(t, col) for name, col in SECONDARY.items()}
    none_x = protocol.mean_effect("none", t.loc[t.skip == "none", "overlap_x_all_mean"])
    secondary["no-skip overlap ÷ (C/d)"] = (none_x.estimate, none_x.lo, none_x.hi)
    ident = t[t.skip == "identity"]
    row = records.row(dataset, effect, gate, seeds=min(len(ident), int((t.skip == "none").sum())),
                      test_acc=ident.test_acc.mean(), robustness=verdicts, secondary=secondary,
                      scope="all block pairs l ≠ m",
                      caveat=caveat(gate, effect, det, f"no-skip networks reach train accuracy "
                                    f"{span(t.loc[t.skip == 'none', 'train_acc'])} only", SHARED_NETWORKS))
    return row, det


def page(profile: str = "smoke", datasets=("fashionmnist",), seeds=(0, 1), depth: int = 6, width: int = 32,
         epochs: int = 3, batch_size: int = 128, lr: float = 0.1, weight_decay: float = 0.01, n_train: int = 2000,
         n_samples: int = 100, n_traj_samples: int = 200, null_draws: int = 2000) -> page_mod.PageResult:
    options = dict(depth=depth, width=width, epochs=epochs, batch_size=batch_size, lr=lr,
                   weight_decay=weight_decay, n_train=n_train)
    traj_runs = ra.trajectory_runs(list(datasets), list(FAMILIES), list(seeds), n_samples=n_traj_samples, **options)
    jac_runs = ra.jacobian_runs(list(datasets), list(FAMILIES), list(seeds), n_samples=n_samples, **options)
    table = network_table(jac_runs, traj_runs, null_draws)
    rows, details = [], {}
    for ds in datasets:
        row, det = dataset_row(table, ds)
        rows.append(row)
        details[ds] = det
    stamp = records.provenance_stamp(jac_runs + traj_runs)
    records.record_verdict(CLAIM, profile, rows, notebook=NOTEBOOK, computed_from=stamp)
    return page_mod.PageResult(CLAIM, rows, table, runs={"jacobian": jac_runs, "trajectory": traj_runs},
                               robustness=robustness_frame(details), values=prose_values(table, rows),
                               stamp=stamp, extra={"secondary": secondary_table(rows)})


def secondary_table(rows: list[dict]) -> pd.DataFrame:
    """Every row's secondary measures (identity − none, Welch 95% CI): shown, not voted."""
    return pd.DataFrame([{"dataset": r["dataset"], "measure": name, "estimate": est[0], "lo": est[1], "hi": est[2]}
                         for r in rows for name, est in r["secondary"].items()])


def prose_values(table: pd.DataFrame, rows: list[dict]) -> dict:
    ident, none = table[table.skip == "identity"], table[table.skip == "none"]
    v = {"networks": len(table), "delta": f"{DELTA:g}",
         "overlap_x_identity": span(ident.overlap_x_all_mean, ".1f"), "overlap_x_none": span(none.overlap_x_all_mean, ".2f"),
         "within_x_none": span(none.within_x_all_mean, ".2f"), "within_x_identity": span(ident.within_x_all_mean, ".1f"),
         "train_acc_none": span(none.train_acc, ".2f"), "train_acc_identity": span(ident.train_acc, ".4f"),
         "rank_none": span(none["rank"], ".1f"), "rank_identity": span(ident["rank"], ".1f"),
         "energy_none": span(none.energy_top_c, ".3f"), "energy_identity": span(ident.energy_top_c, ".3f"),
         "kappa_line_none": span(none.kappa_line_mean, ".2f"), "kappa_line_identity": span(ident.kappa_line_mean, ".3f"),
         "chance_overlap": span(table.chance_overlap, ".3f")}
    verdicts = sorted({r["verdict"] for r in rows})
    v["verdicts"] = verdicts[0] + " on every dataset" if len(verdicts) == 1 else \
        ", ".join(f"{r['verdict']} on {r['dataset']}" for r in rows)
    v["verdict_list"] = verdict_list(rows)
    ungated = {records.recomputed_verdict({**r, "gate": {**r["gate"], "passed": True}}) for r in rows}
    v["ungated"] = " / ".join(sorted(ungated))
    for r in rows:
        p = r["primary"]
        v[f"effect_{r['dataset']}"] = page_mod.effect_text(p, ".2f")
    return v
