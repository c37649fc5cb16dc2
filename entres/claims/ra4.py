"""RA-4: top singular values of residual Jacobians scale inversely with depth (protocol v2).

Three readings of "inversely with depth", each a verdict row per dataset:

* **power law** (primary reading): fit log σ̄₁ = a − α log L on the depth MEANS (one point per depth,
  :func:`protocol.level_fit`, lack of fit reported); the claim is the equivalence α = 1 within
  ``delta_alpha`` (``protocol.decide`` with direction 0);
* **within network** (the authors' figure): 1/σ₁(J_l) rises linearly along the blocks l of one network;
  primary effect the per-network Pearson correlation of l and 1/σ₁(J_l), averaged over networks,
  against 0 with δ = ``delta_corr``;
* **affine in L** (the authors' fit): 1/σ̄₁ = a + b L; an affine law has the same slope at every depth,
  so the primary effect is the ratio of the slope of 1/σ̄₁ between the two deepest depths to that
  between the two shallowest, equivalent to 1 within ``delta_ratio`` (percentile bootstrap over the
  networks of each depth).

σ̄₁ of a network is the mean (``aggregation``) over the blocks in ``scope`` of the per-block top singular
value (itself a mean over test inputs). Every network of a row must pass :data:`protocol.RA_GATE`.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import page as page_mod
from . import protocol, ra_common, records

CLAIM = "RA-4"
NOTEBOOK = "ra4_depth"
# Half the distance from 1/L to the nearest other law a reader would name (1/√L, α = 0.5): an exponent
# within a quarter of 1 is "inversely with depth", one beyond it is closer to a different law.
DELTA_ALPHA = 0.25
# Cohen's "large" correlation: below it, 1/σ₁ is not a line in l in any sense a reader would use.
DELTA_CORR = 0.5
# The same quarter tolerance for the slope ratio (affine: ratio 1).
DELTA_RATIO = 0.25
BOOTSTRAP = 2000
ALL = "all"
LATE_HALF = "later half"  # the name ra_common uses


# ---------------------------------------------------------------------------------------------
# Per network: regime and the blocks a claim is about (shared by the RA-3/4/6 pages)

def regime(record: dict) -> dict:
    """Train accuracy at the end, SGD steps in all and SGD steps held at the terminal-phase bar."""
    spe = ra_common.steps_per_epoch(record["config"])
    return {"train_acc": float(record["metrics"]["train_acc"]), "test_acc": float(record["metrics"]["test_acc"]),
            "sgd_steps": spe * len(record["history"]),
            "terminal_steps": protocol.terminal_steps(record["history"], spe, protocol.RA_GATE.min_train_acc)}


def scoped(values, scope: str) -> np.ndarray:
    """The per-block values of the blocks in ``scope``: "all", "later half" (blocks L/2+1 … L) or
    "after block k" (blocks k+1 … L; empty for a network of k blocks or fewer)."""
    v = np.asarray(values, dtype=float)
    if scope == ALL:
        return v
    if scope == LATE_HALF:
        return v[len(v) // 2:]
    if scope.startswith("after block "):
        return v[int(scope.removeprefix("after block ")):]
    raise ValueError(f"unknown block scope {scope!r}; valid: 'all', 'later half', 'after block k'")


def aggregate(values: np.ndarray, aggregation: str) -> float:
    if not len(values):
        return math.nan
    if aggregation == "mean":
        return float(np.mean(values))
    if aggregation == "median":
        return float(np.median(values))
    raise ValueError(f"unknown aggregation {aggregation!r}; valid: 'mean', 'median'")


def _correlation(values: np.ndarray) -> tuple[float, float]:
    """Pearson r of block index and 1/σ₁(J_l), and the slope (NaN for fewer than 3 blocks)."""
    l, inv = np.arange(1, len(values) + 1, dtype=float), 1 / values
    if len(values) < 3 or np.ptp(inv) == 0:  # no line through fewer than 3 points or a constant
        return math.nan, math.nan
    return float(np.corrcoef(l, inv)[0, 1]), float(np.polyfit(l, inv, 1)[0])


def network_table(runs: list[dict], scope: str = ALL, aggregation: str = "mean") -> pd.DataFrame:
    """One row per network: regime, σ̄₁ over the blocks in ``scope``, and the within-network reading."""
    rows = []
    for r in runs:
        sigma = scoped([b["sigma1"] for b in r["arrays"]["blocks"]], scope)
        corr, slope = _correlation(sigma)
        rows.append({"dataset": r["config"]["dataset"], "skip": r["config"]["skip"], "depth": r["config"]["depth"],
                     "seed": r["config"]["seed"], **regime(r), "blocks_in_scope": len(sigma),
                     "sigma1": aggregate(sigma, aggregation), "inv_sigma_corr": corr, "inv_sigma_slope": slope})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# The three readings' primary effects (on one dataset's networks)

def _fitted(table: pd.DataFrame) -> pd.DataFrame:
    return table[np.isfinite(table["sigma1"])]


def power_law_effect(table: pd.DataFrame, delta: float = DELTA_ALPHA) -> tuple[protocol.Effect, dict]:
    """α of σ̄₁ ∝ L^−α fitted on the depth means, read as the equivalence α = 1 within ``delta``."""
    t = _fitted(table)
    fit = _level_fit(t["depth"], t["sigma1"], "loglog")
    effect = protocol.Effect("exponent α of σ̄₁ ∝ L^−α (fit on depth means)", -fit["slope"], -fit["slope_hi"],
                             -fit["slope_lo"], 0, 1.0, delta, f"least squares on {fit['levels']} depth means, t CI",
                             fit["levels"])
    return effect, fit


def affine_fit(table: pd.DataFrame) -> dict:
    """1/σ̄₁ = a + b L on the depth means (the authors' fit), with its lack of fit."""
    t = _fitted(table)
    return _level_fit(t["depth"], t["sigma1"], "inverse")


def _level_fit(levels, values, transform: str) -> dict:
    if len(set(levels)) < 3:  # a CI for a line needs at least 3 levels
        nan = math.nan
        return {"slope": nan, "slope_lo": nan, "slope_hi": nan, "intercept": nan, "r2": nan,
                "levels": len(set(levels)), "networks": len(levels), "transform": transform,
                "lack_of_fit": {"F": nan, "df1": 0, "df2": 0, "p": nan}}
    return protocol.level_fit(levels, values, transform)


def slope_ratio(depths, sigma1) -> float:
    """Slope of 1/σ̄₁ (depth means) between the two deepest depths over that between the two shallowest."""
    depths, inv = np.asarray(depths, dtype=float), 1 / np.asarray(sigma1, dtype=float)
    L = np.unique(depths)
    if len(L) < 3:
        return math.nan
    y = np.array([inv[depths == level].mean() for level in L])
    return float(((y[-1] - y[-2]) / (L[-1] - L[-2])) / ((y[1] - y[0]) / (L[1] - L[0])))


def affine_effect(table: pd.DataFrame, delta: float = DELTA_RATIO, n_boot: int = BOOTSTRAP,
                  seed: int = 0) -> protocol.Effect:
    """Deep-to-shallow slope ratio of 1/σ̄₁ against L, equivalent to 1 within ``delta``; 95% percentile
    bootstrap CI resampling networks within each depth (deterministic: fixed ``seed``)."""
    t = _fitted(table)
    depths, sigma = t["depth"].to_numpy(), t["sigma1"].to_numpy()
    estimate = slope_ratio(depths, sigma)
    lo = hi = math.nan
    levels = np.unique(depths)
    if math.isfinite(estimate) and all((depths == L).sum() > 1 for L in levels):
        rng = np.random.default_rng(seed)
        groups = [np.flatnonzero(depths == L) for L in levels]
        boot = [slope_ratio(depths[idx], sigma[idx])
                for idx in (np.concatenate([rng.choice(g, len(g)) for g in groups]) for _ in range(n_boot))]
        lo, hi = (float(q) for q in np.nanquantile(boot, [0.025, 0.975]))
    return protocol.Effect("slope of 1/σ̄₁ in L, deepest / shallowest depth pair", estimate, lo, hi, 0, 1.0,
                           delta, "depth means, percentile bootstrap over networks within depths", len(levels))


def within_network_effect(table: pd.DataFrame, delta: float = DELTA_CORR) -> protocol.Effect:
    """Mean over networks of the Pearson r of block index l and 1/σ₁(J_l), against 0."""
    return protocol.mean_effect("r(l, 1/σ₁(J_l)) within a network", table["inv_sigma_corr"], +1, 0.0, delta)


READINGS = {
    "power law": lambda t, d: power_law_effect(t, d["alpha"])[0],
    "1/σ₁ linear in l": lambda t, d: within_network_effect(t, d["corr"]),
    "1/σ̄₁ affine in L": lambda t, d: affine_effect(t, d["ratio"]),
}


# ---------------------------------------------------------------------------------------------
# The page

GATE_ALTERNATIVE = "gate: train accuracy only"


def alternatives(depths: list[int], scopes: list[str], aggregations: list[str]) -> dict[str, dict]:
    """Robustness settings: label -> what changes (scope, aggregation, depths or the gate)."""
    out = {f"scope: {s}": {"scope": s} for s in scopes}
    out.update({f"aggregation: {a} over blocks": {"aggregation": a} for a in aggregations})
    if len(depths) > 3:
        out[f"depths: {', '.join(map(str, sorted(depths)[1:]))}"] = {"depths": sorted(depths)[1:]}
    out[GATE_ALTERNATIVE] = {"gate": ra_common.ACCURACY_ONLY_GATE}
    return out


def dataset_rows(runs: list[dict], dataset: str, depths: list[int], deltas: dict, scope: str, aggregation: str,
                 settings: dict[str, dict]) -> tuple[list[dict], dict]:
    """The verdict rows of one dataset (one per reading) and the numbers shown beside them."""
    mine = [r for r in runs if r["config"]["dataset"] == dataset]
    table = network_table(mine, scope, aggregation)
    gate = protocol.RA_GATE.check(table)
    alt_tables = {label: _alt_table(mine, s, scope, aggregation) for label, s in settings.items()}
    power, fit = power_law_effect(table, deltas["alpha"])
    affine = affine_fit(table)
    rows, shown = [], {"fit": fit, "affine": affine, "table": table, "gate": gate}
    for reading, make in READINGS.items():
        effect = make(table, deltas)
        alt_effects = {label: make(t, deltas) for label, t in alt_tables.items()}
        robustness = {label: e.verdict(settings[label].get("gate", protocol.RA_GATE).check(alt_tables[label])["passed"])
                      for label, e in alt_effects.items()}
        details = [{"setting": label, "if in regime": e.verdict(True)} for label, e in alt_effects.items()]
        secondary = {"networks with 1/σ₁ rising along the blocks (fraction)":
                     ((table["inv_sigma_slope"] > 0).mean(), None, None)} if reading == "1/σ₁ linear in l" else {
            "α": (power.estimate, power.lo, power.hi),
            "lack of fit F (power law)": (fit["lack_of_fit"]["F"], None, None),
            "lack of fit p (power law)": (fit["lack_of_fit"]["p"], None, None),
            "lack of fit F (affine)": (affine["lack_of_fit"]["F"], None, None),
            "lack of fit p (affine)": (affine["lack_of_fit"]["p"], None, None)}
        rows.append(records.row(f"{dataset}: {reading}", effect, gate, seeds=int(table.groupby("depth").size().min()),
                                test_acc=float(table["test_acc"].mean()), robustness=robustness,
                                caveat=ra_common.caveat(gate, effect, [{}] + details, _caveat(reading, fit, affine)),
                                secondary=secondary,
                                scope=f"blocks: {scope}; {aggregation} over blocks; depths {sorted(set(table.depth))}"))
        shown[reading] = effect
    shown["alternatives"] = {label: power_law_effect(t, deltas["alpha"])[0] for label, t in alt_tables.items()}
    return rows, shown


def _alt_table(runs, setting: dict, scope: str, aggregation: str) -> pd.DataFrame:
    t = network_table(runs, setting.get("scope", scope), setting.get("aggregation", aggregation))
    if "depths" in setting:
        t = t[t["depth"].isin(setting["depths"])]
    return t[t["blocks_in_scope"] > 0].reset_index(drop=True)


def _caveat(reading: str, fit: dict, affine: dict) -> str:
    if reading == "power law":
        lof = fit["lack_of_fit"]
        if math.isfinite(lof["p"]) and lof["p"] < 0.05:
            return (f"a pure power law does not fit the depth means (lack of fit F = {lof['F']:.0f}, p = {lof['p']:.1g}): "
                    "α summarises a curve, and more seeds would not narrow its CI; more depths would")
        return "α from a fit on depth means (one point per depth)"
    if reading == "1/σ₁ linear in l":
        return "the correlation measures a line along the blocks of each network; networks of every depth count alike"
    lof = affine["lack_of_fit"]
    return (f"1/σ̄₁ against L on depth means: r² {affine['r2']:.4f}, lack of fit F = {lof['F']:.1f} (p = {lof['p']:.2g})"
            if math.isfinite(lof["F"]) else "1/σ̄₁ against L on depth means")


def page(profile: str, datasets: list[str], skips: list[str], seeds: list[int], depths: list[int], width: int,
         epochs: int, batch_size: int, lr: float, weight_decay: float, n_train: int, n_samples: int,
         delta_alpha: float = DELTA_ALPHA, delta_corr: float = DELTA_CORR, delta_ratio: float = DELTA_RATIO,
         scope: str = ALL, aggregation: str = "mean", robustness_scopes: tuple[str, ...] = ("after block 4", LATE_HALF),
         robustness_aggregations: tuple[str, ...] = ("median",)) -> page_mod.PageResult:
    """Get the depth sweep's runs (cached, else computed), decide and file the RA-4 rows."""
    from ..experiments import ra

    runs = ra.jacobian_runs(datasets, skips, seeds, depths=depths, width=width, epochs=epochs, batch_size=batch_size,
                            lr=lr, weight_decay=weight_decay, n_train=n_train, n_samples=n_samples)
    deltas = {"alpha": delta_alpha, "corr": delta_corr, "ratio": delta_ratio}
    settings = alternatives(depths, list(robustness_scopes), list(robustness_aggregations))
    rows, shown = [], {}
    for dataset in datasets:
        ds_rows, shown[dataset] = dataset_rows(runs, dataset, depths, deltas, scope, aggregation, settings)
        rows += ds_rows
    stamp = records.provenance_stamp(runs)
    records.record_verdict(CLAIM, profile, rows, notebook=NOTEBOOK, computed_from=stamp)
    networks = pd.concat([shown[d]["table"] for d in datasets], ignore_index=True)
    return page_mod.PageResult(CLAIM, rows, networks, runs={"depth": runs}, robustness=robustness_table(rows),
                               values={**_values(rows, shown, datasets), **{f"delta_{k}": f"{v:g}" for k, v in deltas.items()}},
                               stamp=stamp,
                               extra={"fits": fits_table(shown, datasets),
                                      "scopes": scope_table(shown, datasets),
                                      "local_exponents": local_exponents(networks)})


def robustness_table(rows: list[dict]) -> pd.DataFrame:
    """Verdict of each row under the primary setting and every alternative."""
    return pd.DataFrame([{"row": r["dataset"], "verdict": r["verdict"], **r["robustness"], "stability": r["stability"]}
                         for r in rows])


def fits_table(shown: dict, datasets: list[str]) -> pd.DataFrame:
    """Per dataset: the power law and the affine fit on depth means, with their lack of fit."""
    out = []
    for d in datasets:
        fit, affine, ratio = shown[d]["fit"], shown[d]["affine"], shown[d]["1/σ̄₁ affine in L"]
        out.append({"dataset": d, "α": -fit["slope"], "α CI": f"[{-fit['slope_hi']:.2f}, {-fit['slope_lo']:.2f}]",
                    "F power law": fit["lack_of_fit"]["F"], "p power law": fit["lack_of_fit"]["p"],
                    "affine slope b": affine["slope"], "r² affine": affine["r2"],
                    "F affine": affine["lack_of_fit"]["F"], "p affine": affine["lack_of_fit"]["p"],
                    "slope ratio": ratio.estimate, "ratio CI": f"[{ratio.lo:.2f}, {ratio.hi:.2f}]"})
    return pd.DataFrame(out)


def scope_table(shown: dict, datasets: list[str]) -> pd.DataFrame:
    """α (with CI) under each alternative block scope, aggregation and depth set."""
    out = []
    for d in datasets:
        for label, e in {"primary": shown[d]["power law"], **shown[d]["alternatives"]}.items():
            out.append({"dataset": d, "setting": label, "α": e.estimate, "CI": f"[{e.lo:.2f}, {e.hi:.2f}]",
                        "depths": e.n, "verdict": e.verdict()})
    return pd.DataFrame(out)


def local_exponents(networks: pd.DataFrame) -> pd.DataFrame:
    """The exponent between consecutive depths, from the depth means of σ̄₁ (descriptive)."""
    out = []
    for d, g in networks.groupby("dataset", sort=False):
        s = g.groupby("depth")["sigma1"].mean()
        for a, b in zip(s.index, s.index[1:]):
            out.append({"dataset": d, "depths": f"{a}→{b}", "exponent": float(np.log(s[a] / s[b]) / np.log(b / a))})
    return pd.DataFrame(out)



def _values(rows: list[dict], shown: dict, datasets: list[str]) -> dict:
    values = {}
    for r in rows:
        dataset, reading = r["dataset"].split(": ", 1)
        key = {"power law": "power", "1/σ₁ linear in l": "within", "1/σ̄₁ affine in L": "affine"}[reading]
        p = r["primary"]
        values[f"{key}_verdict_{dataset}"] = r["verdict"]
        values[f"{key}_stability_{dataset}"] = r["stability"]
        values[f"{key}_estimate_{dataset}"] = page_mod.effect_text(p, ".2f", ci=False)
        values[f"{key}_ci_{dataset}"] = "n/a" if p["lo"] is None else f"[{p['lo']:.2f}, {p['hi']:.2f}]"
    for d in datasets:
        fit, affine = shown[d]["fit"], shown[d]["affine"]
        values[f"lof_F_{d}"] = f"{fit['lack_of_fit']['F']:.0f}"
        values[f"affine_F_{d}"] = f"{affine['lack_of_fit']['F']:.1f}"
        values[f"affine_r2_{d}"] = f"{affine['r2']:.4f}"
        values[f"gate_{d}"] = "passed" if shown[d]["gate"]["passed"] else "failed"
        values[f"min_terminal_steps_{d}"] = f"{shown[d]['gate']['min_terminal_steps']:,}"
    alts = {label for d in datasets for label in shown[d]["alternatives"]}
    for label in alts:
        name = label.split(": ", 1)[1].replace(" ", "_").replace(",", "")
        values[f"alpha_{name}"] = ra_common.span([shown[d]["alternatives"][label].estimate for d in datasets
                                         if label in shown[d]["alternatives"]])
    values["alpha_primary"] = ra_common.span([shown[d]["power law"].estimate for d in datasets])
    values["lof_F"] = ra_common.span([shown[d]["fit"]["lack_of_fit"]["F"] for d in datasets], ".0f")
    values["affine_F"] = ra_common.span([shown[d]["affine"]["lack_of_fit"]["F"] for d in datasets], ".1f")
    return values
