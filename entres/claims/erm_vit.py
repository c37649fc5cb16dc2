"""The ERM-2 / ERM-3 (ViT) page: entangled skips in a small Vision Transformer, under protocol v2.

ERM-2: sparse − reference > 0; ERM-3 (ViT half): orthogonal − reference < 0; δ = 0.5 percentage points; the ERM
gate on every network compared. The reference is the identity and permutation networks pooled where permutation
networks were trained (:mod:`entres.claims.erm`); the book profile has none, so there it is the identity alone.
Robustness: δ halved and doubled (and the identity alone, where a permutation reference exists).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..experiments import erm as experiment
from . import erm, records
from .page import PageResult

CLAIMS = (("ERM-2", "sparse", +1), ("ERM-3", "orthogonal", -1))
MIN_IDENTITY_ACC = 0.60
BF16_TOLERANCE = 0.01


def training_options(depth, width, epochs, batch_size, optimizer, lr, weight_decay, warmup_epochs, n_train) -> dict:
    return dict(arch="vit", depth=depth, width=width, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                lr=lr, momentum=0.9, weight_decay=weight_decay, warmup_epochs=warmup_epochs, augment=True,
                n_train=n_train, grad_clip=0.0, eval_every=1)


def residual_matrices(skip: str, seed: int, depth: int, width: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per block of the ViT that ``seed`` trains: the E of its attention residual and of its MLP residual."""
    from .. import models

    model = models.create("vit", in_shape=(3, 32, 32), num_classes=10, depth=depth, width=width, skip=skip,
                          skip_seed=seed)
    return [(b.skip.E.numpy(), b.skip2.E.numpy()) for b in model.blocks]


def residuals_share_e(skip: str, seeds, depth: int, width: int) -> bool:
    """Whether both residuals of every block use one and the same E (read from the built models)."""
    return all(np.array_equal(a, b) for s in seeds for a, b in residual_matrices(skip, s, depth, width))


def shared_e_text(shared: bool) -> str:
    """The page's sentence about the two residuals of a block, from :func:`residuals_share_e`."""
    return ("both residuals of a block use the same matrix E" if shared else
            "the two residuals of a block use two different matrices of the same family (drawn from different seeds)")


def bf16_check(runs: list[dict], fp32_runs: list[dict], tolerance: float = BF16_TOLERANCE) -> pd.DataFrame:
    """float32 − bfloat16 test accuracy of the same identity network (same seed), and whether it is within
    ``tolerance``."""
    bf16 = {r["config"]["seed"]: r["metrics"]["test_acc"] for r in runs if r["config"]["skip"] == "identity"}
    rows = [{"seed": r["config"]["seed"], "float32": r["metrics"]["test_acc"], "bfloat16": bf16.get(r["config"]["seed"])}
            for r in fp32_runs]
    df = pd.DataFrame(rows, columns=["seed", "float32", "bfloat16"])
    df["float32 − bfloat16"] = df["float32"] - df["bfloat16"]
    df["within tolerance"] = df["float32 − bfloat16"].abs() <= tolerance
    return df


def claim_row(skip, direction, table, dataset, depth, delta, min_identity_acc):
    """The filed row of one claim, its robustness grid and its primary effect."""
    compared = table[table.skip.isin((skip,) + erm.REFERENCE)]
    baseline = table.loc[table.skip == "identity", "test_acc"].mean()
    gate = erm.regime(compared, baseline, min_identity_acc)
    effect = erm.accuracy_effect(table, skip, direction, delta)
    grid = [erm.alternative("primary", effect, gate)]
    has_permutation = (table.skip == "permutation").any()
    if has_permutation:
        alone = erm.accuracy_effect(table, skip, direction, delta, reference=("identity",))
        grid.append(erm.alternative("reference: identity alone", alone,
                                    erm.regime(table[table.skip.isin((skip, "identity"))], baseline, min_identity_acc)))
    grid += erm.delta_alternatives(effect, gate)
    caveats = [] if gate["passed"] else [erm.caveat_not_in_regime(gate, effect)]
    if not has_permutation:
        sd = table.loc[table.skip == "identity", "test_acc"].std(ddof=1)
        caveats.append(f"No permutation ViT was trained, so the reference is the identity alone and the noise floor "
                       f"is only its seed-to-seed SD ({100 * sd:.2f} percentage points).")
    secondary = {"gap, family − reference": _gap(table, skip)}
    row = records.row(f"{dataset} (ViT-{depth})", effect, gate, seeds=int((table.skip == skip).sum()),
                      test_acc=baseline, robustness=erm.robustness_verdicts(grid[1:]), caveat=" ".join(caveats),
                      secondary=secondary, scope="final test accuracy, every network of the family and the reference")
    return row, grid, effect


def _gap(table, skip):
    from . import protocol

    d = protocol.difference_effect("", table.loc[table.skip == skip, "gap"], erm.reference_networks(table)["gap"])
    return (d.estimate, d.lo, d.hi)


def page(profile: str, dataset: str = "cifar10", skips=("identity", "orthogonal", "sparse"), seeds=(0, 1, 2),
         depth: int = 4, width: int = 192, epochs: int = 15, batch_size: int = 128, optimizer: str = "adamw",
         lr: float = 1e-3, weight_decay: float = 0.05, warmup_epochs: int = 1, bf16: bool = True,
         fp32_check_seeds=(0,), bf16_tolerance: float = BF16_TOLERANCE, n_train: int = 0,
         min_identity_acc: float = MIN_IDENTITY_ACC, delta: float = erm.DELTA, file: bool = True) -> PageResult:
    """Train or load every ViT, decide ERM-2 and ERM-3 (ViT), file both, return what the page shows."""
    options = training_options(depth, width, epochs, batch_size, optimizer, lr, weight_decay, warmup_epochs, n_train)
    runs = experiment.runs([dataset], list(skips), list(seeds), bf16=bf16, **options)
    fp32_runs = experiment.runs([dataset], ["identity"], list(fp32_check_seeds), bf16=False, **options) \
        if bf16 and fp32_check_seeds else []
    table = erm.accuracy_table(runs)
    rows, grids, effects = [], {}, {}
    for claim, skip, direction in CLAIMS:
        if skip in skips:
            row, grids[claim], effects[claim] = claim_row(skip, direction, table, dataset, depth, delta,
                                                          min_identity_acc)
            rows.append((claim, row))
    stamp = records.provenance_stamp(runs + fp32_runs)
    if file:
        for claim, row in rows:
            records.record_verdict(claim, profile, [row], notebook="erm_vit", computed_from=stamp)
    entangled = [s for s in skips if s not in ("identity", "none")]
    shared = residuals_share_e(entangled[0], seeds, depth, width) if entangled else True
    norms = {s: erm.spectral_norms([m for seed in seeds for pair in residual_matrices(s, seed, depth, width)
                                    for m in pair]) for s in entangled}
    robustness = pd.concat([pd.DataFrame(g).assign(claim=c) for c, g in grids.items()], ignore_index=True) \
        if grids else pd.DataFrame()
    result = PageResult(claim="ERM-2", rows=[r for _, r in rows], networks=table, runs={"main": runs, "fp32": fp32_runs},
                        robustness=robustness, stamp=stamp,
                        extra={"summary": erm.per_family_summary(table), "claims": [c for c, _ in rows],
                               "effects": effects, "bf16": bf16_check(runs, fp32_runs, bf16_tolerance) if fp32_runs
                               else None, "bf16_enabled": bf16, "shared_e": shared, "norms": norms,
                               "compute": _compute_table(runs + fp32_runs)})
    result.values = values(result, delta, bf16_tolerance)
    return result


def _compute_table(records_: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame([{"device": r["provenance"]["device"], "precision": "bfloat16" if r["config"].get("bf16") else "float32",
                        "seconds": r["provenance"].get("train_seconds", math.nan)} for r in records_])
    if df.empty:
        return pd.DataFrame(columns=["device", "precision", "networks", "median minutes"])
    return (df.groupby(["device", "precision"]).agg(networks=("seconds", "size"),
                                                    median_minutes=("seconds", lambda s: s.median() / 60))
            .reset_index().rename(columns={"median_minutes": "median minutes"}))


def _bf16_minutes(compute: pd.DataFrame) -> float:
    main = compute[compute.precision == "bfloat16"] if (compute.precision == "bfloat16").any() else compute
    return float(main["median minutes"].median()) if len(main) else math.nan


def values(result: PageResult, delta: float, bf16_tolerance: float) -> dict:
    """Numbers and sentences the page's prose quotes."""
    table = result.networks
    identity = table.loc[table.skip == "identity", "test_acc"]
    v = {"delta_points": f"{100 * delta:g}", "gate_acc": f"{erm.protocol.ERM_GATE.min_train_acc:g}",
         "identity_acc": float(identity.mean()), "identity_sd_points": f"{100 * identity.std(ddof=1):.2f}",
         "min_train_acc": float(table.train_acc.min()), "max_train_acc": float(table.train_acc.max()),
         "gap_max": float(table.gap.max()), "shared_e_text": shared_e_text(result.extra["shared_e"]),
         "minutes": _bf16_minutes(result.extra["compute"])}
    for claim, row in zip(result.extra["claims"], result.rows):
        key = claim.lower().replace("-", "")
        e = result.extra["effects"][claim]
        v[f"{key}_verdict"] = row["verdict"]
        v[f"{key}_effect"] = erm.effect_text(e)
        v[f"{key}_ungated"] = erm.ungated_verdict(e)
        v[f"{key}_power"] = erm.power_text(e)
        v[f"{key}_stability"] = row["stability"]
        v["ci_halfwidth_points"] = f"{100 * max((e.hi - e.lo) / 2 for e in result.extra['effects'].values()):.1f}"
    norms = result.extra["norms"]
    if "sparse" in norms:
        v["sparse_norm_range"] = f"{norms['sparse'].min():.1f}–{norms['sparse'].max():.1f}"
    check = result.extra["bf16"]
    if check is not None and len(check):
        worst = float(check["float32 − bfloat16"].abs().max())
        v["bf16_check"] = (f"the float32 twin differs from its bfloat16 network by at most {100 * worst:.2f} percentage "
                           f"points of test accuracy, {'within' if check['within tolerance'].all() else 'outside'} "
                           f"the tolerance of {100 * bf16_tolerance:g} percentage points")
    elif result.extra["bf16_enabled"]:
        v["bf16_check"] = "the float32 twin has not been computed, so the effect of bfloat16 on accuracy is unchecked"
    else:
        v["bf16_check"] = "every network was trained in float32"
    return v
