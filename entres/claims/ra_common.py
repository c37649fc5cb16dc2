"""Shared pieces of the Residual Alignment claim pages (protocol v2).

* per-network tables with the regime-gate columns (``train_acc``, ``terminal_steps``);
* chance baselines: |uᵀv| of independent random unit vectors, C/d for subspace overlaps, the
  linearity of a random-direction walk with given step lengths, the step-length CV of points thrown
  at random on a line;
* block scopes ("all blocks", "later half");
* readings (a per-network column, δ, gate, which families) → a primary effect, and the robustness grid
  of a row (the verdict under each alternative reading, and the effect behind it).

Nothing here knows a particular claim; the page modules (``ra1``, ``ra2``, ``ra5``, …) do.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from . import protocol

# Training-set sizes of the image datasets (the official splits), so that a cache-only build can count
# SGD steps without loading data. cifar10-K keeps K classes of 5,000 training images each.
_FULL_TRAIN_SIZES = {"mnist": 60_000, "fashionmnist": 60_000, "cifar10": 50_000}
ID_COLUMNS = ("dataset", "skip", "depth", "width", "seed")

# The SPEC §8 reading of the terminal phase (train accuracy only): a robustness alternative to the v2 gate,
# so that a row that is "not in regime" only for the held-steps part of the gate says so.
ACCURACY_ONLY_GATE = protocol.Gate(min_train_acc=protocol.RA_GATE.min_train_acc, min_terminal_steps=0,
                                   rule="train accuracy ≥ 0.999 at the end of training (SPEC §8), no held-steps bar")


# ---------------------------------------------------------------------------------------------
# Networks and the regime gate

def train_size(config: dict) -> int:
    """Training inputs a run saw: ``n_train`` if set, else the full training split of its dataset."""
    from .. import data

    if config.get("n_train"):
        return int(config["n_train"])
    own = getattr(data, "train_size", None)
    if own is not None:
        return int(own(config["dataset"]))
    base, classes = data.parse_name(config["dataset"])
    if base not in _FULL_TRAIN_SIZES:
        raise ValueError(f"no known training-set size for {config['dataset']!r}")
    full = _FULL_TRAIN_SIZES[base]
    return full if classes is None else full // 10 * len(classes)


def steps_per_epoch(config: dict) -> int:
    """SGD steps per epoch of a run: ceil(training-set size / batch size) (as :func:`entres.train.train`)."""
    return math.ceil(train_size(config) / int(config["batch_size"]))


def network_row(record: dict) -> dict:
    """The identifying config keys, accuracies and SGD steps held in the terminal phase of one run (from its
    per-epoch history, or from ``metrics["terminal_steps_held"]`` where the record keeps no history)."""
    c, m = record["config"], record["metrics"]
    if "history" in record:
        held = protocol.terminal_steps(record["history"], steps_per_epoch(c), protocol.RA_GATE.min_train_acc)
    else:  # records that store the regime in their metrics instead of a per-epoch history (ra_spectrum)
        held = int(m["terminal_steps_held"])
    return {**{k: c[k] for k in ID_COLUMNS},
            "train_acc": float(m["train_acc"]), "test_acc": float(m["test_acc"]), "terminal_steps": held}


def select(records: list[dict], **config) -> list[dict]:
    """The records whose config has every given key at the given value."""
    return [r for r in records if all(r["config"].get(k) == v for k, v in config.items())]


# ---------------------------------------------------------------------------------------------
# Chance baselines

def chance_alignment(d: int) -> float:
    """E|uᵀv| for independent uniformly random unit vectors u, v in R^d (exact: Γ(d/2) / (√π Γ((d+1)/2)),
    ≈ sqrt(2/(π d)) for large d)."""
    return math.exp(math.lgamma(d / 2) - math.lgamma((d + 1) / 2)) / math.sqrt(math.pi)


def chance_overlap(c: int, d: int) -> float:
    """E‖UᵀV‖²_F / C for independent random C-dimensional subspaces of R^d: C/d."""
    return c / d


def random_walk_linearity(step_lengths, d: int, draws: int = 2000, seed: int = 0) -> np.ndarray:
    """Linearity (variance share of the first principal direction of the centred trajectory) of ``draws``
    walks h_1..h_L in R^d whose steps have the given lengths and independent uniformly random directions:
    what `lin` gives when the steps are as long as the network's but point anywhere."""
    s = np.asarray(step_lengths, dtype=float)
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((draws, len(s), d))
    steps = z / np.linalg.norm(z, axis=2, keepdims=True) * s[None, :, None]
    walk = np.concatenate([np.zeros((draws, 1, d)), np.cumsum(steps, axis=1)], axis=1)
    centred = walk - walk.mean(axis=1, keepdims=True)
    sv2 = np.linalg.svd(centred, compute_uv=False) ** 2
    return sv2[:, 0] / sv2.sum(axis=1)


def random_spacing_cv(n_steps: int, draws: int = 20000, seed: int = 0) -> float:
    """Expected CV (population std / mean) of ``n_steps`` gaps between points thrown at random on a line
    (i.i.d. exponential gaps, a Poisson process): the chance value of the step-length CV, 1 for many steps
    and a little less for few."""
    if n_steps < 2:
        return math.nan
    g = np.random.default_rng(seed).exponential(size=(draws, n_steps))
    return float((g.std(axis=1) / g.mean(axis=1)).mean())


# ---------------------------------------------------------------------------------------------
# Block scopes

SCOPES = ("all", "later half")


def scope_indices(n: int, scope: str) -> np.ndarray:
    """Indices (0-based) of the blocks (or steps) of ``n`` a scope keeps: all, or the later half."""
    if scope == "all":
        return np.arange(n)
    if scope == "later half":
        return np.arange(n // 2, n)
    raise ValueError(f"unknown scope {scope!r}; valid: {', '.join(SCOPES)}")


def block_stat(per_block, scope: str = "all", how: str = "mean") -> float:
    """A per-block measure aggregated over the blocks a scope keeps."""
    x = np.asarray(per_block, dtype=float)
    return aggregate(x[scope_indices(len(x), scope)], how)


def pair_stat(matrix, scope: str = "all", how: str = "mean") -> float:
    """An L×L across-depth matrix aggregated over the pairs l ≠ m of blocks a scope keeps."""
    m = np.asarray(matrix, dtype=float)
    keep = scope_indices(len(m), scope)
    sub = m[np.ix_(keep, keep)]
    return aggregate(sub[~np.eye(len(keep), dtype=bool)], how)


def aggregate(values, how: str) -> float:
    """Mean or median of finite values (NaN if none)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return math.nan
    if how == "mean":
        return float(x.mean())
    if how == "median":
        return float(np.median(x))
    raise ValueError(f"unknown aggregation {how!r}; valid: mean, median")


# ---------------------------------------------------------------------------------------------
# Readings: a per-network column read as a primary effect, and the robustness grid of a row

@dataclass(frozen=True)
class Reading:
    """One way to read a row: which per-network ``column``, δ, gate and comparison.

    ``families`` of one skip give a one-sample effect of that family against ``null``; two give the
    difference first − second (Welch) against 0.
    """

    label: str                         # "primary", "aggregation: median", "scope: later half", …
    column: str
    delta: float | None
    families: tuple[str, ...] = ("identity",)
    direction: int = +1
    null: float = 0.0
    gate: protocol.Gate = protocol.RA_GATE

    def effect(self, table: pd.DataFrame, name: str) -> protocol.Effect:
        groups = [table.loc[table.skip == f, self.column] for f in self.families]
        if len(groups) == 1:
            return protocol.mean_effect(name, groups[0], self.direction, self.null, self.delta)
        if len(groups) == 2:
            return protocol.difference_effect(name, groups[0], groups[1], self.direction, self.delta)
        raise ValueError(f"a reading compares one or two families, got {self.families}")

    def gate_check(self, table: pd.DataFrame) -> dict:
        """The gate over every network of every family this reading compares."""
        return self.gate.check(table[table.skip.isin(self.families)])

    def but(self, label: str, **changes) -> "Reading":
        return replace(self, label=label, **changes)


def read_row(table: pd.DataFrame, name: str, primary: Reading, alternatives: list[Reading]):
    """The primary effect and gate of a row, and its robustness: ``(effect, gate, verdicts, details)``.

    ``verdicts`` maps each alternative's label to its verdict (for :func:`protocol.stability`);
    ``details`` has one line per reading (the primary first) with the effect, CI, δ, gate and the verdict,
    and the verdict the effect would get if the gate had passed, so a row that is not in regime still
    shows what its numbers say.
    """
    effect, gate = primary.effect(table, name), primary.gate_check(table)
    verdicts, details = {}, [detail_line(primary.label, effect, gate)]
    for alt in alternatives:
        e, g = alt.effect(table, name), alt.gate_check(table)
        verdicts[alt.label] = e.verdict(g["passed"])
        details.append(detail_line(alt.label, e, g))
    return effect, gate, verdicts, details


def detail_line(label: str, effect: protocol.Effect, gate: dict) -> dict:
    """One line of a robustness table: the setting, its effect and CI, δ, the gate and the verdicts."""
    return {"setting": label, "estimate": effect.estimate, "lo": effect.lo, "hi": effect.hi,
            "δ": effect.delta, "gate": "passed" if gate["passed"] else "failed",
            "verdict": effect.verdict(gate["passed"]), "if in regime": effect.verdict(True)}


def regime_note(gate: dict, effect: protocol.Effect, details: list[dict]) -> str:
    """For a row whose gate failed: which part failed and what its numbers say anyway (the verdict the
    effect would get in regime, and whether that reading is stable across the alternatives); "" if it passed."""
    if gate["passed"]:
        return ""
    ungated = effect.verdict(True)
    stability, _ = protocol.stability({d["setting"]: d["if in regime"] for d in details[1:]}, ungated)
    steps = "" if gate.get("min_terminal_steps") is None else \
        f", fewest SGD steps held at the bar {gate['min_terminal_steps']:,} of the {protocol.RA_GATE.min_terminal_steps:,} required"
    return (f"not in regime: {gate['failing']} of {gate['networks']} networks fail the gate (lowest train accuracy "
            f"{gate['min_train_acc']:.4f}{steps}); read anyway, the effect is {ungated} ({stability})")


SHARED_NETWORKS = "RA-1, RA-2, RA-3, RA-5 and RA-7 rows of a dataset come from the same networks (not independent evidence)"


def caveat(gate: dict, effect: protocol.Effect, details: list[dict], *notes: str) -> str:
    """The row's caveat: the regime note (if the gate failed) and the page's notes, in one sentence."""
    parts = [p for p in (regime_note(gate, effect, details), *notes) if p]
    text = "; ".join(parts)
    return text[:1].upper() + text[1:] + "." if text else ""


def secondary_mean(table: pd.DataFrame, column: str, family: str = "identity") -> tuple[float, float, float]:
    """(mean, lo, hi) of a per-network column over one family: a measure shown, not voted."""
    ci = protocol.mean_effect(column, table.loc[table.skip == family, column])
    return (ci.estimate, ci.lo, ci.hi)


def robustness_frame(details_by_row: dict[str, list[dict]]) -> pd.DataFrame:
    """All rows' robustness lines as one table (row label first)."""
    return pd.DataFrame([{"row": label, **d} for label, ds in details_by_row.items() for d in ds])


def verdict_list(rows: list[dict]) -> str:
    """The rows' verdicts as prose: "mnist: line supported; …"."""
    return "; ".join(f"{r['dataset']} {r['verdict']}" for r in rows) or "no rows"


def span(values, fmt: str = ".2f") -> str:
    """A range of values as prose quotes it ("0.12–0.35"), one value if both ends print the same."""
    x = [v for v in values if v is not None and np.isfinite(v)]
    if not x:
        return "n/a"
    lo, hi = f"{min(x):{fmt}}", f"{max(x):{fmt}}"
    return lo if lo == hi else f"{lo}–{hi}"
