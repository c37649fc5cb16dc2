"""Exact relabellings of residual networks, and which measures survive them (issue 19, item 4).

A post-activation block computes h_{l+1} = σ(E_l h_l + F_l(h_l)). Take a network with identity skips and
permutation matrices P_l; set Q_0 = I and Q_{l+1} = P_l Q_l. The network whose block l has the skip E_l = P_l
and the branch F'_l(z) = Q_{l+1} F_l(Q_lᵀ z) computes h'_l = Q_l h_l at every block, because ReLU (and
BatchNorm, per feature) commute with permutations:

    σ(P_l Q_l h_l + Q_{l+1} F_l(h_l)) = Q_{l+1} σ(h_l + F_l(h_l)) = Q_{l+1} h_{l+1}.

With one P at every block, Q_l = P^l. The relabelled copy is a *permutation-skip network* that is exactly
the identity network read in other coordinates: every measure a reader may compare across skip families must
give the same value on both. Measures that depend on the coordinates must agree once h_l is mapped back by
the untangling frames of X-1, ĥ_l = Q_l⁻¹ h_l (:func:`entres.experiments.ra.untangling_frames`).

Where a block changes shape (the CNN's stage changes) it has a learned projection instead of E; the copy
gives it Q_{l+1} S Q_lᵀ with Q_{l+1} = I, so the relabelling restarts at each stage.

:func:`invariance_table` measures every RA and ERM-5 quantity on a small trained network and its relabelled
copy and says, per measure, whether it is coordinate-free, equal only in untangled coordinates, or neither.
"""
from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from . import mappings

COORDINATE_FREE = "coordinate-free"
UNTANGLED_ONLY = "equal in untangled coordinates; differs in raw coordinates"
NOT_INVARIANT = "differs under the relabelling"


# ---------------------------------------------------------------------------------------------
# Building the copy

def _shape_preserving(block) -> bool:
    return isinstance(block.skip, mappings.SkipMapping)


def random_permutations(model, seed: int = 0) -> list[torch.Tensor | None]:
    """One random index permutation per shape-preserving block (None where the block has a projection)."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randperm(b.skip.E.shape[0], generator=g) if _shape_preserving(b) else None for b in model.blocks]


def _per_block(model, perms) -> list[torch.Tensor | None]:
    """``perms`` as one index permutation per block: a single permutation (the same P at every block) or a list."""
    if isinstance(perms, torch.Tensor):
        out = []
        for b in model.blocks:
            if _shape_preserving(b) and b.skip.E.shape[0] != len(perms):
                raise ValueError(f"one permutation of {len(perms)} features cannot act on a block of "
                                 f"{b.skip.E.shape[0]}; pass one permutation per block")
            out.append(perms if _shape_preserving(b) else None)
        return out
    perms = list(perms)
    if len(perms) != len(model.blocks):
        raise ValueError(f"need one permutation per block ({len(model.blocks)}), got {len(perms)}")
    for i, (b, p) in enumerate(zip(model.blocks, perms)):
        if (p is None) == _shape_preserving(b):
            raise ValueError(f"block {i}: {'a permutation' if _shape_preserving(b) else 'None'} expected")
    return perms


def frame_indices(model, perms) -> list[torch.Tensor]:
    """q_0 … q_L, index arrays with Q_l = I[q_l] (so Q_l h = h[q_l]): q_0 the identity, q_{l+1} = q_l[p_l]
    (Q_{l+1} = P_l Q_l), and the identity again after a projection block."""
    perms = _per_block(model, perms)
    width = model.blocks[0].skip.E.shape[0] if _shape_preserving(model.blocks[0]) else model.blocks[0].conv1.in_channels
    qs = [torch.arange(width)]
    for block, p in zip(model.blocks, perms):
        qs.append(qs[-1][p] if p is not None else torch.arange(_out_features(block)))
    return qs


def _out_features(block) -> int:
    for name in ("fc2", "conv2"):
        if hasattr(block, name):
            return getattr(block, name).weight.shape[0]
    raise TypeError(f"cannot relabel a block of type {type(block).__name__}")


def _permute_bn(bn, q: torch.Tensor) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        t = getattr(bn, name)
        if t is not None:
            t.data.copy_(t.data[q])


def _permutation_skip(p: torch.Tensor, channel_dim: int) -> mappings.SkipMapping:
    skip = mappings.build("permutation", len(p), 0, channel_dim=channel_dim)
    skip.E.copy_(torch.eye(len(p))[p])
    return skip


@torch.no_grad()
def relabelled_copy(model, perms):
    """The permutation-skip network that computes Q_l h_l at every block l of ``model`` (identity skips).

    ``perms``: one index permutation p (E = I[p] at every shape-preserving block, so Q_l = P^l) or one per
    block (None at projection blocks). Works for ``resmlp`` and ``rescnn`` models.
    """
    if not all(b.skip.name == "identity" for b in model.blocks if _shape_preserving(b)):
        raise ValueError("relabelled_copy starts from a network with identity skips")
    perms = _per_block(model, perms)
    qs = frame_indices(model, perms)
    out = copy.deepcopy(model)
    for l, (block, p) in enumerate(zip(out.blocks, perms)):
        q_in, q_out = qs[l], qs[l + 1]
        first, second = (block.fc1, block.fc2) if hasattr(block, "fc1") else (block.conv1, block.conv2)
        first.weight.copy_(first.weight[:, q_in])      # F'(z) = Q_out F(Q_inᵀ z)
        second.weight.copy_(second.weight[q_out])
        _permute_bn(block.bn2, q_out)
        if p is not None:
            block.skip = _permutation_skip(p, block.skip.channel_dim)
        else:  # learned projection S' = Q_out S Q_inᵀ (Q_out = I)
            conv, bn = block.skip[0], block.skip[1]
            conv.weight.copy_(conv.weight[q_out][:, q_in])
            _permute_bn(bn, q_out)
    out.head.weight.copy_(out.head.weight[:, qs[-1]])
    return out.eval()


def untangle(h: torch.Tensor, q: torch.Tensor, feature_dim: int = -1) -> torch.Tensor:
    """Q⁻¹ h for Q = I[q] acting on ``feature_dim`` (features, or channels with ``feature_dim=1``)."""
    return h.index_select(feature_dim, torch.argsort(q))


def frames_as_matrices(qs: list[torch.Tensor]) -> torch.Tensor:
    """The frames Q_0 … Q_L as float64 matrices (L+1, d, d) (same width throughout, e.g. a ResMLP)."""
    return torch.stack([torch.eye(len(q), dtype=torch.float64)[q] for q in qs])


# ---------------------------------------------------------------------------------------------
# A tiny trained network to check measures on

def tiny_trained(arch: str = "resmlp", steps: int = 40, seed: int = 0):
    """A small identity-skip network trained for ``steps`` SGD steps on synthetic data (seconds on a CPU),
    with its data: (model in eval mode, x, y, num_classes). ResMLP: depth 4, width 12, 4 classes; ResCNN:
    ResNet-14 of width 4 on 3×8×8 inputs, 3 classes."""
    from . import models

    torch.manual_seed(seed)
    if arch == "resmlp":
        in_shape, classes, n = (10,), 4, 256
        model = models.create("resmlp", in_shape=in_shape, num_classes=classes, depth=4, width=12)
    elif arch == "rescnn":
        in_shape, classes, n = (3, 8, 8), 3, 128
        model = models.create("rescnn", in_shape=in_shape, num_classes=classes, depth=14, width=4)
    else:
        raise ValueError(f"tiny_trained supports resmlp and rescnn, got {arch!r}")
    x = torch.randn(n, *in_shape)
    teacher = torch.randn(math.prod(in_shape), classes)
    y = (x.flatten(1) @ teacher).argmax(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for step in range(steps):
        batch = torch.arange(step * 64, step * 64 + 64) % n
        opt.zero_grad()
        F.cross_entropy(model(x[batch]), y[batch]).backward()
        opt.step()
    return model.eval(), x, y, classes


# ---------------------------------------------------------------------------------------------
# Every measure on a network and its copy

def v1_gradient_cosine(model, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """The cosine as ``erm_refinement`` v1 computed it: F_l against −∂L/∂h at the block *input* (before E).
    Kept only to show, in :func:`invariance_table`, what the relabelling test catches; NaN at stage changes."""
    model.eval()
    inputs, updates = [], []
    h = model.stem(x).detach()
    for block in model.blocks:
        h = h.requires_grad_(True)
        inputs.append(h)
        updates.append(block.branch(h))
        h = block(h)
    loss = F.cross_entropy(model.head(h.mean(dim=(2, 3)) if h.dim() == 4 else h), y, reduction="sum")
    grads = torch.autograd.grad(loss, inputs)
    out = []
    for h_in, f, g in zip(inputs, updates, grads):
        f, g = f.detach().flatten(1), g.flatten(1)
        out.append(F.cosine_similarity(f, -g, dim=1).mean().item() if f.shape == g.shape else math.nan)
    return out


def _refinement(model, x, y, classes) -> dict[str, list[float]]:
    from . import refinement

    blocks = refinement.block_updates(model, x, y)
    feats = refinement.block_features(model, x)
    half = len(x) // 2
    return {"relative update ‖F_l‖/‖h_l‖ (refinement)": [b["relative_update"] for b in blocks],
            "gradient cosine cos(F_l, −∂L/∂(E h + F_l)) (refinement, v2)": [b["gradient_cosine"] for b in blocks],
            "gradient cosine, erm_refinement v1 (∂L/∂h before E)": v1_gradient_cosine(model, x, y),
            "drop accuracy (refinement)": refinement.drop_accuracies(model, x, y),
            "linear probe accuracy (refinement)": [refinement.probe_accuracy(f[:half], y[:half], f[half:], y[half:],
                                                                             classes, steps=30) for f in feats],
            "accuracy (refinement)": [refinement.accuracy(model, x, y)]}


def _collapse(model, x, y) -> dict[str, list[float]]:
    from . import collapse

    with torch.no_grad():
        h = model.forward_features(x)
    h = h.mean(dim=(2, 3)) if h.dim() == 4 else h
    nc = collapse.neural_collapse(h, y, model.head.weight.detach(), model.head.bias.detach())
    return {f"Neural Collapse {k} (collapse)": [v] for k, v in nc.items()}


def _mlp_geometry(model, x, classes, qs: list[torch.Tensor] | None) -> dict[str, list[float]]:
    """RA measures of a ResMLP, with h_l and J_l mapped back by the frames ``qs`` if given."""
    from . import alignment, jacobians, trajectory

    with torch.no_grad():
        raw = model.trajectory(x)  # (N, L+1, d)
    traj = raw if qs is None else torch.stack([untangle(raw[:, l], q) for l, q in enumerate(qs)], dim=1)
    us, vs, svals = [], [], []
    for l, block in enumerate(model.blocks):
        jac = jacobians.mlp_jacobians(block, raw[:, l])
        if qs is not None:  # J̃_l = Q_{l+1}⁻¹ J_l Q_l
            jac = untangle(untangle(jac, qs[l + 1], 1), qs[l], 2)
        u, s, v = jacobians.top_singular(jac, classes)
        us.append(u), vs.append(v), svals.append(s)
    L = len(model.blocks)
    off = ~torch.eye(L, dtype=torch.bool)
    return {
        "trajectory linearity lin (trajectory)": trajectory.linearity(traj[:, 1:]).tolist(),
        "trajectory step cv (trajectory)": trajectory.step_cv(traj[:, 1:]).tolist(),
        "singular values of J_l (jacobians)": torch.cat([s.flatten() for s in svals]).tolist(),
        "numerical rank, ε = 1e-2 (alignment)": torch.cat([alignment.numerical_rank(s).double() for s in svals]).tolist(),
        "top-C energy (alignment)": torch.cat([alignment.top_energy(s, classes) for s in svals]).tolist(),
        "within-block alignment |u_iᵀv_i| (alignment)": torch.cat([alignment.within_alignment(u, v) for u, v in zip(us, vs)]).tolist(),
        "across-depth overlap of U (alignment)": alignment.overlap_matrix(torch.stack(us))[off].tolist(),
        "across-depth overlap of V (alignment)": alignment.overlap_matrix(torch.stack(vs))[off].tolist(),
    }


def measures(model, x, y, classes, qs: list[torch.Tensor] | None = None) -> dict[str, list[float]]:
    """Every measure of ``model`` on (x, y), each as a list of numbers; the RA geometry (ResMLP only) in the
    frames ``qs`` if given (the other measures do not look at coordinates)."""
    out = {**_refinement(model, x, y, classes), **_collapse(model, x, y)}
    if hasattr(model, "trajectory"):
        out.update(_mlp_geometry(model, x, classes, qs))
    return out


def max_difference(a: list[float], b: list[float]) -> float:
    """Largest |a − b| / max(1, |a|, |b|) (NaN pairs count as equal, NaN against a number as ∞)."""
    worst = 0.0
    for u, v in zip(a, b, strict=True):
        if math.isnan(u) or math.isnan(v):
            worst = max(worst, 0.0 if math.isnan(u) and math.isnan(v) else math.inf)
        else:
            worst = max(worst, abs(u - v) / max(1.0, abs(u), abs(v)))
    return worst


def classify(raw: float, untangled: float, tolerance: float) -> str:
    """``untangled`` is NaN for a measure with no untangled form (it never looks at the frames)."""
    if raw <= tolerance:
        return COORDINATE_FREE
    return UNTANGLED_ONLY if untangled <= tolerance else NOT_INVARIANT


def invariance_table(arch: str = "resmlp", seed: int = 0, tolerance: float = 1e-4):
    """Per measure: its largest relative difference between a tiny trained identity network and its relabelled
    permutation-skip copy, in raw and in untangled coordinates, and what that makes it (:data:`COORDINATE_FREE`,
    :data:`UNTANGLED_ONLY`, :data:`NOT_INVARIANT`). A few seconds on one CPU core."""
    import pandas as pd

    model, x, y, classes = tiny_trained(arch, seed=seed)
    perms = random_permutations(model, seed)
    twin = relabelled_copy(model, perms)
    qs = frame_indices(model, perms)
    base = measures(model, x, y, classes)
    raw = measures(twin, x, y, classes)
    untangled = measures(twin, x, y, classes, qs) if hasattr(model, "trajectory") else {}
    rows = []
    for name in base:
        framed = name in untangled  # the RA geometry, computed in the frames
        d_raw = max_difference(base[name], raw[name])
        d_unt = max_difference(base[name], untangled[name]) if framed else math.nan
        measure, _, module = name.rpartition(" (")
        rows.append({"measure": measure or name, "module": module.rstrip(")") if measure else "",
                     "max |Δ| raw": d_raw, "max |Δ| untangled": d_unt, "class": classify(d_raw, d_unt, tolerance)})
    return pd.DataFrame(rows)
