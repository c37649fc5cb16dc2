"""Metamorphic test: a permutation-skip network that is an exact relabelling of an identity network.

From a (tiny, briefly trained) identity network, :func:`entres.relabel.relabelled_copy` builds the network
with E = P at every block that computes Q_l h_l (Q_l = P^l within a stage). Measures a reader may compare
across skip families must give it the identity network's values; measures that read coordinates must agree
once h_l is mapped back by X-1's untangling frames. The ERM-5 gradient cosine of ``erm_refinement`` v1
failed this test (it compared F_l, added after E, with ∂L/∂h taken before E); v2's passes.
"""
import math

import pytest
import torch

from entres import refinement, relabel
from entres.experiments import ra

TOL = 1e-4
COORDINATE_FREE = [
    "relative update ‖F_l‖/‖h_l‖ (refinement)",
    "gradient cosine cos(F_l, −∂L/∂(E h + F_l)) (refinement, v2)",
    "drop accuracy (refinement)",
    "linear probe accuracy (refinement)",
    "accuracy (refinement)",
    *[f"Neural Collapse {k} (collapse)" for k in (
        "nc1", "nc2_equinorm_means", "nc2_equinorm_weights", "nc2_equiangular_means", "nc2_maxangle_means",
        "nc2_maxangle_weights", "nc3_self_duality", "nc4_agreement")],
]
MLP_COORDINATE_FREE = ["singular values of J_l (jacobians)", "numerical rank, ε = 1e-2 (alignment)",
                       "top-C energy (alignment)"]
UNTANGLED_ONLY = ["trajectory linearity lin (trajectory)", "trajectory step cv (trajectory)",
                  "within-block alignment |u_iᵀv_i| (alignment)", "across-depth overlap of U (alignment)",
                  "across-depth overlap of V (alignment)"]
V1_COSINE = "gradient cosine, erm_refinement v1 (∂L/∂h before E)"
V2_COSINE = "gradient cosine cos(F_l, −∂L/∂(E h + F_l)) (refinement, v2)"


@pytest.fixture(scope="module", params=["resmlp", "rescnn"])
def pair(request):
    torch.set_num_threads(1)
    model, x, y, classes = relabel.tiny_trained(request.param)
    perms = relabel.random_permutations(model, seed=1)
    twin = relabel.relabelled_copy(model, perms)
    qs = relabel.frame_indices(model, perms)
    return {"arch": request.param, "model": model, "twin": twin, "x": x, "y": y, "classes": classes, "qs": qs,
            "perms": perms}


@pytest.fixture(scope="module")
def values(pair):
    p = pair
    frames = p["qs"] if p["arch"] == "resmlp" else None
    return {"base": relabel.measures(p["model"], p["x"], p["y"], p["classes"]),
            "raw": relabel.measures(p["twin"], p["x"], p["y"], p["classes"]),
            "untangled": relabel.measures(p["twin"], p["x"], p["y"], p["classes"], frames)}


def test_the_copy_is_a_permutation_network_computing_relabelled_representations(pair):
    model, twin, x, qs = pair["model"], pair["twin"], pair["x"], pair["qs"]
    skips = [b.skip for b in twin.blocks if hasattr(b.skip, "E")]
    assert skips and all(s.name == "permutation" and not torch.equal(s.E, torch.eye(len(s.E))) for s in skips)
    with torch.no_grad():
        assert torch.allclose(twin(x), model(x), atol=1e-5)
        h, h_twin = model.stem(x), twin.stem(x)
        for l, (block, twin_block) in enumerate(zip(model.blocks, twin.blocks)):
            h, h_twin = block(h), twin_block(h_twin)
            assert torch.allclose(h_twin, h.index_select(1, qs[l + 1]), atol=1e-5)  # h'_l = Q_l h_l


def test_one_permutation_at_every_block_gives_powers_of_it():
    model, x, _, _ = relabel.tiny_trained("resmlp", steps=2)
    p = torch.randperm(12, generator=torch.Generator().manual_seed(3))
    qs = relabel.frame_indices(model, p)
    P = torch.eye(12)[p]
    for l, q in enumerate(qs):
        assert torch.equal(torch.eye(12)[q], torch.linalg.matrix_power(P, l))
    twin = relabel.relabelled_copy(model, p)
    assert all(torch.equal(b.skip.E, P) for b in twin.blocks)


def test_frames_are_the_untangling_frames_of_x1(pair):
    if pair["arch"] != "resmlp":
        pytest.skip("ra.untangling_frames is defined for the ResMLP")
    assert torch.equal(relabel.frames_as_matrices(pair["qs"]), ra.untangling_frames(pair["twin"]))


def test_coordinate_free_measures_are_equal_to_float_tolerance(pair, values):
    names = COORDINATE_FREE + (MLP_COORDINATE_FREE if pair["arch"] == "resmlp" else [])
    for name in names:
        assert relabel.max_difference(values["base"][name], values["raw"][name]) <= TOL, name


def test_coordinate_dependent_measures_differ_raw_and_agree_untangled(pair, values):
    if pair["arch"] != "resmlp":
        pytest.skip("the RA geometry is measured on the ResMLP")
    for name in UNTANGLED_ONLY:
        assert relabel.max_difference(values["base"][name], values["raw"][name]) > 1e-2, name
        assert relabel.max_difference(values["base"][name], values["untangled"][name]) <= TOL, name


def test_the_erm5_v1_cosine_fails_the_relabelling_and_v2_passes(values):
    """The bug of issue 19: v1 compared F_l (after E) with ∂L/∂h (before E)."""
    v1_base, v1_twin = values["base"][V1_COSINE], values["raw"][V1_COSINE]
    assert relabel.max_difference(v1_base, v1_twin) > 0.05
    assert relabel.max_difference(values["base"][V2_COSINE], values["raw"][V2_COSINE]) <= TOL


@pytest.mark.parametrize("arch", ["resmlp", "rescnn"])
def test_invariance_table_classes(arch):
    table = relabel.invariance_table(arch).set_index("measure")
    expected_free = [n.rpartition(" (")[0] for n in COORDINATE_FREE + (MLP_COORDINATE_FREE if arch == "resmlp" else [])]
    assert (table.loc[expected_free, "class"] == relabel.COORDINATE_FREE).all()
    assert table.loc[V1_COSINE.rpartition(" (")[0], "class"] == relabel.NOT_INVARIANT
    if arch == "resmlp":
        assert (table.loc[[n.rpartition(" (")[0] for n in UNTANGLED_ONLY], "class"] == relabel.UNTANGLED_ONLY).all()


def test_relabelled_copy_rejects_what_it_cannot_relabel():
    model, *_ = relabel.tiny_trained("resmlp", steps=1)
    with pytest.raises(ValueError, match="one permutation per block"):
        relabel.relabelled_copy(model, [torch.arange(12)])
    twin = relabel.relabelled_copy(model, torch.arange(12))
    with pytest.raises(ValueError, match="identity skips"):
        relabel.relabelled_copy(twin, torch.arange(12))


# ---------------------------------------------------------------------------------------------
# The refinement measures themselves (entres.refinement)

@pytest.mark.parametrize("arch", ["resmlp", "rescnn"])
def test_block_parts_rebuild_every_block(arch):
    model, x, _, _ = relabel.tiny_trained(arch, steps=2)
    with torch.no_grad():
        h = model.stem(x)
        for block in model.blocks:
            carried, update = refinement.block_parts(block, h)
            assert torch.allclose(torch.relu(carried + update), block(h), atol=1e-6)
            h = block(h)


def test_gradient_cosine_is_taken_against_the_gradient_at_the_sum():
    """A hand computation for one block: g = ∂L/∂(E h + F(h)) by a hook, then the mean per-sample cosine."""
    model, x, y, _ = relabel.tiny_trained("resmlp", steps=5)
    model = relabel.relabelled_copy(model, relabel.random_permutations(model, 2))  # E ≠ I on purpose
    got = refinement.block_updates(model, x, y)
    h = model.stem(x).detach()
    sums, updates = [], []
    for block in model.blocks:
        f = block.branch(h)
        a = block.skip(h) + f
        a.retain_grad()
        sums.append(a), updates.append(f.detach())
        h = torch.relu(a)
    torch.nn.functional.cross_entropy(model.head(h), y, reduction="sum").backward()
    for b, a, f in zip(got, sums, updates):
        expected = torch.nn.functional.cosine_similarity(f, -a.grad, dim=1).mean().item()
        assert math.isclose(b["gradient_cosine"], expected, rel_tol=1e-5, abs_tol=1e-7)


def test_gradient_cosine_is_defined_at_stage_changes():
    model, x, y, _ = relabel.tiny_trained("rescnn", steps=2)
    cos = [b["gradient_cosine"] for b in refinement.block_updates(model, x, y)]
    assert all(-1 <= c <= 1 for c in cos)
