"""The RA experiments end to end on a tiny network (real FashionMNIST subset)."""
import math

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
