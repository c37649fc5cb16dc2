"""Residual Jacobians of trained blocks (SPEC §1, §5).

For block l with input h the residual Jacobian is the derivative of what the
branch adds, masked by the ReLU after the addition (the skip E excluded):

    J_l(h) = d/dh [ F_l(h) * 1(E h + F_l(h) > 0) ]

The mask is piecewise constant, so J_l = diag(m_out) dF_l/dh. In eval mode a
BatchNorm is an affine map, folded here into the linear map before it, which
makes a fully-connected block exactly  F(h) = A2 relu(A1 h + b1) + b2  and

    J(h) = diag(m_out) A2 diag(m_in) A1,   m_in = 1(A1 h + b1 > 0).

That closed form gives exact Jacobians for a whole batch with two batched
matmuls; :func:`jacobians_autograd` is the slow generic reference.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
import torch
from torch import nn


def fold_bn(weight: torch.Tensor, bn: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, b) with BN(W h) = A h + b in eval mode; W is (out, in), bias-free."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (out,)
    return weight * scale[:, None], bn.bias - scale * bn.running_mean


def folded_mlp_block(block) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(A1, b1, A2, b2) of a ResMLP block: F(h) = A2 relu(A1 h + b1) + b2."""
    a1, b1 = fold_bn(block.fc1.weight, block.bn1)
    a2, b2 = fold_bn(block.fc2.weight, block.bn2)
    return a1, b1, a2, b2


@torch.no_grad()
def mlp_jacobians(block, h: torch.Tensor) -> torch.Tensor:
    """Exact residual Jacobians (N, d, d) of a ResMLP block at inputs h (N, d), closed form."""
    a1, b1, a2, b2 = folded_mlp_block(block)
    pre = h @ a1.T + b1  # (N, d)
    m_in = (pre > 0).to(h.dtype)
    branch = torch.relu(pre) @ a2.T + b2  # F(h), (N, d)
    m_out = ((block.skip(h) + branch) > 0).to(h.dtype)
    # diag(m_out) A2 diag(m_in) A1 for every sample: (N, d, d)
    return (m_out[:, :, None] * a2[None]) * m_in[:, None, :] @ a1


def masked_branch(block, h: torch.Tensor) -> torch.Tensor:
    """F(h) * 1(E h + F(h) > 0) with the mask held constant (what J differentiates)."""
    branch = block.branch(h)
    mask = ((block.skip(h) + branch) > 0).to(h.dtype).detach()
    return branch * mask


def jacobians_autograd(block, h: torch.Tensor) -> torch.Tensor:
    """Residual Jacobians (N, out, in) by reverse-mode autograd, one sample at a time (reference)."""
    out = []
    for x in h:
        x = x[None].detach()
        f = lambda z: masked_branch(block, z)[0].reshape(-1)  # noqa: E731
        out.append(torch.autograd.functional.jacobian(f, x).reshape(-1, x.numel()))
    return torch.stack(out)


def top_singular(jac: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Full SVD of a batch (N, d, d): U_k (N, d, k), all singular values S (N, d), V_k (N, d, k)."""
    u, s, vh = torch.linalg.svd(jac, full_matrices=False)
    return u[..., :k], s, vh[:, :k].transpose(1, 2)


def topk_matrix_free(jvp, vjp, n_in: int, k: int, iters: int | None = None, oversample: int | None = None,
                     generator: torch.Generator | None = None, dtype=torch.float64, batch: tuple = (),
                     method: str = "krylov", gram=None):
    """Top-k singular triplets of an operator J known only through products.

    ``jvp(V)`` computes J V for V of shape ``(*batch, n_in, m)``; ``vjp(U)`` computes Jᵀ U for U of shape
    ``(*batch, n_out, m)`` (``batch`` lets one call handle many operators at once, e.g. one per input).
    ``gram(V)``, if given, computes JᵀJ V in one step (used by Krylov; default ``vjp(jvp(V))``).
    Two randomised methods (Halko, Martinsson, Tropp 2011; Musco & Musco 2015), both ending in a
    Rayleigh-Ritz step on the subspace they build:

    * ``"krylov"`` (default): block Krylov, span{V, (JᵀJ)V, ..., (JᵀJ)^q V} with q = ``iters`` (default 10)
      and m = k + ``oversample`` (default 4) columns. It reaches a given accuracy in about the square root of
      the iterations subspace iteration needs, and keeps every block it builds, each orthogonalised against
      the ones before it.
    * ``"subspace"``: subspace iteration with a QR at each step, ``iters`` (default 30) steps, oversample 8;
      its error decays like ``(σ_{k+p+1}/σ_k)^(2·iters)``. The committed conv-net results used it.

    Returns U ``(*batch, n_out, k)``, S ``(*batch, k)``, V ``(*batch, n_in, k)``.
    """
    if method not in ("krylov", "subspace"):
        raise ValueError(f"unknown method {method!r}; valid: krylov, subspace")
    krylov = method == "krylov"
    iters = iters if iters is not None else (10 if krylov else 30)
    m = k + (oversample if oversample is not None else (4 if krylov else 8))
    v = torch.randn(*batch, n_in, m, generator=generator, dtype=dtype)
    if krylov:  # a Gaussian block is well conditioned: a Cholesky QR gives its span (all Krylov depends on)
        v = _cholesky_qr(v.mT, max_cond=_CHOLQR_MAX_COND).mT
        return _block_lanczos(jvp, gram or (lambda x: vjp(jvp(x))), v, k, iters)
    v = torch.linalg.qr(v)[0]
    for _ in range(iters):
        u = torch.linalg.qr(jvp(v))[0]
        v = torch.linalg.qr(vjp(u))[0]
    b = jvp(v)  # J V = U_b S Wᵀ, so J ≈ U_b S (V W)ᵀ on the subspace
    ub, s, wh = torch.linalg.svd(b, full_matrices=False)
    return ub[..., :k], s[..., :k], (v @ wh.mT)[..., :k]


def _block_lanczos(jvp, gram, v: torch.Tensor, k: int, iters: int):
    """Block Lanczos on JᵀJ from the orthonormal start block v (*batch, n, m), with full reorthogonalisation.

    The basis Q = [V_0 … V_iters] is stored as rows, (*batch, M, n) with M = m·(iters+1), so each new block is
    a contiguous slice and the products with Q run in the layout BLAS handles fastest. T = Qᵀ JᵀJ Q is
    block tridiagonal: its entries are the coefficients of W_j = JᵀJ V_j on V_{j-1} and V_j, which the
    three-term step computes anyway. A full projection then removes what rounding left of the earlier blocks
    (Lanczos vectors lose orthogonality exactly as Ritz values converge), see :func:`_orthonormal_rows`.
    The Ritz triplets come from the small eigenproblem of T (float64): σ² = eigenvalues, V = Q W, U = J V / σ.
    """
    *batch, n, m = v.shape
    total = m * (iters + 1)
    qt = v.new_empty(*batch, total, n)  # basis rows
    t = v.new_zeros(*batch, total, total)
    vt = v.mT
    for j in range(iters + 1):
        lo, hi, near = j * m, (j + 1) * m, max(0, (j - 1) * m)
        qt[..., lo:hi, :] = vt
        wt = gram(vt.mT).mT  # rows of JᵀJ V_j, (*batch, m, n)
        local = qt[..., near:hi, :]
        coef = wt @ local.mT  # (*batch, m, hi - near): T's blocks (j, j-1) and (j, j)
        t[..., lo:hi, near:hi] = coef
        t[..., near:hi, lo:hi] = coef.mT
        if j == iters:
            break
        vt = _orthonormal_rows(_sub_product(wt, coef, local), qt[..., :hi, :])
    lam, w = _top_eigh(t.double(), k)
    w = w.to(v.dtype)  # (*batch, M, k), largest first
    s = lam.clamp_min(0).sqrt().to(v.dtype)
    vk = (w.mT @ qt).mT  # (*batch, n, k); Q's rows stay the GEMM's fast operand (qt.mT @ w ran 5x slower)
    return jvp(vk) / s.clamp_min(torch.finfo(v.dtype).tiny)[..., None, :], s, vk


def _top_eigh(t: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest eigenpairs of the symmetric (*batch, M, M), largest first: (*batch, k), (*batch, M, k).

    LAPACK's MRRR driver computes just those k (3x faster than all M at M = 154).
    """
    import scipy.linalg

    flat = t.reshape(-1, *t.shape[-2:]).cpu().numpy()
    m = flat.shape[-1]
    pairs = [scipy.linalg.eigh(a, subset_by_index=[m - k, m - 1], driver="evr") for a in flat]
    lam = torch.from_numpy(np.stack([p[0][::-1] for p in pairs])).reshape(*t.shape[:-2], k)
    vec = torch.from_numpy(np.stack([p[1][:, ::-1] for p in pairs])).reshape(*t.shape[:-1], k)
    return lam.to(t.device), vec.to(t.device)


def _orthonormal_rows(w: torch.Tensor, basis: torch.Tensor, passes: int = 3) -> torch.Tensor:
    """Orthonormal rows spanning w (*, m, n) with the span of the orthonormal rows of ``basis`` removed.

    Normalise, project, normalise, and project again while a projection removes more than half of the block
    (Daniel-Gragg-Kaufman-Stewart): a small remainder is mostly rounding, which each normalisation would
    magnify into a loss of orthogonality. That happens where the Krylov space is exhausted (the operator's
    rank is below the basis size), and where the leading directions have converged.

    The normalisations are Cholesky QRs (L from the m x m Gram matrix, then the GEMM L⁻¹ w; a Householder
    QR, or a triangular solve with n right-hand sides, cost several times more here) wherever that is
    accurate. The raw block is normalised so only if it is well conditioned (below ``_CHOLQR_MAX_COND``:
    its rows then come out orthonormal to ~cond² · eps, which the next pass repairs), else by Householder QR
    (the raw block may be nearly rank-deficient). After a projection the block's Gram matrix is close to the
    identity unless the projection removed much of it, and L's diagonal is the test: an entry below 0.5 means
    the projection removed more than half of a direction, and then (or if the Gram matrix is not numerically
    positive definite) the block is normalised by Householder QR and projected again.
    """
    w = _cholesky_qr(w, max_cond=_CHOLQR_MAX_COND)
    for _ in range(passes):
        w = _sub_product(w, w @ basis.mT, basis)
        q = _cholesky_qr(w, min_diag=0.5)
        if q is not None:
            return q
        w = torch.linalg.qr(w.mT)[0].mT
    return w


_CHOLQR_MAX_COND = 300.0


def _cholesky_qr(w: torch.Tensor, max_cond: float | None = None, min_diag: float | None = None):
    """Rows of w (*, m, n) orthonormalised as L⁻¹ w with w wᵀ = L Lᵀ (Cholesky), if the test passes.

    ``max_cond``: ‖L‖_F ‖L⁻¹‖_F, an upper bound on the condition number of w (at most m times too large),
    must stay below it, else the rows are orthonormalised by Householder QR; ``min_diag``: every diagonal
    entry of L must exceed it, else None is returned.
    """
    lower, info = torch.linalg.cholesky_ex(w @ w.mT)
    ok = info.max() == 0
    if ok and min_diag is not None:
        ok = lower.diagonal(dim1=-2, dim2=-1).min() > min_diag
    if ok:
        eye = torch.eye(lower.shape[-1], dtype=lower.dtype).expand_as(lower)
        inverse = torch.linalg.solve_triangular(lower, eye, upper=False)  # (*, m, m)
        if max_cond is not None:
            cond = torch.linalg.matrix_norm(lower) * torch.linalg.matrix_norm(inverse)
            ok = bool(torch.isfinite(cond).all()) and cond.max() < max_cond
        if ok:
            return inverse @ w
    return torch.linalg.qr(w.mT)[0].mT if max_cond is not None else None


def _sub_product(w: torch.Tensor, c: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """w - c @ b as one BLAS call where the shapes allow it, overwriting w (a temporary of the caller's)."""
    if w.is_contiguous() and w.dim() in (2, 3):
        return w.addmm_(c, b, alpha=-1) if w.dim() == 2 else w.baddbmm_(c, b, alpha=-1)
    return w - c @ b


def _bn_scale(bn) -> torch.Tensor:
    return bn.weight / torch.sqrt(bn.running_var + bn.eps)


class ConvOperator(NamedTuple):
    """A conv block's J_l at fixed inputs, as products with blocks of vectors (see :func:`conv_operator`)."""
    jvp: Callable[[torch.Tensor], torch.Tensor]   # V -> J V
    vjp: Callable[[torch.Tensor], torch.Tensor]   # U -> Jᵀ U
    n: int                                        # c*H*W
    gram: Callable[[torch.Tensor], torch.Tensor]  # V -> JᵀJ V in one pass (the output mask once, squared)


def conv_operator(block, h: torch.Tensor, order: str = "chw") -> ConvOperator:
    """J_l of a convolutional block at input h, as products with blocks of vectors.

    With BatchNorm folded and the ReLU masks fixed at h the block is linear in a tangent v:
    J v = m_out * s2 * conv2(m_in * s1 * conv1(v)), and its adjoint runs the same steps backwards
    with transposed convolutions. ``h`` is one input (c, H, W), or a batch (N, c, H, W) whose
    operators are applied all at once. Returns a :class:`ConvOperator` ``(jvp, vjp, n, gram)``: jvp maps
    (n, m) to (n, m) ((N, n, m) for a batch), vjp applies the adjoint, gram JᵀJ, n = c*H*W.

    ``order`` numbers the n coordinates: ``"chw"`` as ``h.reshape(-1)`` does, ``"hwc"`` channel fastest.
    The singular values are the same; with "hwc" a block of vectors stored as rows (``V.mT`` contiguous) is
    already the channels_last image batch the convolutions want, so no product copies its input or output.
    """
    if order not in ("chw", "hwc"):
        raise ValueError(f"unknown coordinate order {order!r}; valid: chw, hwc")
    import torch.nn.functional as F

    single = h.dim() == 3
    hb = h[None] if single else h
    batch, shape = hb.shape[0], hb.shape[1:]
    if block.conv1.stride != (1, 1) or block.conv1.in_channels != block.conv2.out_channels:
        raise ValueError("conv_operator needs a shape-preserving block (stride 1, equal channels)")
    cl = torch.channels_last
    hb = hb.contiguous(memory_format=cl)  # so the modules' convolutions take oneDNN's fast path too
    with torch.no_grad():
        pre = block.bn1(block.conv1(hb))
        a_in = (pre > 0).to(h.dtype) * _bn_scale(block.bn1).view(1, -1, 1, 1)  # (N, c, H, W)
        a_out = ((block.skip(hb) + block.bn2(block.conv2(torch.relu(pre)))) > 0).to(h.dtype) \
            * _bn_scale(block.bn2).view(1, -1, 1, 1)
    n = hb[0].numel()
    # Everything runs in channels_last, where oneDNN's convolutions are several times faster on CPU; a
    # transposed stride-1 convolution is the convolution with the kernel flipped and its channels swapped.
    w1, w2 = block.conv1.weight.detach(), block.conv2.weight.detach()
    kernels = {False: [w.contiguous(memory_format=cl) for w in (w1, w2)],
               True: [w.flip(2, 3).transpose(0, 1).contiguous(memory_format=cl) for w in (w2, w1)]}
    masks = {}  # m -> (a_in, a_out, a_out²) repeated for m vectors per input: (N*m, c, H, W)

    def repeated(m: int):
        if m not in masks:
            masks[m] = tuple(a.repeat_interleave(m, 0).contiguous(memory_format=cl)
                             for a in (a_in, a_out, a_out ** 2))
        return masks[m]

    def apply(vecs: torch.Tensor, mode: str) -> torch.Tensor:
        vb = vecs[None] if single else vecs  # (N, n, m)
        m = vb.shape[-1]
        if order == "chw":
            v = vb.mT.reshape(-1, *shape)
        else:
            c, height, width = shape
            v = vb.mT.reshape(-1, height, width, c).permute(0, 3, 1, 2)
        v = v.to(h.dtype).contiguous(memory_format=cl)  # (N*m, c, H, W)
        m_in, m_out, m_out2 = repeated(m)
        (k1, k2), (k2t, k1t) = kernels[False], kernels[True]
        if mode == "jvp":  # J v = a_out * conv2(a_in * conv1(v))
            out = m_out * F.conv2d(m_in * F.conv2d(v, k1, padding=1), k2, padding=1)
        elif mode == "vjp":  # Jᵀ u = conv1ᵀ(a_in * conv2ᵀ(a_out * u))
            out = F.conv2d(m_in * F.conv2d(m_out * v, k2t, padding=1), k1t, padding=1)
        else:  # JᵀJ v = conv1ᵀ(a_in * conv2ᵀ(a_out² * conv2(a_in * conv1(v))))
            out = F.conv2d(m_in * F.conv2d(v, k1, padding=1), k2, padding=1)
            out = F.conv2d(F.conv2d(out.mul_(m_out2), k2t, padding=1).mul_(m_in), k1t, padding=1)
        out = (out if order == "chw" else out.permute(0, 2, 3, 1)).reshape(batch, m, n).mT.to(vecs.dtype)
        return out[0] if single else out

    return ConvOperator(lambda vecs: apply(vecs, "jvp"), lambda vecs: apply(vecs, "vjp"), n,
                        lambda vecs: apply(vecs, "gram"))


def conv_top_singular(block, h: torch.Tensor, k: int, iters: int | None = None, seed: int = 0, chunk: int = 32,
                      method: str = "krylov"):
    """Top-k singular triplets of J_l at each input h (N, c, H, W), matrix-free, ``chunk`` inputs at a time
    (``method`` and ``iters`` as in :func:`topk_matrix_free`).

    Returns U (N, n, k), S (N, k), V (N, n, k) with n = c*H*W.
    """
    g = torch.Generator().manual_seed(seed)
    # Krylov works in the copy-free "hwc" order; subspace iteration keeps "chw", with which the committed
    # results were computed (the random start block, and so the last digits, depend on the order).
    order = "hwc" if method == "krylov" else "chw"
    parts = []
    for start in range(0, len(h), chunk):
        x = h[start:start + chunk]
        op = conv_operator(block, x, order)
        u, s, v = topk_matrix_free(op.jvp, op.vjp, op.n, k, iters=iters, generator=g, dtype=h.dtype,
                                   batch=(len(x),), gram=op.gram, method=method)
        if order == "hwc":
            u, v = (_hwc_to_chw(a, x.shape[1:]) for a in (u, v))
        parts.append((u, s, v))
    return tuple(torch.cat(p) for p in zip(*parts))


def _hwc_to_chw(vecs: torch.Tensor, shape) -> torch.Tensor:
    """Vectors (N, n, k) with coordinates in "hwc" order, renumbered to "chw" (n = c*H*W)."""
    c, height, width = shape
    return vecs.reshape(len(vecs), height, width, c, -1).permute(0, 3, 1, 2, 4).reshape(vecs.shape)
