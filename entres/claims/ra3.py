"""RA-3: residual Jacobians of fully-connected ResNets have rank at most C (protocol v2).

Per network, the numerical rank #{σ_i > ε σ₁} of J_l (ε = 1e-2) is averaged over test inputs per block, then
aggregated (``aggregation``: mean, or median of the per-block medians) over the blocks in ``scope`` (all, or
the later half). Rows:

* **one per dataset** (identity skip): "rank at most C" read as ≤ C. The rank is an integer per input, so
  the first value that breaks the bound is C + 1: the primary effect is the per-network rank, one-sample t
  over networks, read against the null C + 1 with direction −1 (supported: the CI lies below C + 1, so
  the rank is at most C; contradicted: above). No δ band: the bound is one integer, and one direction more
  already breaks it.
* **the class-count sweep** (CIFAR-10 restricted to K classes, at equal SGD steps when ``class_sweep_epochs``
  says so): "rank tracks K" read as the slope of rank against K fitted on per-K means
  (:func:`protocol.level_fit`, linear, lack of fit reported), against 0 with δ = 0.5 (half of the slope
  1 that rank = K + const would give).

The gate (:data:`protocol.RA_GATE`) covers every network of a row. Robustness: scope, aggregation, the
accuracy-only gate, and ε ∈ {1e-3, 5e-2} for the datasets whose ``ra_spectrum`` results exist
(``spectrum_datasets``: per-sample rank distributions at three ε, measured on the same networks).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import page as page_mod
from . import protocol, ra_common, ra4, records

CLAIM = "RA-3"
NOTEBOOK = "ra3_rank"
DELTA_SLOPE = 0.5
EPS_PRIMARY = "1e-2"
EPS_ALTERNATIVES = ("1e-3", "5e-2")
SCOPES = ("all", "later half")


def block_ranks(record: dict, how: str = "mean", eps: str = EPS_PRIMARY) -> np.ndarray:
    """Per-block rank of a network: the mean (or median) over inputs, at ε (ra_spectrum records hold all
    three ε; ra_jacobian ones only ε = 1e-2)."""
    if record.get("experiment") == "ra_spectrum":
        from ..experiments import spectra

        column = f"rank_{eps}_{'mean' if how == 'mean' else 'q50'}"
        return spectra.block_table(record)[column].to_numpy(dtype=float)
    if eps != EPS_PRIMARY:
        raise ValueError(f"ra_jacobian records hold the rank at ε = {EPS_PRIMARY} only, not {eps}")
    return np.array([b["rank" if how == "mean" else "rank_median"] for b in record["arrays"]["blocks"]], dtype=float)


def network_row(record: dict, scope: str = "all", how: str = "mean", eps: str = EPS_PRIMARY) -> dict:
    """One network: identity, regime, rank over the blocks in scope, rank − C, blocks at ≤ C, top-C energy."""
    c = record["config"]
    m = record["metrics"]
    ranks = block_ranks(record, how, eps)
    k = int(m["num_classes"])
    rank = ra_common.block_stat(ranks, scope, how)
    row = {"dataset": c["dataset"], "skip": c["skip"], "seed": c["seed"], "epochs": c["epochs"], "C": k,
           **ra6_regime(record), "rank": rank, "rank_minus_c": rank - k,
           "blocks_at_most_c": int((ranks[ra_common.scope_indices(len(ranks), scope)] <= k).sum()),
           "blocks": len(ra_common.scope_indices(len(ranks), scope)),
           "energy_top_c": float(m["energy_top_c_mean"])}
    if record.get("experiment") == "ra_spectrum":
        row["share_at_most_c"] = float(m[f"rank_{eps}_le_c_mean"])
    return row


def ra6_regime(record: dict) -> dict:
    from . import ra6

    return ra6.regime(record)


def network_table(runs: list[dict], scope: str = "all", how: str = "mean", eps: str = EPS_PRIMARY) -> pd.DataFrame:
    return pd.DataFrame([network_row(r, scope, how, eps) for r in runs])


# ---------------------------------------------------------------------------------------------
# "rank at most C", per dataset

def bound_effect(table: pd.DataFrame) -> protocol.Effect:
    """Per-network rank against the null C + 1 (direction −1: the claim is rank ≤ C)."""
    c = int(table["C"].iloc[0])
    return protocol.mean_effect("numerical rank of J_l (ε = 1e-2), mean over inputs and blocks", table["rank"],
                                -1, c + 1.0, None)


def dataset_row(dataset: str, runs: list[dict], spectrum: list[dict], scope: str, how: str) -> tuple[dict, dict]:
    """The verdict row of one dataset (identity networks) and the tables/effects behind it."""
    mine = [r for r in runs if r["config"]["dataset"] == dataset and r["config"]["skip"] == "identity"]
    table = network_table(mine, scope, how)
    gate = protocol.RA_GATE.check(table)
    primary = bound_effect(table)
    alts = {f"scope: {s}": (network_table(mine, s, how), protocol.RA_GATE) for s in SCOPES if s != scope}
    alts.update({f"aggregation: {a}": (network_table(mine, scope, a), protocol.RA_GATE)
                 for a in ("mean", "median") if a != how})
    alts["gate: train accuracy only"] = (table, ra_common.ACCURACY_ONLY_GATE)
    spec = [r for r in spectrum if r["config"]["dataset"] == dataset and r["config"]["skip"] == "identity"]
    if spec:
        for eps in EPS_ALTERNATIVES:
            alts[f"ε = {eps}"] = (network_table(spec, scope, how, eps), protocol.RA_GATE)
    effects = {label: bound_effect(t) for label, (t, _) in alts.items()}
    verdicts = {label: effects[label].verdict(g.check(t)["passed"]) for label, (t, g) in alts.items()}
    details = [{}] + [{"setting": k, "if in regime": e.verdict(True)} for k, e in effects.items()]
    blocks = f"{int(table['blocks_at_most_c'].sum())} of {int(table['blocks'].sum())} blocks (all networks) at rank ≤ C"
    secondary = {"top-C energy": ra_common.secondary_mean(table, "energy_top_c"),
                 "rank − C": ra_common.secondary_mean(table, "rank_minus_c")}
    if spec:
        secondary["share of inputs at rank ≤ C (ra_spectrum)"] = ra_common.secondary_mean(network_table(spec, scope, how),
                                                                                           "share_at_most_c")
    row = records.row(dataset, primary, gate, seeds=len(table), test_acc=float(table["test_acc"].mean()),
                      robustness=verdicts, caveat=ra_common.caveat(gate, primary, details, blocks),
                      secondary=secondary, scope=f"blocks: {scope}; {how} over inputs and blocks; ε = 1e-2")
    return row, {"table": table, "effects": {"primary": primary, **effects}}


# ---------------------------------------------------------------------------------------------
# The class-count sweep: rank against K on per-K means

def sweep_effect(table: pd.DataFrame, delta: float = DELTA_SLOPE) -> tuple[protocol.Effect, dict]:
    fit = protocol.level_fit(table["C"], table["rank"], "linear") if table["C"].nunique() >= 3 else None
    if fit is None:
        return protocol.Effect("slope of rank against K (per-K means)", math.nan, math.nan, math.nan, +1, 0.0, delta,
                               "least squares on per-K means", table["C"].nunique()), {}
    return protocol.Effect("slope of rank against K (per-K means)", fit["slope"], fit["slope_lo"], fit["slope_hi"],
                           +1, 0.0, delta, f"least squares on {fit['levels']} per-K means, t CI", fit["levels"]), fit


def sweep_row(runs: list[dict], label: str, delta: float = DELTA_SLOPE) -> tuple[dict, dict]:
    table = network_table(runs)
    gate = protocol.RA_GATE.check(table)
    primary, fit = sweep_effect(table, delta)
    alts = {"aggregation: median": (network_table(runs, "all", "median"), protocol.RA_GATE),
            "scope: later half": (network_table(runs, "later half"), protocol.RA_GATE),
            "gate: train accuracy only": (table, ra_common.ACCURACY_ONLY_GATE)}
    effects = {k: sweep_effect(t, delta)[0] for k, (t, _) in alts.items()}
    verdicts = {k: effects[k].verdict(g.check(t)["passed"]) for k, (t, g) in alts.items()}
    details = [{}] + [{"setting": k, "if in regime": e.verdict(True)} for k, e in effects.items()]
    lof = fit.get("lack_of_fit", {})
    steps = table.groupby("C")["sgd_steps"].min()
    note = ("SGD steps per K: " + ", ".join(f"K = {k}: {s:,}" for k, s in steps.items())
            + (f"; lack of fit F = {lof['F']:.1f} (p = {lof['p']:.2g})" if lof and math.isfinite(lof["F"]) else ""))
    row = records.row(label, primary, gate, seeds=int(table.groupby("C").size().min()),
                      test_acc=float(table["test_acc"].mean()), robustness=verdicts,
                      caveat=ra_common.caveat(gate, primary, details, note),
                      secondary={"r² of the per-K means": (fit.get("r2", math.nan), None, None)},
                      scope="all blocks; mean over inputs and blocks; ε = 1e-2")
    return row, {"table": table, "fit": fit, "effects": {"primary": primary, **effects}}


# ---------------------------------------------------------------------------------------------
# The page

def page(profile: str, datasets: list[str], skips: list[str], seeds: list[int], depth: int, width: int, epochs: int,
         batch_size: int, lr: float, weight_decay: float, n_train: int, n_samples: int, class_sweep: list[str],
         class_sweep_seeds: list[int], class_sweep_epochs: dict[str, int] | list[int] | None = None,
         identity_only_datasets: list[str] = (), spectrum_datasets: list[str] = (), scope: str = "all",
         aggregation: str = "mean") -> page_mod.PageResult:
    """Get the runs (cached, else computed), decide and file the RA-3 rows."""
    from ..experiments import ra, spectra

    options = dict(depth=depth, width=width, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                   n_train=n_train, n_samples=n_samples)
    runs = ra.jacobian_runs(datasets, skips, seeds, epochs=epochs, **options)
    if identity_only_datasets:
        runs += ra.jacobian_runs(list(identity_only_datasets), ["identity"], seeds, epochs=epochs, **options)
    spectrum = spectra.spectrum_runs(list(spectrum_datasets), ["identity"], seeds, epochs=epochs, **options) \
        if spectrum_datasets else []
    sweep_epochs = _sweep_epochs(class_sweep, class_sweep_epochs, epochs)
    sweep_runs = [r for name, e in zip(class_sweep, sweep_epochs)
                  for r in ra.jacobian_runs([name], ["identity"], class_sweep_seeds, epochs=e, **options)]
    rows, shown = [], {}
    for dataset in list(datasets) + list(identity_only_datasets):
        row, shown[dataset] = dataset_row(dataset, runs, spectrum, scope, aggregation)
        rows.append(row)
    label = f"class-count sweep (epochs {', '.join(map(str, sweep_epochs))})"
    srow, shown["sweep"] = sweep_row(sweep_runs, label)
    rows.append(srow)
    all_records = runs + spectrum + sweep_runs
    stamp = records.provenance_stamp(all_records)
    records.record_verdict(CLAIM, profile, rows, notebook=NOTEBOOK, computed_from=stamp)
    networks = network_table(runs, scope, aggregation)
    return page_mod.PageResult(
        CLAIM, rows, networks, runs={"jacobian": runs, "spectrum": spectrum, "sweep": sweep_runs},
        robustness=pd.DataFrame([{"row": r["dataset"], "verdict": r["verdict"], **r["robustness"]} for r in rows]),
        values=_values(rows, shown, list(datasets) + list(identity_only_datasets)), stamp=stamp,
        extra={"per_block": per_block_table(runs), "sweep": sweep_table(shown["sweep"]["table"]),
               "sweep_fit": shown["sweep"]["fit"], "epsilon": epsilon_table(spectrum),
               "effects": effects_table(shown)})


def _sweep_epochs(class_sweep: list[str], given, epochs: int) -> list[int]:
    """Epochs per class-sweep dataset: a mapping name -> epochs (missing names get ``epochs``), a list
    aligned with ``class_sweep``, or None (``epochs`` for all)."""
    if given is None:
        return [epochs] * len(class_sweep)
    if isinstance(given, dict):
        unknown = set(given) - set(class_sweep)
        if unknown:
            raise ValueError(f"class_sweep_epochs names {sorted(unknown)}, not in class_sweep {class_sweep}")
        return [int(given.get(name, epochs)) for name in class_sweep]
    if len(given) != len(class_sweep):
        raise ValueError(f"class_sweep_epochs needs one entry per class_sweep dataset, got {given} for {class_sweep}")
    return [int(e) for e in given]


def per_block_table(runs: list[dict]) -> pd.DataFrame:
    """Per dataset, skip and block: the rank (mean over inputs) averaged over seeds, and C."""
    out = []
    for r in runs:
        for i, b in enumerate(r["arrays"]["blocks"], start=1):
            out.append({"dataset": r["config"]["dataset"], "skip": r["config"]["skip"], "seed": r["config"]["seed"],
                        "block": i, "rank": b["rank"], "rank_median": b["rank_median"], "C": r["metrics"]["num_classes"]})
    return pd.DataFrame(out)


def sweep_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per K: networks, epochs, SGD steps (fewest held at the bar), lowest train accuracy, rank, rank − K."""
    return table.groupby("C").agg(networks=("seed", "size"), epochs=("epochs", "first"), sgd_steps=("sgd_steps", "min"),
                                  min_terminal_steps=("terminal_steps", "min"), min_train_acc=("train_acc", "min"),
                                  test_acc=("test_acc", "mean"), rank=("rank", "mean"),
                                  rank_minus_k=("rank_minus_c", "mean")).reset_index().rename(columns={"C": "K"})


def epsilon_table(spectrum: list[dict]) -> pd.DataFrame:
    """Per ra_spectrum network: rank (mean over inputs and blocks) and share of inputs at rank ≤ C at each ε,
    and the gap σ_{C+1}/σ₁ (median over inputs, mean over blocks) that the threshold cuts."""
    from ..experiments import spectra

    out = []
    for r in spectrum:
        t = spectra.block_table(r)
        row = {"dataset": r["config"]["dataset"], "seed": r["config"]["seed"], "C": r["metrics"]["num_classes"]}
        for eps in ("1e-3", "1e-2", "5e-2"):
            row[f"rank ε={eps}"] = float(t[f"rank_{eps}_mean"].mean())
            row[f"≤ C ε={eps}"] = float(t[f"rank_{eps}_le_c"].mean())
        row["σ_(C+1)/σ₁"] = float(t["gap_q50"].mean())
        out.append(row)
    return pd.DataFrame(out)


def effects_table(shown: dict) -> pd.DataFrame:
    """Every row's effect under the primary setting and each alternative (the gate set aside)."""
    out = []
    for row, s in shown.items():
        for label, e in s["effects"].items():
            out.append({"row": row, "setting": label, "estimate": e.estimate, "CI": f"[{e.lo:.2f}, {e.hi:.2f}]",
                        "null": e.null, "verdict (gate aside)": e.verdict()})
    return pd.DataFrame(out)


def _values(rows: list[dict], shown: dict, datasets: list[str]) -> dict:
    values = {}
    for r, key in zip(rows, datasets + ["sweep"]):
        p = r["primary"]
        values[f"verdict_{key}"] = r["verdict"]
        values[f"estimate_{key}"] = page_mod.effect_text(p, ".2f", ci=False)
        values[f"ci_{key}"] = f"[{p['lo']:.2f}, {p['hi']:.2f}]" if p["lo"] is not None else "n/a"
        values[f"stability_{key}"] = r["stability"]
        values[f"min_terminal_steps_{key}"] = f"{r['gate']['min_terminal_steps']:,}"
    for d in datasets:
        t = shown[d]["table"]
        values[f"blocks_at_most_c_{d}"] = f"{int(t['blocks_at_most_c'].sum())} of {int(t['blocks'].sum())}"
        late = shown[d]["effects"].get("scope: later half")
        if late is not None:
            values[f"later_half_{d}"] = f"{late.estimate:.2f} [{late.lo:.2f}, {late.hi:.2f}]"
    fit = shown["sweep"]["fit"]
    if fit:
        values["sweep_lof_F"] = f"{fit['lack_of_fit']['F']:.1f}"
        values["sweep_r2"] = f"{fit['r2']:.3f}"
    return values
