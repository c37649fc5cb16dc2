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
    with pytest.raises(ValueError, match="valid: rescnn, resconv, resmlp, resrnn, vit"):
        models.create("resnet9000", in_shape=(1, 2, 2), num_classes=2)
    with pytest.raises(ValueError, match="depth >= 1"):
        make(depth=0)
    with pytest.raises(ValueError, match="width >= 1"):
        make(width=0)


@pytest.mark.parametrize("skip", ["identity", "orthogonal", "sparse", "none"])
def test_erm_architectures_take_every_skip(skip):
    torch.manual_seed(0)
    cnn = models.create("rescnn", in_shape=(3, 32, 32), num_classes=10, depth=8, width=4, skip=skip)
    x = torch.randn(2, 3, 32, 32)
    assert cnn(x).shape == (2, 10)
    assert [h.shape[1] for h in cnn.representations(x)] == [4, 4, 8, 16]
    vit = models.create("vit", in_shape=(3, 32, 32), num_classes=10, depth=2, width=12, heads=3, skip=skip)
    assert vit(x).shape == (2, 10) and vit.trajectory(x).shape == (2, 3, 64 * 12)
    rnn = models.create("resrnn", in_shape=(28, 28), num_classes=10, width=16, skip=skip)
    seq = torch.randn(2, 28, 28)
    assert rnn(seq).shape == (2, 10) and rnn.hidden_states(seq).shape == (2, 28, 16)


def test_entangled_skip_only_where_shapes_match():
    from entres.mappings import SkipMapping

    cnn = models.create("rescnn", in_shape=(3, 32, 32), num_classes=10, depth=14, width=4, skip="orthogonal")
    kinds = [isinstance(b.skip, SkipMapping) for b in cnn.blocks]
    assert kinds == [True, True, False, True, False, True]


def test_rnn_step_is_entangled_residual():
    torch.manual_seed(0)
    rnn = models.create("resrnn", in_shape=(5, 3), num_classes=2, width=8, skip="orthogonal")
    x, h = torch.randn(4, 3), torch.randn(4, 8)
    expected = h @ rnn.skip.E.T + rnn.out(torch.tanh(rnn.inp(x) + rnn.rec(h)))
    assert torch.allclose(rnn.step(x, h), expected, atol=1e-6)


def test_bad_erm_sizes():
    with pytest.raises(ValueError, match="6n \\+ 2"):
        models.create("rescnn", in_shape=(3, 32, 32), num_classes=10, depth=21)
    with pytest.raises(ValueError, match="multiple of the patch size"):
        models.create("vit", in_shape=(3, 30, 30), num_classes=10)


def test_vit_attention_under_cpu_bf16_matches_the_fused_kernel():
    """Under CPU bf16 autocast the ViT takes the unfused attention path (faster there); it computes the same
    attention as the fused kernel, to bf16 rounding, in the forward pass and in the gradients."""
    from entres.models import vit

    torch.manual_seed(0)
    model = models.create("vit", in_shape=(3, 32, 32), num_classes=10, depth=2, width=48, skip="sparse")
    x = torch.randn(8, 3, 32, 32)
    outs, grads = [], []
    for unfused in (True, False):
        vit.UNFUSED_ATTENTION_UNDER_CPU_BF16 = unfused
        try:
            model.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = model(x)
            out.float().square().sum().backward()
        finally:
            vit.UNFUSED_ATTENTION_UNDER_CPU_BF16 = True
        outs.append(out.float())
        grads.append(model.blocks[0].attn.in_proj_weight.grad.clone())
    assert torch.allclose(outs[0], outs[1], atol=0.05, rtol=0.05)
    assert torch.allclose(grads[0], grads[1], atol=0.05 * grads[1].abs().max(), rtol=0.05)
