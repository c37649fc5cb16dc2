import pytest
import torch

from entres import mappings


def test_registry_has_every_family():
    assert mappings.names() == ["identity", "none", "orthogonal", "permutation", "sparse", "correlation"]


def test_unknown_family_names_valid_ones():
    with pytest.raises(ValueError, match="identty.*valid: identity, none, orthogonal"):
        mappings.build("identty", 8)


def test_unknown_family_parameter():
    with pytest.raises(ValueError, match="valid: \\['density', 'scale'\\]"):
        mappings.matrix("sparse", 8, rho=0.1)


@pytest.mark.parametrize("name", mappings.names())
def test_seeded_and_reproducible(name):
    a, b = mappings.matrix(name, 32, seed=3), mappings.matrix(name, 32, seed=3)
    assert torch.equal(a, b)


def test_family_attributes():
    d = 48
    assert torch.equal(mappings.matrix("identity", d), torch.eye(d))
    assert torch.equal(mappings.matrix("none", d), torch.zeros(d, d))
    q = mappings.matrix("orthogonal", d, seed=1).double()
    assert torch.allclose(q.T @ q, torch.eye(d, dtype=torch.float64), atol=1e-5)
    assert not torch.allclose(q, mappings.matrix("orthogonal", d, seed=2).double())
    p = mappings.matrix("permutation", d, seed=1)
    assert torch.equal(p.sum(0), torch.ones(d)) and torch.equal(p.sum(1), torch.ones(d))
    s = mappings.describe(mappings.matrix("sparse", d, seed=1))
    assert s["shares_eigenvalues_one"] and s["shares_unit_diagonal"] and s["spectral_norm"] > 1
    assert s["shares_sparsity"] and not s["shares_singular_values_one"]
    o = mappings.describe(mappings.matrix("orthogonal", d, seed=1))
    assert o["shares_unit_circle"] and o["shares_singular_values_one"] and not o["shares_eigenvalues_one"]
    assert not o["shares_sparsity"]
    i = mappings.describe(torch.eye(d))
    assert all(v for k, v in i.items() if k.startswith("shares_"))
    c = mappings.matrix("correlation", d).double()
    assert torch.allclose(c, c.T) and torch.all(torch.linalg.eigvalsh(c) > 0)
    assert torch.allclose(torch.diagonal(c), torch.ones(d, dtype=torch.float64))


def test_skip_mapping_is_a_fixed_buffer_on_any_layout():
    m = mappings.build("orthogonal", 6, seed=0)
    assert list(m.parameters()) == [] and "E" in dict(m.named_buffers())
    h = torch.randn(5, 6)
    assert torch.allclose(m(h), h @ m.E.T)
    conv = mappings.build("orthogonal", 6, seed=0, channel_dim=1)
    x = torch.randn(2, 6, 3, 3)
    assert torch.allclose(conv(x), torch.einsum("oc,bchw->bohw", conv.E, x), atol=1e-6)
    assert list(mappings.build("sparse", 6, trainable=True).parameters())


def test_identity_and_none_fast_paths_match_the_matrix():
    h = torch.randn(4, 8)
    assert torch.equal(mappings.build("identity", 8)(h), h)
    assert torch.equal(mappings.build("none", 8)(h), torch.zeros_like(h))
