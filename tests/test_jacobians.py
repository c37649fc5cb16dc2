import math

import pytest
import torch

from entres import alignment, jacobians, models


@pytest.fixture
def block():
    torch.manual_seed(0)
    m = models.create("resmlp", in_shape=(20,), num_classes=3, depth=2, width=12, skip="orthogonal")
    m.train()
    m(torch.randn(64, 20))  # non-trivial BN statistics
    m.eval()
    for b in m.blocks:
        b.bn1.running_mean.normal_()
        b.bn2.running_var.uniform_(0.5, 2)
    return m.blocks[0].double(), m.stem.double()(torch.randn(6, 20, dtype=torch.float64))


def test_closed_form_matches_autograd(block):
    blk, h = block
    assert torch.allclose(jacobians.mlp_jacobians(blk, h), jacobians.jacobians_autograd(blk, h), atol=1e-10)


def test_closed_form_matches_finite_differences(block):
    blk, h = block
    x, eps = h[:1], 1e-4
    f = lambda z: jacobians.masked_branch(blk, z)[0]  # noqa: E731
    fd = torch.stack([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in torch.eye(12, dtype=torch.float64)], 1)
    assert torch.allclose(fd, jacobians.mlp_jacobians(blk, x)[0], atol=1e-6)


def test_folding_reproduces_eval_mode_branch(block):
    blk, h = block
    a1, b1, a2, b2 = jacobians.folded_mlp_block(blk)
    assert torch.allclose(torch.relu(h @ a1.T + b1) @ a2.T + b2, blk.branch(h), atol=1e-10)


def test_matrix_free_top_k_matches_full_svd():
    g = torch.Generator().manual_seed(0)
    d = torch.logspace(0, -3, 120, dtype=torch.float64)
    q1 = torch.linalg.qr(torch.randn(150, 120, generator=g, dtype=torch.float64))[0]
    q2 = torch.linalg.qr(torch.randn(120, 120, generator=g, dtype=torch.float64))[0]
    m = q1 @ torch.diag(d) @ q2.T
    for method in ("krylov", "subspace"):
        u, s, v = jacobians.topk_matrix_free(lambda x: m @ x, lambda y: m.T @ y, 120, 6, generator=g, method=method)
        assert torch.allclose(s, d[:6], rtol=1e-8), method
        assert torch.allclose((u.T @ q1[:, :6]).abs(), torch.eye(6, dtype=torch.float64), atol=1e-6), method


def test_krylov_keeps_its_basis_orthogonal_in_float32():
    # A trained block's Jacobian: a few large singular values over a bulk 10^4 times smaller. The Krylov
    # blocks then have remainders near rounding level, where a lost orthogonality shows as wrong values.
    g = torch.Generator().manual_seed(0)
    d = torch.cat([torch.logspace(1, 0, 10), torch.logspace(-2, -4, 490)]).double()
    q1, q2 = (torch.linalg.qr(torch.randn(500, 500, generator=g, dtype=torch.float64))[0] for _ in range(2))
    m = ((q1 * d) @ q2.T).float()
    u, s, v = jacobians.topk_matrix_free(lambda x: m @ x, lambda y: m.T @ y, 500, 10, generator=g, dtype=torch.float32)
    assert ((s.double() - d[:10]) / d[:10]).abs().max() < 1e-5
    assert (v.mT @ v - torch.eye(10)).abs().max() < 1e-5 and (u.mT @ u - torch.eye(10)).abs().max() < 1e-5


@pytest.mark.parametrize("cond", [1.0, 1e2, 1e4, 1e6, float("inf")])
def test_orthonormal_rows_at_any_conditioning(cond):
    # Whatever the raw block's conditioning (inf: one row a copy of another, as when the Krylov space is
    # exhausted), the rows come out orthonormal and orthogonal to the basis, in float32; a large part of the
    # block inside the basis' span makes the first projection remove most of it (the DGKS case).
    g = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(300, 20, generator=g))[0].mT  # (20, 300) orthonormal rows
    q, _ = torch.linalg.qr(torch.randn(300, 6, generator=g))
    scales = torch.logspace(0, -6, 6) if cond == float("inf") else torch.logspace(0, -math.log10(cond), 6)
    w = (q * scales).mT
    if cond == float("inf"):
        w[-1] = w[0]
    w = w + 3.0 * torch.randn(6, 20, generator=g) @ basis
    out = jacobians._orthonormal_rows(w, basis)
    assert (out @ out.mT - torch.eye(6)).abs().max() < 1e-5
    assert (out @ basis.mT).abs().max() < 1e-5


def test_measures_on_known_inputs():
    g = torch.Generator().manual_seed(0)
    d, c = 200, 5
    q = torch.linalg.qr(torch.randn(3, d, d, generator=g, dtype=torch.float64))[0][..., :c]
    assert torch.allclose(alignment.within_alignment(q, q), torch.ones(3, dtype=torch.float64))
    assert torch.allclose(alignment.subspace_overlap(q, q), torch.ones(3, dtype=torch.float64))
    rnd = torch.linalg.qr(torch.randn(3, d, d, generator=g, dtype=torch.float64))[0][..., :c]
    assert abs(alignment.subspace_overlap(q, rnd).mean().item() - c / d) < 3 * c / d
    s = torch.tensor([[4.0, 2.0, 1.0, 1e-4, 0.0]])
    assert alignment.numerical_rank(s, 1e-2).item() == 3
    assert torch.allclose(alignment.top_energy(s, 2), torch.tensor([20 / 21.0]), atol=1e-6)
    bases = torch.stack([q, q, rnd])  # (L=3, N=3, d, C)
    ov = alignment.overlap_matrix(bases)
    assert ov.shape == (3, 3) and torch.allclose(ov[0, 1], torch.tensor(1.0, dtype=torch.float64))
    assert ov[0, 2] < 0.2


def test_rank_k_jacobian_has_rank_k():
    g = torch.Generator().manual_seed(1)
    jac = torch.randn(4, 30, 3, generator=g) @ torch.randn(4, 3, 30, generator=g)
    _, s, _ = jacobians.top_singular(jac, 3)
    assert alignment.numerical_rank(s, 1e-4).tolist() == [3, 3, 3, 3]


@pytest.fixture
def conv_block():
    torch.manual_seed(0)
    m = models.create("resconv", in_shape=(3, 16, 16), num_classes=10, depth=2, width=4, skip="orthogonal")
    m.train()
    m(torch.randn(8, 3, 16, 16))
    m.eval()
    m = m.double()
    return m.blocks[0], m.stem(torch.randn(2, 3, 16, 16, dtype=torch.float64))


def test_conv_operator_is_the_dense_jacobian(conv_block):
    blk, h = conv_block
    dense = jacobians.jacobians_autograd(blk, h[:1])[0]  # (256, 256)
    jvp, vjp, n, gram = jacobians.conv_operator(blk, h[0])
    eye = torch.eye(n, dtype=torch.float64)
    assert torch.allclose(jvp(eye), dense, atol=1e-12)
    assert torch.allclose(vjp(eye), dense.T, atol=1e-12)
    assert torch.allclose(gram(eye), dense.T @ dense, atol=1e-12)
    # "hwc" numbers the same coordinates channel-fastest: the same operator, rows and columns permuted.
    perm = torch.arange(n).reshape(blk.conv1.in_channels, *h.shape[2:]).permute(1, 2, 0).reshape(-1)
    jvp, vjp, _, _ = jacobians.conv_operator(blk, h[0], order="hwc")
    assert torch.allclose(jvp(eye), dense[perm][:, perm], atol=1e-12)
    assert torch.allclose(vjp(eye), dense[perm][:, perm].T, atol=1e-12)
    with pytest.raises(ValueError, match="valid: chw, hwc"):
        jacobians.conv_operator(blk, h[0], order="whc")


def test_conv_matrix_free_top_k_matches_dense_svd(conv_block):
    blk, h = conv_block
    dense = jacobians.jacobians_autograd(blk, h)
    # This random block's top singular values are close together (slow convergence): enough iterations to be exact.
    for method, iters in (("krylov", 20), ("subspace", 30)):
        _, s, _ = jacobians.conv_top_singular(blk, h, 5, method=method, iters=iters)
        assert torch.allclose(s, torch.linalg.svdvals(dense)[:, :5], rtol=1e-6), method
    # The singular vectors too, in the "chw" numbering of h.reshape(-1) whatever order the method ran in. Krylov
    # builds U as J V / σ, so the first check tests the renumbering; the second, Jᵀ u_i = σ_i v_i, that they are
    # singular vectors.
    u, s, v = jacobians.conv_top_singular(blk, h, 5, iters=20)
    assert torch.allclose(dense @ v, u * s[:, None, :], atol=1e-8)
    assert torch.allclose(dense.mT @ u, v * s[:, None, :], atol=1e-8)


def test_conv_model_interface():
    m = models.create("resconv", in_shape=(3, 32, 32), num_classes=10, depth=3, width=8).eval()
    x = torch.randn(2, 3, 32, 32)
    assert m(x).shape == (2, 10)
    assert m.trajectory(x).shape == (2, 4, 8 * 16 * 16)


def test_conv_operator_batched_equals_one_at_a_time(conv_block):
    blk, h = conv_block
    jvp_b, vjp_b, n, _ = jacobians.conv_operator(blk, h)
    vecs = torch.randn(2, n, 3, dtype=torch.float64)
    for i in range(2):
        jvp, vjp, _, _ = jacobians.conv_operator(blk, h[i])
        assert torch.allclose(jvp_b(vecs)[i], jvp(vecs[i]), atol=1e-12)
        assert torch.allclose(vjp_b(vecs)[i], vjp(vecs[i]), atol=1e-12)
