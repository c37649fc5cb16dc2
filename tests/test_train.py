import pytest
import torch

from entres.data import Dataset
from entres.train import TrainConfig, TrainingDiverged, train


def toy_dataset(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = torch.randn(n, 1, 6, 6, generator=g) + y.view(-1, 1, 1, 1).float()
    return Dataset("toy", x[: n * 3 // 4], y[: n * 3 // 4], x[n * 3 // 4:], y[n * 3 // 4:], num_classes=4)


def cfg(**kw):
    return TrainConfig(**{"dataset": "mnist", "depth": 3, "width": 16, "epochs": 3, "batch_size": 32, **kw})


def test_same_seed_identical_weights_and_history():
    ds = toy_dataset()
    m1, h1, r1 = train(cfg(seed=1), ds, progress=False)
    m2, h2, r2 = train(cfg(seed=1), ds, progress=False)
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    assert h1 == h2
    assert {k: v for k, v in r1.items() if k != "train_seconds"} == {k: v for k, v in r2.items() if k != "train_seconds"}
    m3, _, _ = train(cfg(seed=2), ds, progress=False)
    assert not torch.equal(m1.head.weight, m3.head.weight)


def test_learns_the_toy_task():
    _, history, metrics = train(cfg(epochs=10), toy_dataset(), progress=False)
    assert metrics["test_acc"] > 0.6  # chance is 0.25
    assert len(history) == 10 and history[-1]["lr"] < history[0]["lr"]  # cosine decays


def test_divergence_is_an_error_not_a_result():
    with pytest.raises(TrainingDiverged, match="loss became"):
        train(cfg(lr=1e6, weight_decay=0.0), toy_dataset(), progress=False)


@pytest.mark.parametrize("bad, match", [
    ({"skip": "identty"}, "valid: identity, none"),
    ({"dataset": "imagenet"}, "valid: mnist, fashionmnist, cifar10"),
    ({"depth": -1}, "depth must be a positive integer"),
    ({"width": 0}, "width must be a positive integer"),
    ({"schedule": "step"}, "valid: cosine, constant"),
    ({"arch": "vgg"}, "valid: rescnn, resconv, resmlp, resrnn, vit"),
])
def test_bad_config_names_valid_choices(bad, match):
    with pytest.raises(ValueError, match=match):
        cfg(**bad)


def test_unknown_option():
    with pytest.raises(ValueError, match="unknown training option.*valid"):
        TrainConfig.from_dict({"deepth": 3})


def test_epoch_hook_sees_every_epoch_and_leaves_training_unchanged():
    ds = toy_dataset()
    seen = []
    m1, h1, _ = train(cfg(), ds, progress=False, on_epoch=lambda e, m: seen.append(e) or {"probe": float(e)})
    m2, h2, _ = train(cfg(), ds, progress=False)
    assert seen == [1, 2, 3] and [h["probe"] for h in h1] == [1.0, 2.0, 3.0]
    assert torch.equal(m1.head.weight, m2.head.weight)


def test_speed_switches_keep_old_cache_keys_and_train():
    """channels_last (default on, rescnn only) and bf16 (default off) are later options: configs that do not
    set them keep their keys; both switches train a tiny ResNet."""
    from entres import data
    from entres.train import TrainConfig, train

    assert "channels_last" not in TrainConfig().to_dict() and "bf16" not in TrainConfig().to_dict()
    assert TrainConfig(channels_last=False).to_dict()["channels_last"] is False
    ds = data.Dataset("tiny", torch.randn(64, 3, 32, 32), torch.randint(0, 10, (64,)),
                      torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,)), 10)
    for extra in ({}, {"channels_last": False}, {"bf16": True}):
        cfg = TrainConfig(dataset="cifar10", arch="rescnn", depth=8, width=4, epochs=1, batch_size=32, **extra)
        _, history, metrics = train(cfg, ds, progress=False)
        assert len(history) == 1 and 0 <= metrics["test_acc"] <= 1
