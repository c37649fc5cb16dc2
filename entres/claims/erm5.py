"""ERM-5: entangled skip mappings can preserve iterative feature refinement (protocol v2).

Per block l of a trained ResNet (``entres.refinement``): the relative update ‖F_l(h)‖/‖h‖, the cosine of F_l with
−∂L/∂(E h + F_l), the test accuracy with block l's branch removed, and a linear probe on block l's output.

* **Rows**: one per entangled family (every family but the reference ones). "Preserves refinement" is an
  equivalence: the family's refinement equals the reference's within δ (``protocol.decide``, direction 0).
* **Primary test**: the later blocks' *drop cost* (sample accuracy − accuracy with the block dropped, aggregated
  over the blocks in ``scope``), family − reference (Welch t over networks). It is the functional signature of
  refinement (a block that only refines can be removed at little cost), it is in test-accuracy points so the ERM
  pages' δ carries over, and the relabelling test proves it coordinate-free (:mod:`entres.relabel`), so it may be
  compared across skip families as it stands. The update norms, the cosine and the probes are shown, not voted.
* **Reference and null**: the identity and permutation networks pooled; a permutation network is an exact
  relabelling of an identity network (:func:`entres.relabel.relabelled_copy`), so for every coordinate-free
  measure both are draws from one distribution; permutation − identity is shown as the noise floor.
* **δ** = :data:`DELTA`, 0.5 percentage points of test accuracy (the ERM pages' smallest effect a practitioner
  acts on); halved and doubled in the robustness grid.
* **Regime**: :data:`protocol.ERM_GATE` (train accuracy ≥ 0.99) on every network compared, family and reference,
  and the identity baseline ≥ :data:`MIN_IDENTITY_ACC` test accuracy (SPEC §8), as on the CNN page whose networks
  these are.

``results_version`` selects the ``erm_refinement`` results: the current version (computed if missing), or 1, the
committed results made before the coordinate fix. Version 1's gradient cosine compared F_l with a gradient in other
coordinates (and for E = I with a different gradient), so with ``results_version=1`` the cosine is dropped
everywhere and only the measures the relabelling test proves coordinate-free are used.
"""
from __future__ import annotations

import math
import numpy as np
import pandas as pd

from .. import results, stats
from . import page as page_mod
from . import protocol, records

CLAIM = "ERM-5"
NOTEBOOK = "erm5_refinement"
DELTA = 0.005
MIN_IDENTITY_ACC = 0.85
REFERENCE = ("identity", "permutation")
LATE_HALF, WITHIN_STAGES, ALL = "later half", "within stages", "all blocks"
SCOPES = (LATE_HALF, WITHIN_STAGES, ALL)
COORDINATE_FREE = ("relative_update", "drop_accuracy", "probe_accuracy")  # entres.relabel.invariance_table


# ---------------------------------------------------------------------------------------------
# Runs

def configs(dataset, skips, seeds, seeds_per_skip, depth, width, epochs, batch_size, lr, weight_decay, n_train,
            n_samples, n_probe_train, n_probe_test) -> list[dict]:
    return [dict(dataset=dataset, skip=s, seed=seed, depth=depth, width=width, epochs=epochs, batch_size=batch_size,
                 lr=lr, weight_decay=weight_decay, n_train=n_train, n_samples=n_samples,
                 n_probe_train=n_probe_train, n_probe_test=n_probe_test)
            for s in skips for seed in (seeds_per_skip or {}).get(s, seeds)]


def get_runs(configs_: list[dict], results_version: int | None = None) -> list[dict]:
    """``erm_refinement`` records: of the current version through the sweep (cached, else computed), or of an
    older ``results_version`` read from the cache as they are (never computed: the old code is gone)."""
    from .. import experiments
    from ..sweep import run_sweep

    exp = experiments.get("erm_refinement")
    if results_version in (None, exp.version):
        return run_sweep("erm_refinement", configs_)
    found = []
    for cfg in configs_:
        full = exp.full_config(cfg)
        record = results.load("erm_refinement", results_version, full)
        if record is None:
            raise results.MissingResultError(
                f"no erm_refinement v{results_version} result for {full} under {results.results_root()}; "
                f"results of an old version are read, never computed")
        found.append(record)
    return found


# ---------------------------------------------------------------------------------------------
# Per network

def projection_blocks(depth: int) -> set[int]:
    """Blocks of a CIFAR ResNet of ``depth`` that change the stage (learned projection, no E)."""
    n = (depth - 2) // 6
    return {n, 2 * n}


def scope_blocks(n_blocks: int, scope: str, depth: int | None = None) -> list[int]:
    """Indices of the blocks a scope covers: the later half (blocks ⌊L/2⌋ … L−1), the blocks after the first of
    each stage (``depth`` needed), or all."""
    if scope == LATE_HALF:
        return list(range(n_blocks // 2, n_blocks))
    if scope == WITHIN_STAGES:
        firsts = {0} | projection_blocks(depth)
        return [l for l in range(n_blocks) if l not in firsts]
    if scope == ALL:
        return list(range(n_blocks))
    raise ValueError(f"unknown scope {scope!r}; valid: {', '.join(SCOPES)}")


def _aggregate(values, aggregation: str) -> float:
    v = np.asarray(values, dtype=float)
    if aggregation == "mean":
        return float(np.nanmean(v)) if np.isfinite(v).any() else math.nan
    if aggregation == "median":
        return float(np.nanmedian(v)) if np.isfinite(v).any() else math.nan
    raise ValueError(f"unknown aggregation {aggregation!r}; valid: mean, median")


def block_table(record: dict, coordinate_free_only: bool = False) -> pd.DataFrame:
    """One row per block: the four measures, and the drop cost (sample accuracy − accuracy with it dropped)."""
    blocks = pd.DataFrame(record["arrays"]["blocks"])
    blocks.insert(0, "block", np.arange(1, len(blocks) + 1))
    blocks["drop_cost"] = record["metrics"]["sample_acc"] - blocks["drop_accuracy"]
    if coordinate_free_only:
        blocks["gradient_cosine"] = math.nan
    return blocks


def network_row(record: dict, scope: str = LATE_HALF, aggregation: str = "mean",
                coordinate_free_only: bool = False) -> dict:
    """One trained network: regime, and the scope's drop cost, update contrast, cosine and probe accuracy."""
    cfg, m = record["config"], record["metrics"]
    blocks = block_table(record, coordinate_free_only)
    inside = scope_blocks(len(blocks), scope, cfg["depth"])
    outside = [l for l in range(len(blocks)) if l not in inside]
    agg = lambda col, idx: _aggregate(blocks[col].iloc[idx], aggregation)  # noqa: E731
    return {"skip": cfg["skip"], "seed": cfg["seed"], "train_acc": m["train_acc"], "test_acc": m["test_acc"],
            "drop_cost": agg("drop_cost", inside),
            "update_contrast": agg("relative_update", inside) - agg("relative_update", outside) if outside else math.nan,
            "cosine": agg("gradient_cosine", inside),
            "probe_accuracy": agg("probe_accuracy", inside)}


def network_table(runs: list[dict], scope: str = LATE_HALF, aggregation: str = "mean",
                  coordinate_free_only: bool = False) -> pd.DataFrame:
    return pd.DataFrame([network_row(r, scope, aggregation, coordinate_free_only) for r in runs])


# ---------------------------------------------------------------------------------------------
# Effects and rows

def reference_of(table: pd.DataFrame, reference: tuple[str, ...] = REFERENCE) -> pd.DataFrame:
    return table[table.skip.isin(reference)]


def reference_label(table: pd.DataFrame, reference: tuple[str, ...] = REFERENCE) -> str:
    return " ∪ ".join(s for s in reference if (table.skip == s).any())


def drop_cost_effect(table: pd.DataFrame, family: str, delta: float = DELTA,
                     reference: tuple[str, ...] = REFERENCE) -> protocol.Effect:
    """Primary: drop cost, family − reference (Welch t), read as an equivalence within ±δ."""
    return protocol.difference_effect(f"drop cost of the later blocks, {family} − {reference_label(table, reference)}",
                                      table.loc[table.skip == family, "drop_cost"],
                                      reference_of(table, reference)["drop_cost"], 0, delta)


def noise_floor(table: pd.DataFrame, measure: str = "drop_cost", delta: float = DELTA) -> protocol.Effect | None:
    """permutation − identity on ``measure`` (zero in expectation for a coordinate-free measure)."""
    if not ((table.skip == "permutation").any() and (table.skip == "identity").any()):
        return None
    return protocol.difference_effect(f"{measure}, permutation − identity (noise floor)",
                                      table.loc[table.skip == "permutation", measure],
                                      table.loc[table.skip == "identity", measure], 0, delta)


def regime(networks: pd.DataFrame, gate: protocol.Gate = protocol.ERM_GATE,
           min_identity_acc: float = MIN_IDENTITY_ACC) -> dict:
    """The gate on every network compared, and the identity baseline's mean test accuracy (both must hold)."""
    check = gate.check(networks)
    ident = networks.loc[networks.skip == "identity", "test_acc"]
    reached = bool(len(ident)) and float(ident.mean()) >= min_identity_acc
    return {**check, "passed": check["passed"] and reached, "baseline_reached": reached,
            "rule": f"{check['rule']}; identity baseline ≥ {min_identity_acc:.0%} test accuracy"}


def secondary_effects(table: pd.DataFrame, family: str, reference: tuple[str, ...] = REFERENCE) -> dict:
    """Family − reference on the measures shown beside the primary (Welch CIs; not voted)."""
    out = {}
    for col, label in (("update_contrast", "relative update, scope − rest"), ("cosine", "gradient cosine"),
                       ("probe_accuracy", "probe accuracy")):
        a, b = table.loc[table.skip == family, col], reference_of(table, reference)[col]
        if np.isfinite(a.to_numpy(dtype=float)).sum() >= 2 and np.isfinite(b.to_numpy(dtype=float)).sum() >= 2:
            d = stats.welch_diff(a.dropna(), b.dropna())
            out[f"{label}, {family} − reference"] = (d["diff"], d["lo"], d["hi"])
    return out


def alternatives(runs: list[dict], family: str, delta: float, scope: str, aggregation: str,
                 coordinate_free_only: bool, gate_of) -> list[dict]:
    """The verdict under each reasonable alternative: scope, aggregation, δ, reference = identity alone."""
    settings = [(f"scope: {s}", s, aggregation, delta, REFERENCE) for s in SCOPES if s != scope]
    settings += [(f"aggregation: {a}", scope, a, delta, REFERENCE) for a in ("mean", "median") if a != aggregation]
    settings += [(f"δ = {f * delta:g}", scope, aggregation, f * delta, REFERENCE) for f in (0.5, 2.0)]
    settings += [("reference: identity", scope, aggregation, delta, ("identity",))]
    out = []
    for label, s, a, d, ref in settings:
        table = network_table(runs, s, a, coordinate_free_only)
        compared = table[table.skip.isin((family,) + ref)]
        gate = gate_of(compared)
        effect = drop_cost_effect(table, family, d, ref)
        out.append({"family": family, "alternative": label, "estimate": effect.estimate, "lo": effect.lo,
                    "hi": effect.hi, "verdict": effect.verdict(gate["passed"]), "ungated reading": effect.verdict(True)})
    return out


def caveat(gate: dict, effect: protocol.Effect, coordinate_free_only: bool, reference_contrast: float) -> str:
    parts = []
    if not gate["passed"]:
        parts.append(f"Not in regime (lowest train accuracy {gate['min_train_acc']:.4f} < "
                     f"{protocol.ERM_GATE.min_train_acc:g}); read without the gate the drop-cost contrast is "
                     f"{effect.verdict(True)}")
    if coordinate_free_only:
        parts.append("measured with erm_refinement v1: coordinate-free measures only, the gradient cosine awaits the "
                     "v2 recompute")
    if reference_contrast > 0:
        parts.append("the reference networks' later blocks make larger updates than their earlier ones")
    text = "; ".join(parts)
    return (text[0].upper() + text[1:] + ".") if text else ""


def family_row(runs: list[dict], table: pd.DataFrame, family: str, delta: float, scope: str, aggregation: str,
               coordinate_free_only: bool, reference_contrast: float) -> tuple[dict, list[dict]]:
    compared = table[table.skip.isin((family,) + REFERENCE)]
    gate = regime(compared)
    effect = drop_cost_effect(table, family, delta)
    grid = alternatives(runs, family, delta, scope, aggregation, coordinate_free_only, regime)
    row = records.row(f"{family} (ResNet-{runs[0]['config']['depth']}, {runs[0]['config']['dataset']})", effect, gate,
                      seeds=int((table.skip == family).sum()),
                      test_acc=float(table.loc[table.skip == family, "test_acc"].mean()),
                      robustness={g["alternative"]: g["verdict"] for g in grid},
                      caveat=caveat(gate, effect, coordinate_free_only, reference_contrast),
                      secondary=secondary_effects(table, family), scope=scope)
    return row, grid


def reference_pattern(table: pd.DataFrame) -> pd.DataFrame:
    """The reference networks' own refinement measures (mean with 95% CI over networks)."""
    ref = reference_of(table)
    out = []
    for col, label in (("update_contrast", "relative update, scope − rest"), ("drop_cost", "drop cost in scope"),
                       ("cosine", "gradient cosine in scope"), ("probe_accuracy", "probe accuracy in scope")):
        ci = stats.mean_ci(ref[col].dropna()) if ref[col].notna().sum() >= 2 else None
        if ci:
            out.append({"measure": label, "mean": ci["mean"], "lo": ci["lo"], "hi": ci["hi"], "networks": ci["n"]})
    return pd.DataFrame(out, columns=["measure", "mean", "lo", "hi", "networks"])


def family_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per family: networks, lowest train accuracy, mean test accuracy and the scope's measures (means)."""
    cols = ["drop_cost", "update_contrast", "cosine", "probe_accuracy"]
    g = table.groupby("skip", sort=False)
    out = g.agg(networks=("seed", "size"), min_train_acc=("train_acc", "min"), test_acc=("test_acc", "mean"),
                **{c: (c, "mean") for c in cols}).reset_index()
    return out.dropna(axis=1, how="all")


def per_block_long(runs: list[dict], coordinate_free_only: bool = False) -> pd.DataFrame:
    """Every block of every network, long form (for the per-block figure)."""
    frames = []
    for r in runs:
        b = block_table(r, coordinate_free_only)
        b["skip"], b["seed"] = r["config"]["skip"], r["config"]["seed"]
        frames.append(b)
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# The page

def page(profile: str, dataset: str, skips: list[str], seeds: list[int], depth: int, width: int, epochs: int,
         batch_size: int, lr: float, weight_decay: float, n_train: int, n_samples: int, n_probe_train: int,
         n_probe_test: int, seeds_per_skip: dict | None = None, delta: float = DELTA, scope: str = LATE_HALF,
         aggregation: str = "mean", results_version: int | None = None) -> page_mod.PageResult:
    """Get the runs, decide and file one ERM-5 row per entangled family."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; valid: {', '.join(SCOPES)}")
    from .. import experiments

    current = experiments.get("erm_refinement").version
    version = current if not results_version else int(results_version)  # None or 0: the current version
    old = version != current
    runs = get_runs(configs(dataset, skips, seeds, seeds_per_skip, depth, width, epochs, batch_size, lr, weight_decay,
                            n_train, n_samples, n_probe_train, n_probe_test), version)
    table = network_table(runs, scope, aggregation, old)
    pattern = reference_pattern(table)
    contrast = float(pattern.set_index("measure").loc["relative update, scope − rest", "mean"]) \
        if "relative update, scope − rest" in set(pattern.measure) else math.nan
    families = [s for s in skips if s not in REFERENCE]
    rows, grid = [], []
    for family in families:
        row, alt = family_row(runs, table, family, delta, scope, aggregation, old, contrast)
        rows.append(row)
        grid += alt
    stamp = records.provenance_stamp(runs)
    records.record_verdict(CLAIM, profile, rows, notebook=NOTEBOOK, computed_from=stamp)
    floor = noise_floor(table, delta=delta)
    return page_mod.PageResult(
        CLAIM, rows, table, runs={"refinement": runs}, robustness=pd.DataFrame(grid), stamp=stamp,
        values=_values(rows, table, floor, pattern, delta, version, current, scope),
        extra={"families": family_summary(table), "reference_pattern": pattern,
               "per_block": per_block_long(runs, old), "noise_floor": floor, "results_version": version,
               "scope_start": len(runs[0]["arrays"]["blocks"]) // 2 + 1 if scope == LATE_HALF else None})


def _points(x: float) -> str:
    return f"{100 * x:+.1f}".replace("-", "−")


def _effect_text(e: protocol.Effect | dict) -> str:
    est, lo, hi = (e.estimate, e.lo, e.hi) if isinstance(e, protocol.Effect) else (e["estimate"], e["lo"], e["hi"])
    return f"{_points(est)} [{_points(lo)}, {_points(hi)}] percentage points"


def _sd_of(table: pd.DataFrame, family: str) -> float | None:
    """Pooled per-network SD of the drop cost (family and reference), for the power analysis."""
    a, b = table.loc[table.skip == family, "drop_cost"], reference_of(table)["drop_cost"]
    return math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2) if len(a) > 1 and len(b) > 1 else None


def _values(rows, table, floor, pattern, delta, version, current, scope) -> dict:
    values = {"delta_points": f"{100 * delta:g}", "results_version": str(version), "current_version": str(current),
              "scope": scope, "min_train_acc": f"{table.train_acc.min():.4f}",
              "gate": f"{protocol.ERM_GATE.min_train_acc:g}",
              "verdicts": "; ".join(f"{r['dataset'].split(' (')[0]}: {r['verdict']}" for r in rows) or "no rows"}
    for r in rows:
        fam = r["dataset"].split(" (")[0]
        values[f"drop_{fam}"] = _effect_text(r["primary"])
        values[f"ungated_{fam}"] = protocol.decide(r["primary"]["lo"], r["primary"]["hi"], 0, 0.0, r["primary"]["delta"])
        needed = protocol.seeds_needed(_sd_of(table, fam), r["primary"]["delta"], 2)
        values[f"seeds_needed_{fam}"] = str(needed) if needed else "—"
    if floor is not None:
        values["noise_floor"] = _effect_text(floor)
    p = pattern.set_index("measure")
    for key, label in (("reference_update_contrast", "relative update, scope − rest"),
                       ("reference_drop_cost", "drop cost in scope")):
        if label in p.index:
            values[key] = f"{p.loc[label, 'mean']:.3f} [{p.loc[label, 'lo']:.3f}, {p.loc[label, 'hi']:.3f}]"
    return values
