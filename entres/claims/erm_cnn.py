"""The ERM-1 / ERM-3 (CNN) page: entangled skips in a CIFAR ResNet, read against the permutation null.

ERM-1: sparse − reference > 0; ERM-3 (CNN half): orthogonal − reference < 0; the reference is the identity and
permutation networks pooled (:mod:`entres.claims.erm` states why), δ = 0.5 percentage points, the ERM gate on
every network compared. Robustness: the identity alone as reference, δ halved and doubled, and (ERM-1) every
density of the sparse sweep against the identity trained on the sweep's budget.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .. import mappings
from ..experiments import erm as experiment
from . import erm, protocol, records
from .page import PageResult

CLAIMS = (("ERM-1", "sparse", +1), ("ERM-3", "orthogonal", -1))
MIN_IDENTITY_ACC = 0.85


def training_options(depth, width, epochs, batch_size, lr, weight_decay, n_train) -> dict:
    return dict(arch="rescnn", depth=depth, width=width, epochs=epochs, batch_size=batch_size, lr=lr, momentum=0.9,
                weight_decay=weight_decay, augment=True, n_train=n_train, grad_clip=0.0)


def skip_matrices(skip: str, seed: int, depth: int, width: int, skip_params: dict | None = None) -> list[np.ndarray]:
    """The fixed E of every shape-preserving block of the ResNet that ``seed`` trains (built, not assumed)."""
    from .. import models

    model = models.create("rescnn", in_shape=(3, 32, 32), num_classes=10, depth=depth, width=width, skip=skip,
                          skip_seed=seed, skip_params=skip_params)
    return [m.E.numpy() for m in model.modules() if isinstance(m, mappings.SkipMapping)]


def matrix_properties(skip: str, seeds, depth: int, width: int, skip_params: dict | None = None) -> dict:
    """Spectral norm range and the non-zeros per row beyond one over every E of the networks of ``seeds``."""
    mats = [m for s in seeds for m in skip_matrices(skip, s, depth, width, skip_params)]
    norms, extra = erm.spectral_norms(mats), erm.extra_nonzeros_per_row(mats)
    dims = np.array([m.shape[0] for m in mats])
    by_dim = ", ".join(f"{extra[dims == d].mean():.2f} at {d}" for d in sorted(set(dims)))
    return {"skip": skip, "density": (skip_params or {}).get("density", mappings.DEFAULTS[skip].get("density", math.nan)),
            "matrices": len(mats), "spectral norm min": float(norms.min()), "spectral norm max": float(norms.max()),
            "extra non-zeros per row": float(extra.mean()), "by channels": by_dim,
            "keeps identity scale": erm.keeps_identity_scale(norms)}


def _compute_table(records_: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame([{"device": r["provenance"]["device"],
                        "seconds": r["provenance"].get("train_seconds", math.nan)} for r in records_])
    if df.empty:
        return pd.DataFrame(columns=["device", "networks", "median minutes"])
    return (df.groupby("device").agg(networks=("seconds", "size"), median_minutes=("seconds", lambda s: s.median() / 60))
            .reset_index().rename(columns={"median_minutes": "median minutes"}))


def contrasts(table: pd.DataFrame, delta: float = erm.DELTA) -> pd.DataFrame:
    """Every non-reference family against the pooled reference, and the noise floor (permutation − identity)."""
    rows = []
    floor = erm.noise_floor(table, delta)
    if floor is not None:
        rows.append({"contrast": "permutation − identity (noise floor)", "estimate": floor.estimate, "lo": floor.lo,
                     "hi": floor.hi, "reading at δ": erm.reading(floor), "networks needed per group": erm.power(floor)})
    for skip in [s for s in table.skip.unique() if s not in erm.REFERENCE]:
        e = erm.accuracy_effect(table, skip, +1, delta)
        rows.append({"contrast": f"{skip} − {erm.reference_name(table)}", "estimate": e.estimate, "lo": e.lo,
                     "hi": e.hi, "reading at δ": erm.reading(e),
                     "networks needed per group": erm.power(e)})
    return pd.DataFrame(rows)


def density_sweep(sweep: pd.DataFrame, delta: float = erm.DELTA) -> pd.DataFrame:
    """Per density: sparse − identity (same budget) with its Welch CI and the lowest train accuracy."""
    ident = sweep[sweep.skip == "identity"]
    rows = []
    for rho, g in sweep[sweep.skip == "sparse"].groupby("density"):
        e = protocol.difference_effect("", g.test_acc, ident.test_acc, +1, delta)
        rows.append({"density": rho, "networks": len(g), "test acc": g.test_acc.mean(), "sparse − identity": e.estimate,
                     "lo": e.lo, "hi": e.hi, "min train acc": min(g.train_acc.min(), ident.train_acc.min())})
    return pd.DataFrame(rows)


def robustness_grid(table, sweep, claim_skip, direction, delta, min_identity_acc) -> list[dict]:
    """The verdict of one claim under the alternatives: the identity alone as reference, δ halved and
    doubled, and (ERM-1) each density of the sparse sweep against the identity on the sweep's budget."""
    compared = table[table.skip.isin((claim_skip,) + erm.REFERENCE)]
    baseline = table.loc[table.skip == "identity", "test_acc"].mean()
    gate = erm.regime(compared, baseline, min_identity_acc)
    effect = erm.accuracy_effect(table, claim_skip, direction, delta)
    grid = [erm.alternative("primary", effect, gate)]
    alone = erm.accuracy_effect(table, claim_skip, direction, delta, reference=("identity",))
    grid.append(erm.alternative("reference: identity alone", alone,
                                erm.regime(table[table.skip.isin((claim_skip, "identity"))], baseline, min_identity_acc)))
    grid += erm.delta_alternatives(effect, gate)
    if claim_skip == "sparse" and sweep is not None and len(sweep):
        ident = sweep[sweep.skip == "identity"]
        for rho, g in sweep[sweep.skip == "sparse"].groupby("density"):
            e = protocol.difference_effect(f"test acc, sparse (ρ = {rho:g}) − identity", g.test_acc, ident.test_acc,
                                           direction, delta)
            # the sweep's smaller budget has its own identity baseline; the train-accuracy gate still applies
            grid.append(erm.alternative(f"sparse density = {rho:g}", e, erm.regime(pd.concat([g, ident]))))
    return grid


def claim_row(claim, skip, direction, table, sweep, dataset, depth, delta, min_identity_acc, sparse_props):
    """The filed row of one claim, its robustness grid and its primary effect."""
    compared = table[table.skip.isin((skip,) + erm.REFERENCE)]
    baseline = table.loc[table.skip == "identity", "test_acc"].mean()
    gate = erm.regime(compared, baseline, min_identity_acc)
    effect = erm.accuracy_effect(table, skip, direction, delta)
    grid = robustness_grid(table, sweep, skip, direction, delta, min_identity_acc)
    caveats = [] if gate["passed"] else [erm.caveat_not_in_regime(gate, effect)]
    if skip == "sparse":
        caveats.append(f"Sparse E at density {sparse_props['density']:g} has "
                       f"{sparse_props['extra non-zeros per row']:.2f} non-zeros per row beyond the diagonal "
                       f"({sparse_props['by channels']} channels: nearly I) "
                       f"and spectral norm {sparse_props['spectral norm min']:.2f}–{sparse_props['spectral norm max']:.2f} "
                       f"(not norm-matched to the identity).")
    if skip == "orthogonal":
        caveats.append("The ReLU after the addition clips the negative entries an orthogonal E·h has, which a "
                       "permutation or identity E·h (h ≥ 0) never has: an architectural route to 'orthogonal hurts'.")
    floor = erm.noise_floor(table, delta)
    secondary = {"gap, family − reference": _gap(table, skip)}
    if floor is not None:
        secondary["noise floor, permutation − identity"] = (floor.estimate, floor.lo, floor.hi)
    alone = next(g for g in grid if g["alternative"] == "reference: identity alone")
    secondary["test acc, family − identity alone"] = (alone["estimate"], alone["lo"], alone["hi"])
    row = records.row(f"{dataset} (ResNet-{depth})", effect, gate, seeds=int((table.skip == skip).sum()),
                      test_acc=baseline, robustness=erm.robustness_verdicts(grid[1:]), caveat=" ".join(caveats),
                      secondary=secondary, scope="final test accuracy, every network of the family and the reference")
    return row, grid, effect


def _gap(table, skip):
    ref = erm.reference_networks(table)
    d = protocol.difference_effect("", table.loc[table.skip == skip, "gap"], ref["gap"])
    return (d.estimate, d.lo, d.hi)


def page(profile: str, dataset: str = "cifar10", skips=("identity", "orthogonal", "sparse", "permutation", "correlation"),
         seeds=(0, 1, 2), seeds_per_skip: dict | None = None, depth: int = 20, width: int = 16, epochs: int = 30,
         batch_size: int = 128, lr: float = 0.1, weight_decay: float = 5e-4, n_train: int = 0,
         densities=(), density_seeds=(0, 1), density_n_train: int = 10000, density_epochs: int = 15,
         min_identity_acc: float = MIN_IDENTITY_ACC, delta: float = erm.DELTA, file: bool = True) -> PageResult:
    """Train or load every network, decide ERM-1 and ERM-3 (CNN), file both, return what the page shows."""
    seeds_per_skip = seeds_per_skip or {}
    options = training_options(depth, width, epochs, batch_size, lr, weight_decay, n_train)
    runs = [r for s in skips for r in experiment.runs([dataset], [s], list(seeds_per_skip.get(s, seeds)), **options)]
    sweep_options = {**options, "n_train": density_n_train, "epochs": density_epochs}
    sweep_runs = (experiment.runs([dataset], ["identity"], list(density_seeds), **sweep_options)
                  + [r for rho in densities for r in experiment.runs([dataset], ["sparse"], list(density_seeds),
                                                                     skip_params={"density": rho}, **sweep_options)]
                  ) if densities else []
    table, sweep = erm.accuracy_table(runs), erm.accuracy_table(sweep_runs)
    sparse_seeds = list(seeds_per_skip.get("sparse", seeds))
    sparse_props = matrix_properties("sparse", sparse_seeds, depth, width)
    properties = pd.DataFrame([sparse_props] + [matrix_properties("sparse", sparse_seeds, depth, width, {"density": rho})
                                                for rho in densities if rho != sparse_props["density"]]
                              + [matrix_properties(s, sparse_seeds, depth, width)
                                 for s in skips if s not in ("sparse", "identity")]).sort_values(["skip", "density"])
    rows, grids, effects = [], {}, {}
    for claim, skip, direction in CLAIMS:
        if skip not in skips:
            continue
        row, grids[claim], effects[claim] = claim_row(claim, skip, direction, table, sweep, dataset, depth, delta,
                                                      min_identity_acc, sparse_props)
        rows.append((claim, row))
    stamp = records.provenance_stamp(runs + sweep_runs)
    if file:
        for claim, row in rows:
            records.record_verdict(claim, profile, [row], notebook="erm_cnn", computed_from=stamp)
    robustness = pd.concat([pd.DataFrame(g).assign(claim=c) for c, g in grids.items()], ignore_index=True) \
        if grids else pd.DataFrame()
    result = PageResult(claim="ERM-1", rows=[r for _, r in rows], networks=table,
                             runs={"main": runs, "sweep": sweep_runs}, robustness=robustness, stamp=stamp,
                             extra={"summary": erm.per_family_summary(table), "contrasts": contrasts(table, delta),
                                    "density": density_sweep(sweep, delta) if len(sweep) else pd.DataFrame(),
                                    "sweep": sweep, "matrices": properties,
                                    "compute": _compute_table(runs + sweep_runs), "claims": [c for c, _ in rows],
                                    "effects": effects})
    result.values = values(result, delta)
    return result


def values(result: PageResult, delta: float) -> dict:
    """Numbers and sentences the page's prose quotes."""
    table, rows = result.networks, dict(zip(result.extra["claims"], result.rows))
    v = {"delta_points": f"{100 * delta:g}", "n_networks": len(table),
         "min_train_acc": float(table.train_acc.min()), "max_train_acc": float(table.train_acc.max()),
         "gate_acc": f"{protocol.ERM_GATE.min_train_acc:g}",
         "identity_acc": float(table.loc[table.skip == "identity", "test_acc"].mean())}
    for claim, row in rows.items():
        key = claim.lower().replace("-", "")
        e = result.extra["effects"][claim]
        v[f"{key}_verdict"] = row["verdict"]
        v[f"{key}_effect"] = erm.effect_text(e)
        v[f"{key}_ungated"] = erm.ungated_verdict(e)
        grid = result.robustness[result.robustness.claim == claim]
        v[f"{key}_power"] = erm.power_text(e)
        v[f"{key}_stability"] = row["stability"]
        v[f"{key}_alone_reading"] = grid.loc[grid.alternative == "reference: identity alone", "ungated reading"].iloc[0]
    floor = erm.noise_floor(table, delta)
    if floor is not None:
        v["noise_floor"] = erm.effect_text(floor)
        v["noise_floor_power"] = erm.power_text(floor)
    m = result.extra["matrices"]
    sparse = m[(m.skip == "sparse")].iloc[0] if (m.skip == "sparse").any() else None
    if sparse is not None:
        main = m[(m.skip == "sparse") & (m.density == mappings.DEFAULTS["sparse"]["density"])].iloc[0]
        v["sparse_norm_range"] = f"{main['spectral norm min']:.1f}–{main['spectral norm max']:.1f}"
        v["sparse_extra_per_row"] = main["by channels"]
        v["sparse_keeps_scale"] = ("keeps the identity's scale" if main["keeps identity scale"]
                                   else "does not keep the identity's scale")
    c = result.extra["contrasts"]
    corr = c[c.contrast.str.startswith("correlation")]
    if len(corr):
        v["correlation_effect"] = f"{erm.points(corr.estimate.iloc[0])} [{erm.points(corr.lo.iloc[0])}, {erm.points(corr.hi.iloc[0])}]"
    d = result.extra["density"]
    for _, r in d.iterrows():
        v[f"density_diff_{r['density']:g}".replace(".", "_")] = erm.points(r["sparse − identity"])
    if len(d):
        v["density_max_train_acc"] = float(result.extra["sweep"].train_acc.max())
        v["density_text"] = "; ".join(f"ρ = {r['density']:g}: {erm.points(r['sparse − identity'])}"
                                      for _, r in d.iterrows())
        v["density_networks"] = len(result.extra["sweep"])
    cpu = [r["provenance"].get("train_seconds", math.nan) for r in result.runs["main"]
           if r["provenance"]["device"].startswith("cpu")]
    v["cpu_minutes"] = float(np.median(cpu) / 60) if cpu else math.nan
    v["cpu_networks"] = len(cpu)
    sweep_seconds = [r["provenance"].get("train_seconds", math.nan) for r in result.runs["sweep"]]
    v["density_minutes"] = float(np.median(sweep_seconds) / 60) if sweep_seconds else math.nan
    return v

