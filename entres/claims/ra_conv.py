"""RA-1, RA-2 and RA-4 on the convolutional ResNet (book/ra_conv), protocol v2.

The rows are those of the MLP pages, read by the same library functions:

* RA-1 (:func:`ra1.dataset_rows`): *line*, κ_line = 1 − (1 − lin)/(1 − lin₀) against a walk with the
  network's step lengths in random directions, and *equal steps*, κ_steps = 1 − cv/cv₀ against random
  spacing; δ = 0.5 (twice as close to the ideal as chance);
* RA-2 (:func:`ra2.dataset_rows`): *within-block* alignment and *across-depth* overlap as multiples of
  chance (E|uᵀv| of random unit vectors, C/d), null 1, δ = 1 (twice chance);
* RA-4 (:func:`ra4.dataset_rows`): the exponent α of σ̄₁ ∝ L^−α fitted on depth means (lack of fit
  reported), equivalent to 1 within δ = 0.25; and the authors' readings (1/σ₁ linear in l within a network,
  1/σ̄₁ affine in L).

What differs for a conv net is the dimension d the residual Jacobians and trajectories act on: c·H·W
(16 channels × 16 × 16 = 4,096 for the book's width), not the ``width``; the chance values use it.
RA-1 and RA-2 are read on the deepest networks (every network of that depth gated); the other depths
are robustness settings. RA-4 compares every depth, so every network is gated.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd

from . import page as page_mod
from . import protocol, ra1, ra2, ra4, ra_common, records

NOTEBOOK = "ra_conv"
CONV_NOTE = "RA-1, RA-2 and RA-4 rows of this page come from the same conv networks (not independent evidence)"
RA4_SCOPES = ("after block 4", ra4.LATE_HALF)
RA4_AGGREGATIONS = ("median",)


# ---------------------------------------------------------------------------------------------
# The conv networks' ambient dimension

def ambient_dim(jacobian_record: dict) -> int:
    """d = c·H·W of a conv block's input, from the stored chance overlap C/d."""
    m = jacobian_record["metrics"]
    return int(round(m["num_classes"] / m["random_overlap"]))


def in_ambient_width(record: dict, d: int) -> dict:
    """A copy of ``record`` whose width reads ``d``, so that the MLP pages' chance values (which take the
    width as the dimension) use the conv block's dimension; the table keeps the true width."""
    out = copy.copy(record)
    out["config"] = {**record["config"], "width": d}
    out["metrics"] = {**record["metrics"], "width": d}
    return out


def _dims(jac_runs: list[dict]) -> dict[tuple, int]:
    return {(r["config"]["depth"], r["config"]["seed"]): ambient_dim(r) for r in jac_runs}


def random_walk_linearity(step_lengths, d: int, draws: int = 2000, seed: int = 0) -> np.ndarray:
    """The RA-1 null of :func:`ra_common.random_walk_linearity` (the linearity of walks with the given step
    lengths in independent uniformly random directions of R^d), sampled in R^n for n steps, n ≤ d.

    Linearity depends on the steps only through their Gram matrix, and the Gram matrix of n Gaussian vectors
    in R^d is Wishart(d, I_n), which the rows of a Bartlett factor (lower triangular, χ²_{d−i} diagonal,
    N(0, 1) below) reproduce exactly; normalising the rows gives random unit directions. For a conv block
    (d = 4,096) this costs n/d of the direct draw's memory and time.
    """
    s = np.asarray(step_lengths, dtype=float)
    n = len(s)
    if n > d:
        raise ValueError(f"{n} steps need d >= {n}, got d = {d}")
    rng = np.random.default_rng(seed)
    factor = np.tril(rng.standard_normal((draws, n, n)), -1)
    factor[:, np.arange(n), np.arange(n)] = np.sqrt(rng.chisquare(d - np.arange(n), size=(draws, n)))
    steps = factor / np.linalg.norm(factor, axis=2, keepdims=True) * s[None, :, None]
    walk = np.concatenate([np.zeros((draws, 1, n)), np.cumsum(steps, axis=1)], axis=1)
    sv2 = np.linalg.svd(walk - walk.mean(axis=1, keepdims=True), compute_uv=False) ** 2
    return sv2[:, 0] / sv2.sum(axis=1)


def trajectory_table(traj_runs: list[dict], dims: dict[tuple, int], null_draws: int = 2000) -> pd.DataFrame:
    """RA-1 measures of every conv network (:func:`ra1.network_measures` in dimension d), with the line's
    null lin₀ drawn by :func:`random_walk_linearity` (the same distribution, affordable at d = 4,096)."""
    rows = []
    for r in traj_runs:
        d = dims[(r["config"]["depth"], r["config"]["seed"])]
        row = ra1.network_measures(in_ambient_width(r, d), null_draws=1)  # its own lin₀ is replaced below
        lin0 = random_walk_linearity(r["arrays"]["step_mean"], d, null_draws, seed=int(r["config"]["seed"]))
        for how in ("mean", "median"):
            row[f"lin0_{how}"] = ra_common.aggregate(lin0, how)
            row[f"kappa_line_{how}"] = ra1.kappa(row[f"lin_{how}"], row[f"lin0_{how}"], 1.0)
        rows.append({**row, "width": r["config"]["width"], "d": d})
    return pd.DataFrame(rows)


def jacobian_table(jac_runs: list[dict]) -> pd.DataFrame:
    """RA-2 measures of every conv network (:func:`ra2.jacobian_measures` in dimension d)."""
    return pd.DataFrame([{**ra2.jacobian_measures(in_ambient_width(r, ambient_dim(r))), "width": r["config"]["width"]}
                         for r in jac_runs])


# ---------------------------------------------------------------------------------------------
# Rows

def at_depth(table: pd.DataFrame, depth: int, label: str) -> pd.DataFrame:
    """The networks of one depth, their dataset column set to the row label (the MLP functions select by it)."""
    t = table[table.depth == depth].copy()
    t["dataset"] = label
    return t


def depth_rows(table: pd.DataFrame, make_rows, depths: list[int], label_for) -> tuple[list[dict], dict]:
    """Rows on the deepest networks (``make_rows(table, label)`` → rows, details), each with the verdict of
    the same reading at every other depth added to its robustness ("depth: L")."""
    deepest = max(depths)
    rows, details = make_rows(at_depth(table, deepest, label_for(deepest)), label_for(deepest))
    for L in sorted(set(depths) - {deepest}):
        other, _ = make_rows(at_depth(table, L, label_for(L)), label_for(L))
        for row, alt in zip(rows, other):
            row["robustness"][f"depth: {L}"] = alt["verdict"]
            details[row["dataset"]].append({"setting": f"depth: {L}", "estimate": alt["primary"]["estimate"],
                                            "lo": alt["primary"]["lo"], "hi": alt["primary"]["hi"],
                                            "δ": alt["primary"]["delta"],
                                            "gate": "passed" if alt["gate"]["passed"] else "failed",
                                            "verdict": alt["verdict"],
                                            "if in regime": protocol.decide(*_ci(alt["primary"]), True)})
    for row in rows:
        restamp(row)
    return rows, details


def _ci(p: dict) -> tuple:
    nan = math.nan
    return (nan if p["lo"] is None else p["lo"], nan if p["hi"] is None else p["hi"], p["direction"],
            p["null"] or 0.0, p["delta"])


def restamp(row: dict) -> dict:
    """Recompute a row's stability after alternatives were added, and name this page's shared networks."""
    row["stability"], row["depends_on"] = protocol.stability(row["robustness"], row["verdict"])
    row["caveat"] = row["caveat"].replace(ra_common.SHARED_NETWORKS, CONV_NOTE)
    return row


def ra4_rows(jac_runs: list[dict], dataset: str, depths: list[int], label: str) -> tuple[list[dict], dict]:
    """The RA-4 rows (power law, within network, affine) over every depth, relabelled for the conv net."""
    deltas = {"alpha": ra4.DELTA_ALPHA, "corr": ra4.DELTA_CORR, "ratio": ra4.DELTA_RATIO}
    settings = ra4.alternatives(depths, list(RA4_SCOPES), list(RA4_AGGREGATIONS))
    rows, shown = ra4.dataset_rows(jac_runs, dataset, depths, deltas, ra4.ALL, "mean", settings)
    for row in rows:
        row["dataset"] = row["dataset"].replace(f"{dataset}: ", f"{label}: ", 1)
        restamp(row)
    return rows, shown


# ---------------------------------------------------------------------------------------------
# The page

def page(profile: str, dataset: str, seeds: list[int], depths: list[int], width: int, epochs: int, batch_size: int,
         lr: float, momentum: float, weight_decay: float, warmup_epochs: int, n_train: int, eval_every: int,
         n_samples: int, n_traj_samples: int, conv_method: str = "krylov",
         null_draws: int = 2000) -> page_mod.PageResult:
    """Get the conv runs (cached, else computed), decide and file the RA-1, RA-2 and RA-4 rows of this page."""
    from ..experiments import ra

    options = dict(arch="resconv", width=width, epochs=epochs, batch_size=batch_size, lr=lr, momentum=momentum,
                   weight_decay=weight_decay, warmup_epochs=warmup_epochs, n_train=n_train, eval_every=eval_every)
    jac_runs = ra.jacobian_runs([dataset], ["identity"], seeds, depths=depths, n_samples=n_samples,
                                conv_method=conv_method, **options)
    traj_runs = ra.trajectory_runs([dataset], ["identity"], seeds, depths=depths, n_samples=n_traj_samples, **options)
    traj = trajectory_table(traj_runs, _dims(jac_runs), null_draws)
    jac = jacobian_table(jac_runs)
    label = lambda L: f"{dataset} conv L={L}"  # noqa: E731
    ra1_rows, d1 = depth_rows(traj, ra1.dataset_rows, depths, label)
    ra2_rows, d2 = depth_rows(jac, ra2.dataset_rows, depths, label)
    ra4_label = f"{dataset} conv"
    ra4_rows_, shown4 = ra4_rows(jac_runs, dataset, depths, ra4_label)
    stamp = records.provenance_stamp(jac_runs + traj_runs)
    for claim, rows in (("RA-1", ra1_rows), ("RA-2", ra2_rows), ("RA-4", ra4_rows_)):
        records.record_verdict(claim, profile, rows, notebook=NOTEBOOK, computed_from=stamp)
    networks = network_overview(traj, jac, shown4["table"])
    rows = [{**r, "claim": c} for c, rs in (("RA-1", ra1_rows), ("RA-2", ra2_rows), ("RA-4", ra4_rows_)) for r in rs]
    robustness = pd.concat([ra_common.robustness_frame(d1), ra_common.robustness_frame(d2)], ignore_index=True)
    return page_mod.PageResult("RA-1, RA-2, RA-4 (conv)", rows, networks, runs={"jacobian": jac_runs, "trajectory": traj_runs},
                               robustness=robustness, stamp=stamp,
                               values=prose_values(rows, networks, shown4, depths),
                               extra={"trajectory": traj, "jacobian": jac, "ra4": shown4, "depth_table": shown4["table"],
                                      "summary": claim_summary(rows),
                                      "ra4_robustness": pd.DataFrame([{"row": r["dataset"], "setting": k, "verdict": v}
                                                                      for r in ra4_rows_ for k, v in r["robustness"].items()]),
                                      "ra4_fits": ra4.fits_table({ra4_label: shown4}, [ra4_label]),
                                      "ra4_alpha": ra4.scope_table({ra4_label: shown4}, [ra4_label])})


def claim_summary(rows: list[dict]) -> pd.DataFrame:
    """:func:`page.summary_table` with the claim of each row first."""
    table = page_mod.summary_table(rows)
    table.insert(0, "claim", [r["claim"] for r in rows])
    return table


def network_overview(traj: pd.DataFrame, jac: pd.DataFrame, ra4_table: pd.DataFrame) -> pd.DataFrame:
    """One row per conv network: regime and the primary measures of every row."""
    keys = ["depth", "seed"]
    t = traj[keys + ["train_acc", "test_acc", "terminal_steps", "lin_mean", "lin0_mean", "kappa_line_mean",
                     "cv_mean", "kappa_steps_mean"]]
    j = jac[keys + ["d", "within_x_all_mean", "overlap_x_all_mean", "chance_overlap"]]
    s = ra4_table[keys + ["sigma1"]]
    return t.merge(j, on=keys).merge(s, on=keys).sort_values(keys).reset_index(drop=True)


def prose_values(rows: list[dict], networks: pd.DataFrame, shown4: dict, depths: list[int]) -> dict:
    """Numbers the page's prose quotes (glued as ``ra_conv_<name>``)."""
    span = ra_common.span
    deep = networks[networks.depth == max(depths)]
    v = {"networks": len(networks), "n_depths": networks.depth.nunique(), "n_seeds": networks.seed.nunique(),
         "deepest": max(depths), "lowest_train_acc": f"{networks.train_acc.min():.4f}",
         "terminal_steps": span(networks.terminal_steps, ",.0f"),
         "gate_steps": f"{protocol.RA_GATE.min_terminal_steps:,}",
         "test_acc": span(networks.test_acc, ".2f"),
         "chance_overlap": f"{networks.chance_overlap.iloc[0]:.4f}",
         "d": f"{int(networks.d.iloc[0]):,}",
         "lin_deep": span(deep.lin_mean, ".2f"), "lin0_deep": span(deep.lin0_mean, ".2f"),
         "overlap_x_deep": span(deep.overlap_x_all_mean, ".1f"), "within_x_deep": span(deep.within_x_all_mean, ".1f")}
    for L, g in networks.groupby("depth"):
        v[f"lin_depth{L}"] = span(g.lin_mean, ".2f")
        v[f"kappa_line_depth{L}"] = span(g.kappa_line_mean, ".2f")
    sigma = networks.groupby("depth")["sigma1"].mean()
    for a, b in zip(sigma.index, sigma.index[1:]):
        v[f"local_exponent_{a}_{b}"] = f"{math.log(sigma[a] / sigma[b]) / math.log(b / a):.2f}"
    verdicts = sorted({r["verdict"] for r in rows})
    v["verdicts"] = f"every row is {verdicts[0]}" if len(verdicts) == 1 else "verdicts " + ", ".join(verdicts)
    fit = shown4["fit"]
    v["alpha_lof_F"] = f"{fit['lack_of_fit']['F']:.1f}"
    v["alpha_lof_p"] = f"{fit['lack_of_fit']['p']:.2g}"
    for r in rows:
        key = f"{r['claim'].replace('-', '').lower()}_{r['dataset'].split(': ', 1)[1].replace(' ', '_').replace('/', '')}"
        key = key.replace("σ₁", "sigma").replace("σ̄₁", "sigmabar").replace("-", "_")
        p = r["primary"]
        v[f"verdict_{key}"] = r["verdict"]
        v[f"if_in_regime_{key}"] = protocol.decide(*_ci(p), True)
        v[f"gate_alt_{key}"] = next((x for k, x in r["robustness"].items() if k.startswith("gate")), "n/a")
        v[f"stability_{key}"] = r["stability"]
        v[f"effect_{key}"] = f"{p['estimate']:.2f}" + ("" if p["lo"] is None else f" [{p['lo']:.2f}, {p['hi']:.2f}]")
    return v

