"""``ra_spectrum``: per-block, per-sample DISTRIBUTIONS of the RA-2 … RA-4 measures (protocol v2, SPEC §5, §7).

``ra_jacobian`` keeps per-block means over samples; v2 needs medians and quantiles, the rank at three ε
with the share of samples at rank ≤ C, the spectral gap the rank threshold cuts, alignment per direction,
the authors' RA-2 statistic (diagonal share of the grids |U_mᵀ J_l V_m|) with its chance value, and the
regime of the network (SGD steps, and SGD steps after train accuracy reached 0.999). The network is the
``ra_jacobian`` one: same training config, same defaults, same checkpoint (``checkpoints.trained``), so a
``ra_jacobian`` config of a ResMLP is a valid ``ra_spectrum`` config.

Stored compactly (a depth-32 record is about 40 KB): per-block tables and matrices are lists of strings,
one row per block, numbers separated by single spaces (``%.5g``; overlaps, shares and alignments in
[0, 1] with 4 decimals). Read them with :func:`block_table`, :func:`matrix` and :func:`curve`.
The record has no per-epoch ``history`` list (a 3,000-epoch run would make it hundreds of KB): the
regime is in the metrics (``sgd_steps``, ``terminal_steps``, ``terminal_steps_held``,
``first_epoch_at_bar``) and the accuracy curves in ``arrays["curve"]``.
"""
from __future__ import annotations

import math
import time

import torch

from .. import checkpoints, data, devices, regime
from ..train import TrainConfig, training_split
from . import experiment
from .ra import MEASURE_LATER, TRAIN_DEFAULTS, _validate as _validate_ra, untangling_frames

EPS = (1e-3, 1e-2, 5e-2)                  # numerical-rank thresholds (SPEC §5: show all three)
EPS_LABELS = ("1e-3", "1e-2", "5e-2")
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
Q_LABELS = ("q10", "q25", "q50", "q75", "q90")
STRONG = 0.1          # alignment restricted to directions with σ_i ≥ STRONG·σ₁ (the rest are poorly determined)
BAR = regime.BAR      # terminal phase: train accuracy at or above this (claims.protocol.RA_GATE)
CHANCE_SAMPLES = 64   # samples per block whose J_l enters the Monte Carlo chance value of the diagonal share
CHANCE_DRAWS = 4      # random orthonormal (U, V) pairs per such sample
CHANCE_SEED = 0
CURVE_POINTS = 500    # at most this many epochs of the accuracy curves are stored (every k-th, and the last)

# The same defaults as ra_jacobian (rank_eps: the ε of the headline metric rank_mean; n_top: how many mean
# singular values per block are stored), so a ra_jacobian config is a ra_spectrum config.
DEFAULTS = {**TRAIN_DEFAULTS, "n_samples": 500, "sample_seed": 0, "rank_eps": 1e-2, "n_top": 15}


def _validate(cfg: dict) -> None:
    _validate_ra(cfg)
    if cfg["arch"] != "resmlp":
        raise ValueError(f"ra_spectrum needs the whole spectrum of exact Jacobians: arch='resmlp' only, "
                         f"got {cfg['arch']!r}")


# ---------------------------------------------------------------------------------------------
# Compact storage

def _fmt(v: float, fixed: bool = False) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return "nan"
    return f"{v:.4f}" if fixed else f"{v:.5g}"


def _row(values, fixed: bool = False) -> str:
    return " ".join(_fmt(float(v), fixed) for v in values)


def _rows(mat: torch.Tensor, fixed: bool = False, upper: bool = False) -> list[str]:
    """A matrix as row strings; ``upper``: a symmetric matrix stored as its upper triangle (row l: m ≥ l)."""
    m = mat.double().cpu().tolist()
    return [_row(r[i:] if upper else r, fixed) for i, r in enumerate(m)]


def parse_rows(rows: list[str]) -> list[list[float]]:
    return [[float(x) for x in r.split()] if r else [] for r in rows]


def matrix(record: dict, key: str):
    """An L×L matrix of ``arrays`` as a numpy array (a stored upper triangle is mirrored)."""
    import numpy as np

    rows = parse_rows(record["arrays"][key])
    n = len(rows)
    out = np.full((n, n), np.nan)
    triangular = all(len(r) == n - i for i, r in enumerate(rows)) and n > 1 and len(rows[-1]) == 1
    for i, r in enumerate(rows):
        if triangular:
            out[i, i:] = r
            out[i:, i] = r
        else:
            out[i, :len(r)] = r
    return out


def block_table(record: dict):
    """The per-block distributions: one row per block (``block`` = 1 … L), columns ``arrays["block_columns"]``."""
    import pandas as pd

    table = pd.DataFrame(parse_rows(record["arrays"]["blocks"]), columns=record["arrays"]["block_columns"])
    table.insert(0, "block", range(1, len(table) + 1))
    return table


def alignment_by_direction(record: dict):
    """(L, C) mean over samples of |u_iᵀ v_i| for i = 1 … C, per block."""
    import numpy as np

    return np.array(parse_rows(record["arrays"]["alignment_by_i"]))


def curve(record: dict):
    """Train and test accuracy per stored epoch (every ``every``-th, and the last) as a DataFrame."""
    import pandas as pd

    c = record["arrays"]["curve"]
    return pd.DataFrame({"epoch": [int(e) for e in c["epoch"].split()],
                         **{k: [float(x) for x in c[k].split()] for k in ("train_acc", "test_acc")}})


# ---------------------------------------------------------------------------------------------
# Measures

def summary(x: torch.Tensor) -> dict:
    """Mean and the QUANTILES of a per-sample vector, as floats keyed mean, q10 … q90."""
    x = x.double().flatten()
    q = torch.quantile(x, torch.tensor(QUANTILES, dtype=torch.float64, device=x.device))
    return {"mean": x.mean().item(), **{k: v for k, v in zip(Q_LABELS, q.tolist())}}


def diagonal_share(grid: torch.Tensor) -> torch.Tensor:
    """trace(G) / sum(G) of the last two dims of nonnegative C×C grids G = |U_mᵀ J_l V_m|."""
    return grid.diagonal(dim1=-2, dim2=-1).sum(-1) / grid.sum(dim=(-2, -1)).clamp_min(torch.finfo(grid.dtype).tiny)


def grid_diagonal_share(jac: torch.Tensor, us: torch.Tensor, vs: torch.Tensor) -> torch.Tensor:
    """(M, N) diagonal share of |U_mᵀ J V_m| for one block's Jacobians ``jac`` (N, d, d) and the top-C
    vectors ``us``, ``vs`` (M, N, d, C) of M blocks (the same sample n throughout)."""
    m, n, d, c = vs.shape
    jv = (jac @ vs.permute(1, 2, 0, 3).reshape(n, d, m * c)).reshape(n, d, m, c)  # J V_m for every m
    grid = torch.einsum("mndi,ndmj->mnij", us, jv).abs()
    return diagonal_share(grid)


def random_orthonormal(shape: tuple, generator: torch.Generator, dtype=torch.float32) -> torch.Tensor:
    """Orthonormal columns (*, d, C) from a Gaussian by QR (Haar up to column signs, which |·| ignores)."""
    return torch.linalg.qr(torch.randn(*shape, generator=generator, dtype=torch.float64))[0].to(dtype)


def chance_diagonal_share(jacs: torch.Tensor, c: int, draws: int = CHANCE_DRAWS, seed: int = CHANCE_SEED) -> torch.Tensor:
    """Diagonal shares of |Uᵀ J V| for the given Jacobians (N, d, d) and random orthonormal U, V (d×C),
    ``draws`` pairs per Jacobian (flattened). Its expectation is 1/C for any J (a random permutation of V's
    columns leaves the law unchanged, so every entry of a row has the same expected share)."""
    g = torch.Generator().manual_seed(seed)
    n, d, _ = jacs.shape
    u = random_orthonormal((draws, n, d, c), g).to(jacs.device, jacs.dtype)
    v = random_orthonormal((draws, n, d, c), g).to(jacs.device, jacs.dtype)
    grid = (u.mT @ jacs[None] @ v).abs()
    return diagonal_share(grid).flatten()


def random_alignment(d: int) -> float:
    """E|uᵀv| for independent uniform unit vectors in R^d: Γ(d/2) / (√π Γ((d+1)/2)) (≈ √(2/(πd)))."""
    return math.exp(math.lgamma(d / 2) - math.lgamma((d + 1) / 2)) / math.sqrt(math.pi)


first_epoch_at = regime.first_epoch_at
terminal_steps = regime.steps_after_first
terminal_steps_held = regime.steps_held


def steps_per_epoch(tcfg: TrainConfig, ds) -> int:
    size_fn = getattr(data, "train_size", None)  # another module may provide it without loading the data
    n = int(size_fn(tcfg.dataset, tcfg.n_train)) if size_fn is not None else len(training_split(tcfg, ds)[1])
    return math.ceil(n / tcfg.batch_size)


def sgd_steps(tcfg: TrainConfig, ds) -> int:
    from .. import train as train_module

    fn = getattr(train_module, "sgd_steps", None)
    if fn is not None:
        try:
            return int(fn(tcfg))
        except TypeError:
            pass
    return steps_per_epoch(tcfg, ds) * tcfg.epochs


def _svd(jac: torch.Tensor, c: int):
    """All singular values (N, d) and the top-C singular vectors U, V (N, d, C) of a batch (N, d, d).

    The SVD runs on the CPU (LAPACK) wherever the Jacobians are: its cost there is measured and
    predictable (about 1 ms per 128×128 matrix on one thread), while batched SVDs of 128×128 matrices on a
    GPU go through iterative solvers one matrix at a time. The products around it stay on the device."""
    u, s, vh = torch.linalg.svd(jac.cpu(), full_matrices=False)
    return u[..., :c].to(jac.device), s.to(jac.device), vh[:, :c].mT.to(jac.device)


def _block_jacobian(model, inputs: torch.Tensor, l: int, frames) -> torch.Tensor:
    from .. import jacobians

    jac = jacobians.mlp_jacobians(model.blocks[l], inputs[:, l])
    if frames is not None:  # J̃_l = P_l⁻¹ J_l P_{l-1}
        f = frames.to(jac.device)
        jac = torch.linalg.solve(f[l + 1], jac.double() @ f[l]).to(jac.dtype)
    return jac


def block_measures(s: torch.Tensor, u: torch.Tensor, v: torch.Tensor, c: int) -> tuple[dict, torch.Tensor]:
    """Per-block distributions from all singular values ``s`` (N, d) and top-C vectors u, v (N, d, C):
    a flat dict of table columns, and the (C,) mean over samples of |u_iᵀ v_i|."""
    from .. import alignment

    row: dict = {}
    for eps, lab in zip(EPS, EPS_LABELS):
        rank = alignment.numerical_rank(s, eps).double()
        row.update({f"rank_{lab}_{k}": x for k, x in summary(rank).items()})
        row[f"rank_{lab}_le_c"] = (rank <= c).double().mean().item()
    row.update({f"energy_top_c_{k}": x for k, x in summary(alignment.top_energy(s, c)).items()})
    row.update({f"sigma1_{k}": x for k, x in summary(s[:, 0]).items()})
    gap = s[:, c] / s[:, 0] if s.shape[1] > c else torch.zeros_like(s[:, 0])
    row.update({f"gap_{k}": x for k, x in summary(gap).items()})  # σ_{C+1} / σ₁
    per_i = (u * v).sum(dim=1).abs()  # (N, C)
    strong = s[:, :c] >= STRONG * s[:, :1]  # σ_i ≥ 0.1 σ₁ (always holds for i = 1)
    restricted = (per_i * strong).sum(1) / strong.sum(1).clamp_min(1)
    row.update({f"align_strong_{k}": x for k, x in summary(restricted).items()})
    row["align_all_mean"] = per_i.mean().item()
    row["n_strong_mean"] = strong.double().sum(1).mean().item()
    return row, per_i.double().mean(0)


@torch.no_grad()
def measure(model, x: torch.Tensor, c: int, cfg: dict, frames=None) -> dict:
    """Both passes over the blocks of a ResMLP at test inputs ``x`` (on the model's device): per-block
    measure rows, per-direction alignment, mean top singular values, rank at ``cfg["rank_eps"]``, the L×L
    diagonal-share matrix, chance shares and the overlap matrices (mean, q10, q90)."""
    from .. import alignment

    inputs = model.trajectory(x)[:, :-1]  # (N, L, d): the input h_{l-1} of block l
    L = len(model.blocks)
    us, vs, rows, by_i, tops, ranks = [], [], [], [], [], []
    for l in range(L):  # pass 1: spectra and top-C vectors of every block
        jac = _block_jacobian(model, inputs, l, frames)
        u, s, v = _svd(jac, c)
        ranks.append(alignment.numerical_rank(s, cfg["rank_eps"]).double().mean().item())
        us.append(u)
        vs.append(v)
        row, per_i = block_measures(s, u, v, c)
        rows.append(row)
        by_i.append(per_i)
        tops.append(s[:, :cfg["n_top"]].double().mean(0))
    us_t, vs_t = torch.stack(us), torch.stack(vs)  # (L, N, d, C)
    share = torch.empty(L, L, dtype=torch.float64)
    chance = []
    ov = {k: torch.empty(3, L, L, dtype=torch.float64) for k in ("u", "v")}
    qs = torch.tensor((0.1, 0.9), dtype=torch.float64)
    for l in range(L):  # pass 2: the grids |U_mᵀ J_l V_m| and per-sample overlaps
        jac = _block_jacobian(model, inputs, l, frames)
        share[l] = grid_diagonal_share(jac, us_t, vs_t).double().mean(1).cpu()
        chance.append(chance_diagonal_share(jac[:CHANCE_SAMPLES], c, seed=CHANCE_SEED + l).double().cpu())
        for key, bases in (("u", us_t), ("v", vs_t)):
            per = torch.einsum("ndc,mndk->mnck", bases[l], bases).pow(2).sum(dim=(-1, -2)).double() / c  # (L, N)
            ov[key][0, l] = per.mean(1).cpu()
            ov[key][1:, l] = torch.quantile(per.cpu(), qs, dim=1)
    return {"rows": rows, "by_i": by_i, "tops": tops, "ranks": ranks, "share": share, "chance": chance, "ov": ov}


FIXED_COLUMNS = ("energy_top_c_", "align_", "_le_c")  # columns in [0, 1]: 4 decimals


@experiment("ra_spectrum", version=1, defaults=DEFAULTS, validate=_validate, later=MEASURE_LATER)
def ra_spectrum(cfg: dict) -> dict:
    """Train (or load) the ra_jacobian ResMLP; store per-block, per-sample distributions of the RA measures."""
    tcfg = TrainConfig.from_options(cfg)
    model, history, metrics = checkpoints.trained(tcfg)
    start = time.perf_counter()
    ds = data.load(tcfg.dataset)
    c = ds.num_classes
    dev = devices.current()
    idx = data.stratified_indices(ds.y_test, min(cfg["n_samples"], len(ds.y_test)), seed=cfg["sample_seed"])
    frames = untangling_frames(model) if cfg.get("frame", "raw") == "untangled" else None
    model = model.to(dev).eval()
    m = measure(model, ds.x_test[idx].to(dev), c, cfg, frames)
    rows, by_i, tops, ranks, share, chance, ov = (m[k] for k in ("rows", "by_i", "tops", "ranks", "share", "chance", "ov"))
    L, n, d = len(rows), len(idx), model.blocks[0].fc1.weight.shape[1]
    chance_t = torch.cat(chance)
    columns = list(rows[0])
    fixed = [any(tag in col for tag in FIXED_COLUMNS) for col in columns]
    block_rows = [" ".join(_fmt(r[col], f) for col, f in zip(columns, fixed)) for r in rows]
    off = ~torch.eye(L, dtype=torch.bool)
    spe = steps_per_epoch(tcfg, ds)
    every = max(1, math.ceil(len(history) / CURVE_POINTS))
    kept = [e for i, e in enumerate(history) if (i + 1) % every == 0 or i + 1 == len(history)]
    col_mean = lambda name: sum(r[name] for r in rows) / L  # noqa: E731
    rank_mean = sum(ranks) / L  # at cfg["rank_eps"], as ra_jacobian's rank_mean
    new_metrics = {
        "num_classes": c, "n_samples": n, "width": tcfg.width, "depth": L,
        "steps_per_epoch": spe, "epochs_trained": len(history), "sgd_steps": sgd_steps(tcfg, ds),
        "first_epoch_at_bar": first_epoch_at(history), "terminal_steps": terminal_steps(history, spe),
        "terminal_steps_held": terminal_steps_held(history, spe),
        "random_overlap": c / d, "random_alignment": random_alignment(d),
        "diag_share_chance": chance_t.mean().item(), "diag_share_chance_sd": chance_t.std().item(),
        "diag_share_offdiag_mean": share[off].mean().item() if L > 1 else float("nan"),
        "sigma1_mean": col_mean("sigma1_mean"), "rank_mean": rank_mean,
        "energy_top_c_mean": col_mean("energy_top_c_mean"), "within_alignment_mean": col_mean("align_all_mean"),
        "align_strong_mean": col_mean("align_strong_mean"),
        "overlap_u_mean": ov["u"][0][off].mean().item() if L > 1 else float("nan"),
        "overlap_v_mean": ov["v"][0][off].mean().item() if L > 1 else float("nan"),
    }
    for lab in EPS_LABELS:
        new_metrics[f"rank_{lab}_le_c_mean"] = col_mean(f"rank_{lab}_le_c")
    new_metrics = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in new_metrics.items()}
    return {
        "metrics": {**metrics, **new_metrics, "measure_seconds": time.perf_counter() - start},
        "arrays": {
            "format": "row strings, one per block, numbers separated by spaces; read with "
                      "entres.experiments.spectra.block_table / matrix / alignment_by_direction / curve",
            "block_columns": columns,
            "blocks": block_rows,
            "alignment_by_i": [_row(x.tolist(), fixed=True) for x in by_i],
            "top_singular_values": [_row(x.tolist()) for x in tops],
            "diag_share": _rows(share, fixed=True),  # row l = J_l, column m = block m's U_m, V_m
            **{f"overlap_{k}{suffix}": _rows(ov[k][i], fixed=True, upper=True)
               for k in ("u", "v") for i, suffix in enumerate(("", "_q10", "_q90"))},
            "curve": {"every": every, "epoch": " ".join(str(e["epoch"]) for e in kept),
                      **{k: " ".join(_fmt(float(e.get(k, float("nan")))) for e in kept)
                         for k in ("train_acc", "test_acc")}},
        },
    }


def regime(record: dict) -> dict:
    """Train accuracy and the SGD-step counts of a ra_spectrum record (they live in its metrics)."""
    m = record["metrics"]
    return {k: m[k] for k in ("train_acc", "test_acc", "sgd_steps", "terminal_steps", "terminal_steps_held",
                              "first_epoch_at_bar")}


def spectrum_runs(datasets, skips, seeds, **options) -> list[dict]:
    from . import grid_runs

    return grid_runs("ra_spectrum", datasets, skips, seeds, **options)
