"""RA-7: the last layer of the networks that show Residual Alignment undergoes Neural Collapse (protocol v2).

One verdict row per dataset. The primary test is NC1's collapse: per network, the number of decades
NC1 = Tr(Σ_W Σ_B⁺)/C fell from the first stored measurement (after epoch 1) to the end of training,
``log10 NC1(epoch 1) − log10 NC1(end)``, a paired t over networks against the null 0 (no collapse beyond
where one epoch of training left the features). The smallest effect of interest is ``DELTA_DECADES``
(one decade): "collapse" is variability vanishing, and a fall by less than a factor of ten is a
reduction, not a collapse. Epoch 1 is a conservative null: one epoch already fits most training inputs,
so the fall from initialisation is larger.

NC2 (equinorm, equiangularity), NC3 (self-duality) and NC4 (nearest-class-centre agreement, against its
chance value 1/C) are shown, not voted. Every network of a row must pass :data:`protocol.RA_GATE`.
Robustness: the NC1 fall counted from the start of the terminal phase, the gate on train accuracy only,
and half the training budget.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import page as page_mod
from . import protocol, ra_common, records

CLAIM = "RA-7"
NOTEBOOK = "ra7_collapse"
# An order of magnitude: "collapse" is variability vanishing; a fall by less than ten-fold is a reduction.
DELTA_DECADES = 1.0
SECONDARY = {"NC1 at the end": "nc1_final", "NC2 equinorm (CV of class-mean norms)": "nc2_equinorm_means_final",
             "NC2 equiangularity (mean |cos + 1/(C−1)|)": "nc2_maxangle_means_final",
             "NC3 self-duality": "nc3_self_duality_final", "NC4 nearest-centre agreement": "nc4_agreement_final",
             "NC4 at epoch 1": "nc4_agreement_first"}
NC_KEYS = ("nc1", "nc2_equinorm_means", "nc2_maxangle_means", "nc3_self_duality", "nc4_agreement")
REFERENCE_TERMINAL = "reference: terminal-phase start"
GATE_ACCURACY_ONLY = "gate: train accuracy only"


# ---------------------------------------------------------------------------------------------
# Per network

def nc_points(record: dict, last_epoch: int | None = None) -> list[tuple[int, dict]]:
    """(epoch, NC measures) of every stored measurement up to ``last_epoch`` (all if None)."""
    return [(i + 1, e["nc"]) for i, e in enumerate(record["history"])
            if "nc" in e and (last_epoch is None or i + 1 <= last_epoch)]


def terminal_start(history: list[dict], bar: float = protocol.RA_GATE.min_train_acc) -> int | None:
    """The first epoch (1-based) of the streak at train accuracy ≥ ``bar`` that lasts to the end (None if the
    last epoch is below it)."""
    start = None
    for i in range(len(history) - 1, -1, -1):
        if history[i].get("train_acc", 0.0) < bar:
            break
        start = i + 1
    return start


def network_row(record: dict, budget: int | None = None, reference: str = "epoch 1") -> dict:
    """One network: regime (over the first ``budget`` epochs, all if None) and its NC measures.

    ``reference`` "epoch 1" counts NC1's fall from the first measurement; "terminal" from the first
    measurement taken in the terminal phase (NaN if none before the end).
    """
    c = record["config"]
    history = record["history"] if budget is None else record["history"][:budget]
    spe = ra_common.steps_per_epoch(c)
    points = nc_points(record, len(history))
    first, final = points[0][1], points[-1][1]
    if reference == "terminal":
        start = terminal_start(history)
        later = [nc for epoch, nc in points[:-1] if start is not None and epoch >= start]
        first = later[0] if later else {k: math.nan for k in first}
    elif reference != "epoch 1":
        raise ValueError(f"unknown reference {reference!r}; valid: 'epoch 1', 'terminal'")
    full = budget is None or budget >= len(record["history"])
    train_acc = float(record["metrics"]["train_acc"]) if full else float(history[-1]["train_acc"])
    return {"dataset": c["dataset"], "skip": c["skip"], "depth": c["depth"], "width": c["width"], "seed": c["seed"],
            "train_acc": train_acc, "test_acc": float(record["metrics"]["test_acc"]) if full else
            float(history[-1].get("test_acc", math.nan)),
            "terminal_steps": protocol.terminal_steps(history, spe, protocol.RA_GATE.min_train_acc),
            "epochs": len(history), "terminal_start": _or_nan(terminal_start(history)),
            "num_classes": _num_classes(record),
            **{f"{k}_first": float(first.get(k, math.nan)) for k in NC_KEYS},
            **{f"{k}_final": float(final[k]) for k in NC_KEYS},
            "nc1_decades": math.log10(first["nc1"] / final["nc1"]) if first["nc1"] > 0 else math.nan}


def _or_nan(x):
    return math.nan if x is None else x


def _num_classes(record: dict) -> int:
    return int(record["metrics"].get("num_classes") or record["config"].get("num_classes") or 10)


def network_table(runs: list[dict], budget: int | None = None, reference: str = "epoch 1") -> pd.DataFrame:
    return pd.DataFrame([network_row(r, budget, reference) for r in runs])


# ---------------------------------------------------------------------------------------------
# One dataset's row

def collapse_effect(table: pd.DataFrame, delta: float = DELTA_DECADES) -> protocol.Effect:
    """Paired t over networks of log10 NC1 at the reference minus log10 NC1 at the end (decades fallen)."""
    return protocol.paired_effect("decades NC1 fell (log10 NC1 at epoch 1 − at the end)",
                                  np.log10(table["nc1_first"]), np.log10(table["nc1_final"]), +1, delta)


def settings(epochs: int) -> dict[str, dict]:
    """The robustness alternatives: label -> (reference, budget, gate)."""
    half = max(1, epochs // 2)
    return {REFERENCE_TERMINAL: {"reference": "terminal"},
            GATE_ACCURACY_ONLY: {"gate": ra_common.ACCURACY_ONLY_GATE},
            f"budget: {half} epochs": {"budget": half}}


def dataset_row(runs: list[dict], dataset: str, delta: float = DELTA_DECADES,
                alternatives: dict[str, dict] | None = None) -> tuple[dict, dict]:
    """The verdict row of one dataset and what is shown beside it."""
    mine = [r for r in runs if r["config"]["dataset"] == dataset]
    table = network_table(mine)
    gate = protocol.RA_GATE.check(table)
    effect = collapse_effect(table, delta)
    robustness, details = {}, [ra_common.detail_line("primary", effect, gate)]
    for label, s in (alternatives or {}).items():
        t = network_table(mine, s.get("budget"), s.get("reference", "epoch 1"))
        e, g = collapse_effect(t, delta), s.get("gate", protocol.RA_GATE).check(t)
        robustness[label] = e.verdict(g["passed"])
        details.append(ra_common.detail_line(label, e, g))
    chance = 1 / table["num_classes"].iloc[0]
    secondary = {name: ra_common.secondary_mean(table, col, table["skip"].iloc[0]) for name, col in SECONDARY.items()}
    row = records.row(dataset, effect, gate, seeds=len(table), test_acc=float(table["test_acc"].mean()),
                      robustness=robustness, caveat=_caveat(table, gate, effect, details, chance), secondary=secondary,
                      scope=f"last-layer features of {table['depth'].iloc[0]}-block networks on training inputs")
    return row, {"table": table, "gate": gate, "effect": effect, "details": details, "chance_nc4": chance}


def _caveat(table: pd.DataFrame, gate: dict, effect: protocol.Effect, details: list[dict], chance: float) -> str:
    null = (f"the null is NC1 after one epoch, when the networks already agree with the nearest class mean on "
            f"{table['nc4_agreement_first'].mean():.0%} of inputs (chance {chance:.0%}), a conservative reference")
    return ra_common.caveat(gate, effect, details, null, ra_common.SHARED_NETWORKS)


# ---------------------------------------------------------------------------------------------
# The page

def page(profile: str, datasets: list[str], seeds: list[int], depth: int, width: int, epochs: int,
         batch_size: int, lr: float, weight_decay: float, n_train: int, n_samples: int, nc_every: int,
         delta_decades: float = DELTA_DECADES) -> page_mod.PageResult:
    """Get the collapse runs (cached, else computed), decide and file the RA-7 rows."""
    from ..experiments import ra

    runs = ra.collapse_runs(datasets, ["identity"], seeds, depth=depth, width=width, epochs=epochs,
                            batch_size=batch_size, lr=lr, weight_decay=weight_decay, n_train=n_train,
                            n_samples=n_samples, nc_every=nc_every)
    alternatives = settings(epochs)
    rows, shown = [], {}
    for dataset in datasets:
        row, shown[dataset] = dataset_row(runs, dataset, delta_decades, alternatives)
        rows.append(row)
    stamp = records.provenance_stamp(runs)
    records.record_verdict(CLAIM, profile, rows, notebook=NOTEBOOK, computed_from=stamp)
    networks = pd.concat([shown[d]["table"] for d in datasets], ignore_index=True)
    robustness = ra_common.robustness_frame({d: shown[d]["details"] for d in datasets})
    return page_mod.PageResult(CLAIM, rows, networks, runs={"collapse": runs}, robustness=robustness,
                               values=_values(rows, shown, datasets, delta_decades, epochs), stamp=stamp,
                               extra={"measures": measures_table(shown, datasets)})


def measures_table(shown: dict, datasets: list[str]) -> pd.DataFrame:
    """Per dataset and NC measure: the mean over networks after epoch 1 and at the end."""
    out = []
    for d in datasets:
        t = shown[d]["table"]
        for k in NC_KEYS:
            out.append({"dataset": d, "measure": k, "epoch 1": t[f"{k}_first"].mean(), "end": t[f"{k}_final"].mean()})
    return pd.DataFrame(out)


def _values(rows: list[dict], shown: dict, datasets: list[str], delta: float, epochs: int) -> dict:
    values = {"delta": f"{delta:g}", "min_terminal_steps_bar": f"{protocol.RA_GATE.min_terminal_steps:,}",
              "half_budget": f"{max(1, epochs // 2)}"}
    for r, d in zip(rows, datasets):
        p, t, g = r["primary"], shown[d]["table"], shown[d]["gate"]
        values.update({f"verdict_{d}": r["verdict"], f"stability_{d}": r["stability"],
                       f"decades_{d}": page_mod.effect_text(p, ".2f", ci=False),
                       f"decades_ci_{d}": "n/a" if p["lo"] is None else f"[{p['lo']:.2f}, {p['hi']:.2f}]",
                       f"if_in_regime_{d}": shown[d]["effect"].verdict(True),
                       f"min_terminal_steps_{d}": f"{g['min_terminal_steps']:,}",
                       f"failing_{d}": f"{g['failing']} of {g['networks']}",
                       f"min_train_acc_{d}": f"{g['min_train_acc']:.4f}",
                       f"nc1_first_{d}": ra_common.span(t["nc1_first"], ".3g"),
                       f"nc1_final_{d}": ra_common.span(t["nc1_final"], ".2g"),
                       f"nc4_first_{d}": ra_common.span(t["nc4_agreement_first"], ".2f"),
                       f"nc4_final_{d}": ra_common.span(t["nc4_agreement_final"], ".4f"),
                       f"nc3_final_{d}": ra_common.span(t["nc3_self_duality_final"], ".3f"),
                       f"nc2_angle_final_{d}": ra_common.span(t["nc2_maxangle_means_final"], ".3f"),
                       f"test_acc_{d}": ra_common.span(t["test_acc"], ".3f")})
        for x in shown[d]["details"][1:]:
            key = x["setting"].split(":")[0].replace(" ", "_")
            values[f"alt_{key}_{d}"] = x["verdict"]
            values[f"alt_{key}_estimate_{d}"] = f"{x['estimate']:.2f}"
    return values
