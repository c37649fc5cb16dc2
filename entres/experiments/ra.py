"""Residual Alignment experiments on trained networks."""
from __future__ import annotations

import torch

from .. import checkpoints, data, trajectory
from ..train import TrainConfig
from . import experiment, grid_runs

TRAIN_DEFAULTS = TrainConfig().to_dict()
TRAIN_LATER = TrainConfig.later_defaults()
FRAMES = ("raw", "untangled")
MEASURE_LATER = {**TRAIN_LATER, "frame": "raw"}  # frame: where h_l and J_l are expressed
CONV_METHODS = ("subspace", "krylov")
# conv_method: how conv blocks' top-C triplets are found (jacobians.topk_matrix_free). Subspace iteration
# computed the first conv results; block Krylov is about twice as fast and more accurate.
JACOBIAN_LATER = {**MEASURE_LATER, "conv_method": "subspace"}


def _round(t: torch.Tensor, digits: int = 6) -> list:
    """Compact, deterministic JSON lists."""
    return torch.round(t.double(), decimals=digits).tolist()


def _validate(cfg: dict) -> None:
    TrainConfig.from_options(cfg)
    frame = cfg.get("frame", "raw")
    if frame not in FRAMES:
        raise ValueError(f"unknown frame {frame!r}; valid: {', '.join(FRAMES)}")
    if frame == "untangled" and cfg["skip"] == "none":
        raise ValueError("the untangled frame needs an invertible skip mapping E; skip='none' has E = 0")
    if frame == "untangled" and cfg["arch"] != "resmlp":
        raise ValueError(f"the untangled frame is implemented for arch='resmlp', got {cfg['arch']!r}")
    if cfg["n_samples"] < 1:
        raise ValueError(f"n_samples must be >= 1, got {cfg['n_samples']}")
    method = cfg.get("conv_method", "subspace")
    if method not in CONV_METHODS:
        raise ValueError(f"unknown conv_method {method!r}; valid: {', '.join(CONV_METHODS)}")
    if method != "subspace" and cfg["arch"] != "resconv":
        raise ValueError(f"conv_method applies to arch='resconv' only, got arch={cfg['arch']!r}")


def untangling_frames(model) -> torch.Tensor | None:
    """P_0 … P_L with P_0 = I and P_l = E_l P_{l-1} (float64, (L+1, d, d)); None for the identity skip.

    If the blocks only applied their skips, h_l would be P_l h_0: ĥ_l = P_l⁻¹ h_l undoes the rotation
    (or shear) that the entangled skips accumulate, and J̃_l = P_l⁻¹ J_l P_{l-1} is the residual
    Jacobian in those coordinates (X-1).
    """
    if all(b.skip.name == "identity" for b in model.blocks):
        return None
    d = model.blocks[0].skip.E.shape[0]
    frames = [torch.eye(d, dtype=torch.float64)]
    for block in model.blocks:
        frames.append(block.skip.E.double() @ frames[-1])
    return torch.stack(frames)


@experiment("ra_trajectory", version=1,
            defaults={**TRAIN_DEFAULTS, "n_samples": 1000, "sample_seed": 0, "n_examples": 8},
            validate=_validate, later=MEASURE_LATER)
def ra_trajectory(cfg: dict) -> dict:
    """Train (or load) a model, then measure RA-1 on ``n_samples`` stratified test inputs."""
    tcfg = TrainConfig.from_options(cfg)
    model, history, metrics = checkpoints.trained(tcfg)
    ds = data.load(tcfg.dataset)
    idx = data.stratified_indices(ds.y_test, min(cfg["n_samples"], len(ds.y_test)), seed=cfg["sample_seed"])
    with torch.no_grad():
        traj = model.trajectory(ds.x_test[idx])[:, 1:]  # (N, L, d): h_1..h_L
    frames = untangling_frames(model) if cfg.get("frame", "raw") == "untangled" else None
    if frames is not None:  # ĥ_l = P_l⁻¹ h_l
        traj = torch.linalg.solve(frames[1:], traj.double().transpose(0, 1).mT).mT.transpose(0, 1).float()
    lin = trajectory.linearity(traj)
    cv = trajectory.step_cv(traj)
    steps = trajectory.step_lengths(traj)
    return {
        "metrics": {**metrics,
                    "lin_mean": torch.nanmean(lin).item(), "lin_median": torch.nanmedian(lin).item(),
                    "cv_mean": torch.nanmean(cv).item(), "cv_median": torch.nanmedian(cv).item(),
                    "n_samples": len(idx)},
        "history": history,
        "arrays": {"lin": _round(lin), "cv": _round(cv),
                   "step_mean": _round(steps.mean(0)),
                   "examples_top2": _round(trajectory.project_top2(traj[_one_per_class(ds.y_test[idx], cfg["n_examples"])])),
                   "example_labels": ds.y_test[idx][_one_per_class(ds.y_test[idx], cfg["n_examples"])].tolist()},
    }


def _one_per_class(labels: torch.Tensor, n: int) -> torch.Tensor:
    """Positions of the first sample of each class, up to ``n`` of them."""
    firsts = [int((labels == c).nonzero()[0]) for c in labels.unique().tolist()]
    return torch.tensor(firsts[:n], dtype=torch.long)


def trajectory_runs(datasets, skips, seeds, **options) -> list[dict]:
    return grid_runs("ra_trajectory", datasets, skips, seeds, **options)


def jacobian_runs(datasets, skips, seeds, **options) -> list[dict]:
    return grid_runs("ra_jacobian", datasets, skips, seeds, **options)


_ID_COLUMNS = ("dataset", "skip", "depth", "width", "seed")


def run_table(records: list[dict], metrics: tuple[str, ...]):
    """One row per run: the identifying config keys and the chosen metrics."""
    import pandas as pd

    return pd.DataFrame([{**{k: r["config"][k] for k in _ID_COLUMNS},
                          **{k: r["metrics"][k] for k in ("train_acc", "test_acc") + tuple(metrics)}}
                         for r in records])


def trajectory_table(records: list[dict]):
    return run_table(records, ("lin_mean", "lin_median", "cv_mean", "cv_median", "n_samples"))


def jacobian_table(records: list[dict]):
    return run_table(records, ("within_alignment_mean", "overlap_u_mean", "overlap_v_mean", "random_overlap",
                               "rank_mean", "energy_top_c_mean", "sigma1_mean", "num_classes", "n_samples"))


@experiment("ra_jacobian", version=1,
            defaults={**TRAIN_DEFAULTS, "n_samples": 500, "sample_seed": 0, "rank_eps": 1e-2, "n_top": 15},
            validate=_validate, later=JACOBIAN_LATER)
def ra_jacobian(cfg: dict) -> dict:
    """Train (or load) a ResMLP or the RA conv net (``arch="resconv"``), then measure RA-2 … RA-4 on
    the residual Jacobians of every block (exact for MLP blocks, top-C matrix-free for conv blocks)."""
    from .. import alignment

    tcfg = TrainConfig.from_options(cfg)
    model, history, metrics = checkpoints.trained(tcfg)
    ds = data.load(tcfg.dataset)
    c = ds.num_classes
    idx = data.stratified_indices(ds.y_test, min(cfg["n_samples"], len(ds.y_test)), seed=cfg["sample_seed"])
    if tcfg.arch == "resconv":
        us, vs, per_block = _conv_blocks(model, ds.x_test[idx], c, cfg.get("conv_method", "subspace"))
    else:
        frames = untangling_frames(model) if cfg.get("frame", "raw") == "untangled" else None
        us, vs, per_block = _mlp_blocks(model, ds.x_test[idx], c, cfg, frames)
    overlap_u = alignment.overlap_matrix(torch.stack(us))
    overlap_v = alignment.overlap_matrix(torch.stack(vs))
    L = len(model.blocks)
    off = ~torch.eye(L, dtype=torch.bool)
    mean = lambda key: sum(b[key] for b in per_block) / L if key in per_block[0] else None  # noqa: E731
    return {
        "metrics": {**metrics, "num_classes": c, "n_samples": len(idx), "width": tcfg.width,
                    "random_overlap": c / us[0].shape[1],
                    "sigma1_mean": mean("sigma1"), "rank_mean": mean("rank"),
                    "energy_top_c_mean": mean("energy_top_c"), "within_alignment_mean": mean("within_alignment"),
                    "overlap_u_mean": overlap_u[off].mean().item() if L > 1 else float("nan"),
                    "overlap_v_mean": overlap_v[off].mean().item() if L > 1 else float("nan")},
        "history": history,
        "arrays": {"blocks": per_block, "overlap_u": _round(overlap_u, 4), "overlap_v": _round(overlap_v, 4)},
    }


def _mlp_blocks(model, x: torch.Tensor, c: int, cfg: dict, frames: torch.Tensor | None = None):
    """Exact Jacobians of every fully-connected block: top-C vectors and per-block summaries
    (in the untangled frame J̃_l = P_l⁻¹ J_l P_{l-1} if ``frames`` are given)."""
    from .. import alignment, jacobians

    with torch.no_grad():
        inputs = model.trajectory(x)[:, :-1]  # (N, L, d): the input h_{l-1} of block l
    us, vs, per_block = [], [], []
    for l, block in enumerate(model.blocks):
        jac = jacobians.mlp_jacobians(block, inputs[:, l])
        if frames is not None:
            jac = torch.linalg.solve(frames[l + 1], jac.double() @ frames[l]).to(jac.dtype)
        u, s, v = jacobians.top_singular(jac, c)
        us.append(u)
        vs.append(v)
        rank = alignment.numerical_rank(s, cfg["rank_eps"]).double()
        per_block.append({
            "sigma1": s[:, 0].mean().item(),
            "rank": rank.mean().item(),
            "rank_median": rank.median().item(),
            "energy_top_c": alignment.top_energy(s, c).mean().item(),
            "within_alignment": alignment.within_alignment(u, v).mean().item(),
            "top_singular_values": _round(s[:, :cfg["n_top"]].mean(0)),
        })
    return us, vs, per_block


def _conv_blocks(model, x: torch.Tensor, c: int, method: str):
    """Top-C singular triplets of every convolutional block, matrix-free by ``method`` (no rank or energy:
    those need the whole spectrum, and RA-3 is stated for fully-connected networks)."""
    from .. import alignment, jacobians

    us, vs, per_block = [], [], []
    with torch.no_grad():
        h = model.stem(x)  # (N, c, H, W)
    for block in model.blocks:
        u, s, v = jacobians.conv_top_singular(block, h, c, method=method)
        us.append(u)
        vs.append(v)
        per_block.append({"sigma1": s[:, 0].mean().item(),
                          "within_alignment": alignment.within_alignment(u, v).mean().item(),
                          "top_singular_values": _round(s.mean(0))})
        with torch.no_grad():
            h = block(h)
    return us, vs, per_block


@experiment("ra_collapse", version=1,
            defaults={**TRAIN_DEFAULTS, "n_samples": 2000, "sample_seed": 0, "nc_every": 10},
            validate=_validate, later=TRAIN_LATER)
def ra_collapse(cfg: dict) -> dict:
    """Train a model and measure Neural Collapse (NC1–NC4) of its last-layer features during training.

    Measured on ``n_samples`` stratified training inputs (the data collapse is defined on) after
    epoch 1, every ``nc_every`` epochs and after the last epoch.
    """
    from .. import collapse
    from ..train import training_split

    tcfg = TrainConfig.from_options(cfg)
    ds = data.load(tcfg.dataset)
    x, y = training_split(tcfg, ds)
    idx = data.stratified_indices(y, min(cfg["n_samples"], len(y)), seed=cfg["sample_seed"])
    xs, ys = x[idx], y[idx]

    def measure(epoch: int, model) -> dict | None:
        if epoch != 1 and epoch % cfg["nc_every"] and epoch != tcfg.epochs:
            return None
        dev = model.head.weight.device  # the training device (ENTRES_DEVICE)
        feats = model.forward_features(xs.to(dev)).flatten(1)
        return {"nc": collapse.neural_collapse(feats, ys.to(dev), model.head.weight, model.head.bias)}

    _, history, metrics = checkpoints.trained(tcfg, on_epoch=measure)
    final = history[-1]["nc"]
    return {"metrics": {**metrics, **{f"{k}_final": v for k, v in final.items()},
                        **{f"{k}_first": v for k, v in history[0]["nc"].items()}},
            "history": history}


def collapse_runs(datasets, skips, seeds, **options) -> list[dict]:
    return grid_runs("ra_collapse", datasets, skips, seeds, **options)


NC_MEASURES = ("nc1", "nc2_equinorm_means", "nc2_equinorm_weights", "nc2_equiangular_means",
               "nc2_maxangle_means", "nc2_maxangle_weights", "nc3_self_duality", "nc4_agreement")


def collapse_table(records: list[dict]):
    """One row per run: final NC measures, and how many decades NC1 fell from epoch 1 to the end."""
    import math

    table = run_table(records, tuple(f"{m}_final" for m in NC_MEASURES))
    table["nc1_decades"] = [math.log10(r["metrics"]["nc1_first"] / r["metrics"]["nc1_final"]) for r in records]
    return table


def collapse_curves(record: dict):
    """The NC measures against epoch for one run (the epochs at which they were taken)."""
    import pandas as pd

    return pd.DataFrame([{"epoch": i + 1, **e["nc"]} for i, e in enumerate(record["history"]) if "nc" in e])
