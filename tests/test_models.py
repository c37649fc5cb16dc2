import pytest
import torch

from entres import models


def make(skip="identity", depth=3, width=16):
    torch.manual_seed(0)
    return models.create("resmlp", in_shape=(1, 8, 8), num_classes=5, depth=depth, width=width, skip=skip).eval()


def test_shapes_and_uniform_interface():
    m = make()
    x = torch.randn(7, 1, 8, 8)
    assert m(x).shape == (7, 5)
    traj = m.trajectory(x)
    assert traj.shape == (7, 4, 16)  # h_0 .. h_3
    assert torch.allclose(traj[:, -1], m.forward_features(x))


def test_block_is_relu_of_skip_plus_branch():
    m = make(skip="none")
    h = torch.randn(4, 16)
    block = m.blocks[0]
    assert torch.allclose(block(h), torch.relu(block.branch(h)))
    m = make(skip="identity")
    assert torch.allclose(m.blocks[1](h), torch.relu(h + m.blocks[1].branch(h)))


def test_unknown_architecture_and_bad_sizes():
    with pytest.raises(ValueError, match="valid: resconv, resmlp"):
        models.create("resnet9000", in_shape=(1, 2, 2), num_classes=2)
    with pytest.raises(ValueError, match="depth >= 1"):
        make(depth=0)
    with pytest.raises(ValueError, match="width >= 1"):
        make(width=0)
