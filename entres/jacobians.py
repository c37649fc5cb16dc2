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


def topk_matrix_free(jvp, vjp, n_in: int, k: int, iters: int = 30, oversample: int = 8,
                     generator: torch.Generator | None = None, dtype=torch.float64):
    """Top-k singular triplets of an operator J known only through products.

    ``jvp(V)`` computes J V for V (n_in, m); ``vjp(U)`` computes Jᵀ U for U (n_out, m).
    Randomised subspace iteration with a QR at each step (Halko, Martinsson, Tropp 2011):
    the error decays like (σ_{k+p+1}/σ_k)^(2·iters). Returns U (n_out, k), S (k,), V (n_in, k).
    """
    m = k + oversample
    v = torch.linalg.qr(torch.randn(n_in, m, generator=generator, dtype=dtype))[0]
    for _ in range(iters):
        u = torch.linalg.qr(jvp(v))[0]
        v = torch.linalg.qr(vjp(u))[0]
    b = jvp(v)  # J V = U_b S Wᵀ, so J ≈ U_b S (V W)ᵀ on the subspace
    ub, s, wh = torch.linalg.svd(b, full_matrices=False)
    return ub[:, :k], s[:k], (v @ wh.T)[:, :k]


def _bn_scale(bn) -> torch.Tensor:
    return bn.weight / torch.sqrt(bn.running_var + bn.eps)


def conv_operator(block, h: torch.Tensor):
    """J_l of a convolutional block at one input h (c, H, W), as products with blocks of vectors.

    With BatchNorm folded and the ReLU masks fixed at h the block is linear in a tangent v:
    J v = m_out * s2 * conv2(m_in * s1 * conv1(v)). Returns ``(jvp, vjp, n)``: jvp maps (n, m) to
    (n, m), vjp applies the adjoint (by autograd through that linear map), n = c*H*W.
    """
    import torch.nn.functional as F

    shape = h.shape
    with torch.no_grad():
        x = h[None]
        pre = block.bn1(block.conv1(x))
        m_in = (pre > 0).to(h.dtype)
        m_out = ((block.skip(x) + block.bn2(block.conv2(torch.relu(pre)))) > 0).to(h.dtype)
        s1 = _bn_scale(block.bn1).view(1, -1, 1, 1)
        s2 = _bn_scale(block.bn2).view(1, -1, 1, 1)
    w1, w2 = block.conv1.weight.detach(), block.conv2.weight.detach()

    def linear(v: torch.Tensor) -> torch.Tensor:  # (m, c, H, W) -> (m, c, H, W)
        z = m_in * s1 * F.conv2d(v, w1, padding=1)
        return m_out * s2 * F.conv2d(z, w2, padding=1)

    n = h.numel()

    def jvp(vecs: torch.Tensor) -> torch.Tensor:  # (n, m) -> (n, m)
        out = linear(vecs.T.reshape(-1, *shape).to(h.dtype))
        return out.reshape(vecs.shape[1], n).T.to(vecs.dtype)

    def vjp(vecs: torch.Tensor) -> torch.Tensor:  # (n, m) -> (n, m): Jᵀ u
        m = vecs.shape[1]
        zero = torch.zeros(m, *shape, dtype=h.dtype, requires_grad=True)
        out = linear(zero)
        (grad,) = torch.autograd.grad(out, zero, grad_outputs=vecs.T.reshape(m, *shape).to(h.dtype))
        return grad.reshape(m, n).T.to(vecs.dtype)

    return jvp, vjp, n


def conv_top_singular(block, h: torch.Tensor, k: int, iters: int = 30, seed: int = 0):
    """Top-k singular triplets of J_l at each input h (N, c, H, W), matrix-free.

    Returns U (N, n, k), S (N, k), V (N, n, k) with n = c*H*W.
    """
    us, ss, vs = [], [], []
    g = torch.Generator().manual_seed(seed)
    for x in h:
        jvp, vjp, n = conv_operator(block, x)
        u, s, v = topk_matrix_free(jvp, vjp, n, k, iters=iters, generator=g, dtype=h.dtype)
        us.append(u)
        ss.append(s)
        vs.append(v)
    return torch.stack(us), torch.stack(ss), torch.stack(vs)
