"""What the ERM accuracy claims (ERM-1..4) share under protocol v2: the permutation null, δ, the regime gate.

Principles (stated on each page before its results):

* **Reference and null.** A permutation skip E = P is an exact relabelling of the identity: with every block's
  weights permuted by the P's, the network computes P·h at every block (ReLU, BatchNorm, LayerNorm and
  attention heads all commute with a permutation of features), and the usual initialisations are invariant
  under it. Identity and permutation networks are therefore draws from one distribution of trained networks,
  and both are reference networks: an accuracy effect is ``family − reference`` with the reference the
  identity and permutation networks *pooled* (Welch t over networks). Pooling uses every reference network;
  the alternative, (family − identity) − (permutation − identity) = family − permutation, would throw the
  identity networks away. The difference permutation − identity, zero in expectation, is shown as the
  measured **noise floor**. Where no permutation network was trained (the ViT), the reference is the identity.
* **δ** = :data:`DELTA`, 0.5 percentage points of test accuracy: the smallest change a practitioner would
  switch a skip mapping for (on CIFAR-10 a new ResNet variant has to beat its baseline by about that much
  to be reported as better). Halved and doubled in the robustness grid.
* **Regime.** The claims are about the generalisation of trained networks: every network of every family
  compared must end training with train accuracy ≥ 0.99 (:data:`protocol.ERM_GATE`), and the identity
  baseline must reach the page's minimum test accuracy (SPEC §8). A row that fails is *not in regime*; its
  effect is still reported (``ungated``), with the seeds a power analysis asks for.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import protocol

DELTA = 0.005
REFERENCE = ("identity", "permutation")
SCALE_TOLERANCE = 0.05  # a spectral norm within 5% of 1 keeps the identity's scale


def accuracy_table(records: list[dict]) -> pd.DataFrame:
    """One row per trained network: task, skip, seed, density (sparse only), train/test accuracy, gap, chance."""
    rows = []
    for r in records:
        cfg, m = r["config"], r["metrics"]
        rows.append({"task": cfg["dataset"], "skip": cfg["skip"], "seed": cfg["seed"],
                     "density": (cfg.get("skip_params") or {}).get("density", math.nan),
                     "train_acc": m["train_acc"], "test_acc": m["test_acc"],
                     "gap": m["train_acc"] - m["test_acc"], "chance": m.get("chance", math.nan)})
    return pd.DataFrame(rows, columns=["task", "skip", "seed", "density", "train_acc", "test_acc", "gap", "chance"])


def reference_networks(table: pd.DataFrame, reference: tuple[str, ...] = REFERENCE) -> pd.DataFrame:
    """The reference networks: those of the ``reference`` families that the table has."""
    return table[table.skip.isin(reference)]


def reference_name(table: pd.DataFrame, reference: tuple[str, ...] = REFERENCE) -> str:
    present = [s for s in reference if (table.skip == s).any()]
    return " ∪ ".join(present) if present else "(no reference networks)"


def accuracy_effect(table: pd.DataFrame, family: str, direction: int, delta: float | None = DELTA,
                    reference: tuple[str, ...] = REFERENCE) -> protocol.Effect:
    """Test accuracy, ``family`` − the pooled reference networks (Welch t over networks)."""
    ref = reference_networks(table, reference)
    return protocol.difference_effect(f"test acc, {family} − {reference_name(table, reference)}",
                                      table.loc[table.skip == family, "test_acc"], ref["test_acc"],
                                      direction, delta)


def noise_floor(table: pd.DataFrame, delta: float = DELTA) -> protocol.Effect | None:
    """permutation − identity test accuracy (Welch t), read as an equivalence: zero in expectation, so its CI
    inside ±δ says the null is clean at δ. None when either family is missing."""
    if not ((table.skip == "permutation").any() and (table.skip == "identity").any()):
        return None
    return protocol.difference_effect("test acc, permutation − identity (noise floor)",
                                      table.loc[table.skip == "permutation", "test_acc"],
                                      table.loc[table.skip == "identity", "test_acc"], 0, delta)


def regime(networks: pd.DataFrame, baseline_acc: float | None = None, min_baseline_acc: float | None = None,
           gate: protocol.Gate = protocol.ERM_GATE) -> dict:
    """:meth:`protocol.Gate.check` over every network compared (all families), and the identity baseline's
    test accuracy against ``min_baseline_acc`` (both must hold)."""
    check = gate.check(networks)
    if min_baseline_acc is not None:
        reached = bool(baseline_acc is not None and baseline_acc >= min_baseline_acc)
        check = {**check, "passed": check["passed"] and reached, "baseline_reached": reached,
                 "rule": f"{check['rule']}; identity baseline ≥ {min_baseline_acc:.0%} test accuracy"}
    return check


def ungated_verdict(effect: protocol.Effect) -> str:
    """What the effect's CI says if the regime gate is set aside (shown beside 'not in regime', never filed)."""
    return effect.verdict(True)


def power(effect: protocol.Effect) -> int | None:
    """Networks per group a t-test needs to resolve the effect's δ at its measured per-network SD."""
    return protocol.seeds_needed(effect.sd, effect.delta, effect.groups)


def reading(effect: protocol.Effect) -> str:
    """A neutral reading of a contrast no claim is about: above / below the reference, inside ±δ, not resolved."""
    return {protocol.SUPPORTED: "above", protocol.CONTRADICTED: "below", protocol.NEGLIGIBLE: "inside ±δ",
            protocol.INCONCLUSIVE: "not resolved at δ"}[protocol.decide(effect.lo, effect.hi, +1, effect.null,
                                                                      effect.delta)]


def power_text(effect: protocol.Effect, max_n: int = 1000) -> str:
    """'4 networks per group would resolve δ = 0.005' (or 'more than 1,000 …', or that the SD is unknown)."""
    needed = protocol.seeds_needed(effect.sd, effect.delta, effect.groups, max_n=max_n)
    unit = "networks per group" if effect.groups > 1 else "seeds"
    if needed is None:
        return f"the seed-to-seed SD is unknown, so no power analysis for δ = {effect.delta:g}"
    count = f"more than {max_n:,}" if needed >= max_n else f"{needed}"
    return f"{count} {unit} would resolve δ = {effect.delta:g}"


def alternative(label: str, effect: protocol.Effect, gate: dict) -> dict:
    """One line of a robustness grid: the alternative's effect, its filed verdict and the ungated reading."""
    return {"alternative": label, "estimate": effect.estimate, "lo": effect.lo, "hi": effect.hi,
            "δ": effect.delta, "gate": "passed" if gate["passed"] else "failed",
            "verdict": effect.verdict(gate["passed"]), "ungated reading": ungated_verdict(effect)}


def delta_alternatives(effect: protocol.Effect, gate: dict) -> list[dict]:
    """The same effect with δ halved and doubled."""
    from dataclasses import replace

    return [alternative(f"δ = {factor * effect.delta:g}", replace(effect, delta=factor * effect.delta), gate)
            for factor in (0.5, 2.0)]


def robustness_verdicts(grid: list[dict]) -> dict[str, str]:
    """label → filed verdict, for :func:`records.row`."""
    return {g["alternative"]: g["verdict"] for g in grid}


def caveat_not_in_regime(gate: dict, effect: protocol.Effect) -> str:
    """The sentence a reader needs when a row fails the gate: how far from the regime, and what the effect says."""
    return (f"Not in regime: lowest train accuracy {gate['min_train_acc']:.4f} < {protocol.ERM_GATE.min_train_acc:g}; "
            f"read without the gate the effect is {ungated_verdict(effect)} ({power_text(effect)}).")


def spectral_norms(matrices) -> np.ndarray:
    """Largest singular value of each matrix (float64)."""
    return np.array([float(np.linalg.norm(np.asarray(m, dtype=np.float64), 2)) for m in matrices])


def extra_nonzeros_per_row(matrices, atol: float = 1e-6) -> np.ndarray:
    """Mean number of non-zero entries per row beyond one, per matrix: 0 for I and any permutation, the
    mixing an entangled E adds (sparse at density ρ on d channels: about ρ(d − 1)/2)."""
    out = []
    for m in matrices:
        m = np.asarray(m, dtype=np.float64)
        out.append((np.abs(m) > atol).sum() / m.shape[0] - 1)
    return np.array(out)


def keeps_identity_scale(norms, tolerance: float = SCALE_TOLERANCE) -> bool:
    """True if every spectral norm is within ``tolerance`` (relative) of the identity's 1."""
    norms = np.asarray(norms, dtype=float)
    return bool(len(norms) and np.all(np.abs(norms - 1) <= tolerance))


def points(x: float) -> str:
    """A fraction as signed percentage points with a typographic minus, e.g. −0.31."""
    return f"{100 * x:+.2f}".replace("-", "−")


def effect_text(effect: protocol.Effect) -> str:
    """'−0.31 [−0.80, +0.18] percentage points' for the prose."""
    return f"{points(effect.estimate)} [{points(effect.lo)}, {points(effect.hi)}] percentage points"


def per_family_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per family: networks, mean test accuracy with its 95% CI, lowest train accuracy, mean gap."""
    from .. import stats

    rows = []
    for skip, g in table.groupby("skip", sort=False):
        ci = stats.mean_ci(g.test_acc)
        rows.append({"skip": skip, "networks": len(g), "test acc": ci["mean"], "lo": ci["lo"], "hi": ci["hi"],
                     "min train acc": g.train_acc.min(), "gap": g.gap.mean()})
    return pd.DataFrame(rows)
