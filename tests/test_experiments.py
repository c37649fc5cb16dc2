"""The RA experiments end to end on a tiny network (real FashionMNIST subset)."""
import math

import pytest
import torch

from entres.sweep import run_sweep

TINY = dict(dataset="fashionmnist", depth=3, width=16, epochs=1, batch_size=256, n_train=1000, n_samples=50)


def test_trajectory_and_jacobian_share_one_training_run(real_data, isolated_results):
    traj = run_sweep("ra_trajectory", [TINY])[0]
    jac = run_sweep("ra_jacobian", [TINY])[0]
    assert traj["metrics"]["test_acc"] == jac["metrics"]["test_acc"]  # same checkpoint
    assert len(list((isolated_results / "_checkpoints").glob("*.pt"))) == 1
    assert 0 < traj["metrics"]["lin_mean"] <= 1 and len(traj["arrays"]["lin"]) == 50
    m = jac["metrics"]
    assert 1 <= m["rank_mean"] <= 16 and 0 < m["energy_top_c_mean"] <= 1
    assert math.isclose(m["random_overlap"], 10 / 16)
    blocks = jac["arrays"]["blocks"]
    assert len(blocks) == 3 and len(jac["arrays"]["overlap_u"]) == 3
    assert all(abs(jac["arrays"]["overlap_u"][i][i] - 1) < 1e-3 for i in range(3))


def test_conv_jacobian_experiment(real_data, isolated_results):
    """The RA conv net: top-C triplets matrix-free, no rank (RA-3 is for MLPs), eval every 2 epochs."""
    cfg = dict(dataset="cifar10-2", arch="resconv", depth=2, width=4, epochs=2, batch_size=128, n_train=256,
               n_samples=8, eval_every=2)
    jac = run_sweep("ra_jacobian", [cfg])[0]
    m = jac["metrics"]
    assert m["rank_mean"] is None and m["energy_top_c_mean"] is None
    assert math.isclose(m["random_overlap"], 2 / (4 * 16 * 16))
    assert 0 < m["within_alignment_mean"] <= 1 and m["sigma1_mean"] > 0
    assert [("test_acc" in e) for e in jac["history"]] == [False, True]
    traj = run_sweep("ra_trajectory", [dict(cfg, n_samples=8)])[0]
    assert traj["metrics"]["test_acc"] == m["test_acc"]  # the same checkpoint
    # Block Krylov instead of subspace iteration: a key of its own, the same network, the same top-C values
    # to the methods' accuracy.
    kry = run_sweep("ra_jacobian", [dict(cfg, conv_method="krylov")])[0]
    assert kry["key"] != jac["key"] and kry["metrics"]["test_acc"] == m["test_acc"]
    for a, b in zip(jac["arrays"]["blocks"], kry["arrays"]["blocks"]):
        assert a["top_singular_values"] == pytest.approx(b["top_singular_values"], rel=1e-2)
    with pytest.raises(ValueError, match="unknown conv_method 'lanczos'; valid: subspace, krylov"):
        run_sweep("ra_jacobian", [dict(cfg, conv_method="lanczos")])
    with pytest.raises(ValueError, match="conv_method applies to arch='resconv' only"):
        run_sweep("ra_jacobian", [dict(TINY, conv_method="krylov")])


def test_untangled_frame(real_data, isolated_results):
    """X-1: J̃_l = P_l⁻¹ J_l P_{l-1}. Orthogonal frames keep singular values and change vectors;
    for the identity skip the untangled frame is the raw one."""
    raw, untangled = run_sweep("ra_jacobian", [dict(TINY, skip="orthogonal"),
                                               dict(TINY, skip="orthogonal", frame="untangled")])
    assert raw["key"] != untangled["key"]
    assert math.isclose(raw["metrics"]["sigma1_mean"], untangled["metrics"]["sigma1_mean"], rel_tol=1e-5)
    assert abs(raw["metrics"]["within_alignment_mean"] - untangled["metrics"]["within_alignment_mean"]) > 1e-3
    ident = run_sweep("ra_jacobian", [TINY, dict(TINY, frame="untangled")])
    assert ident[0]["metrics"] == ident[1]["metrics"]
    traj = run_sweep("ra_trajectory", [dict(TINY, skip="sparse"), dict(TINY, skip="sparse", frame="untangled")])
    assert traj[0]["metrics"]["lin_mean"] != traj[1]["metrics"]["lin_mean"]
    with pytest.raises(ValueError, match="needs an invertible skip"):
        run_sweep("ra_jacobian", [dict(TINY, skip="none", frame="untangled")])
    with pytest.raises(ValueError, match="unknown frame 'tangled'; valid: raw, untangled"):
        run_sweep("ra_jacobian", [dict(TINY, frame="tangled")])


def test_collapse_is_measured_during_training(real_data):
    rec = run_sweep("ra_collapse", [dict(TINY, epochs=4, nc_every=2, n_samples=200)])[0]
    measured = [e["epoch"] for e in rec["history"] if "nc" in e]
    assert measured == [1, 2, 4]
    assert rec["metrics"]["nc1_final"] > 0 and 0 <= rec["metrics"]["nc4_agreement_final"] <= 1


def test_random_labels_are_a_dataset_variant(real_data):
    rec = run_sweep("ra_trajectory", [dict(TINY, dataset="fashionmnist+random-labels")])[0]
    assert rec["metrics"]["test_acc"] < 0.3  # nothing to learn that transfers to true test labels


def test_sequence_tasks_are_fixed_and_sized():
    from entres import sequences

    a, b = sequences.generate("seq-recall"), sequences.generate("seq-recall")
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (sequences.N_TRAIN, sequences.LENGTH, 4) and a[4] == 4
    # the recall target really is the token at step 3
    assert torch.equal(a[0][:, 3].argmax(1), a[1])
    with pytest.raises(ValueError, match="valid: seq-motif"):
        sequences.generate("seq-nothing")


def test_erm_rnn_run(isolated_results):
    from entres.experiments import erm

    recs = erm.runs(["seq-position"], ["identity", "orthogonal"], [0], width=8, epochs=1, n_train=300)
    assert [r["config"]["skip"] for r in recs] == ["identity", "orthogonal"]
    assert recs[0]["metrics"]["chance"] == 0.25 and recs[0]["config"]["grad_clip"] == 1.0


def test_refinement_measures_on_a_tiny_resnet(real_data, isolated_results):
    cfg = dict(dataset="cifar10-2", depth=8, width=4, epochs=1, n_train=256, augment=False, n_samples=64,
               n_probe_train=128, n_probe_test=64)
    rec = run_sweep("erm_refinement", [cfg])[0]
    blocks = rec["arrays"]["blocks"]
    assert len(blocks) == 3  # ResNet-8: one block per stage
    assert all(b["relative_update"] > 0 and 0 <= b["drop_accuracy"] <= 1 and 0 <= b["probe_accuracy"] <= 1
               for b in blocks)
    # v2: F_l and −∂L/∂(S h + F_l) share the block's output coordinates, so the stage changes have a cosine too
    assert all(-1 <= b["gradient_cosine"] <= 1 for b in blocks)
    assert rec["version"] == 2


def test_dropping_nothing_changes_nothing():
    from entres import models, refinement

    torch.manual_seed(0)
    m = models.create("rescnn", in_shape=(3, 32, 32), num_classes=10, depth=14, width=4).eval()
    x = torch.randn(5, 3, 32, 32)
    assert torch.allclose(refinement._forward(m, x), m(x), atol=1e-6)
    h = m.stem(x)
    # with the identity skip, removing a same-shape block's branch passes h through unchanged (h >= 0)
    assert torch.allclose(torch.relu(m.blocks[0].skip(h)), h)
