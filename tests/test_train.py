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


class _Interrupt(Exception):
    pass


def _interrupt_after(epoch):
    def hook(e, model):
        if e == epoch:
            raise _Interrupt
    return hook


def test_interrupted_training_resumes_to_the_same_weights_and_history(tmp_path):
    """A run stopped after epoch 2 of 4 (its state saved every epoch) continues from epoch 2 and ends exactly where
    an uninterrupted run ends; so does the AdamW variant with warm-up and augmentation-free data."""
    ds = toy_dataset()
    for extra in ({"momentum": 0.9}, {"optimizer": "adamw", "lr": 0.01, "warmup_epochs": 1}):
        c = cfg(epochs=4, **extra)
        state = tmp_path / f"{c.optimizer}.partial.pt"
        with pytest.raises(_Interrupt):
            train(c, ds, progress=False, on_epoch=_interrupt_after(3), resume_path=state, save_every_s=0)
        assert torch.load(state, weights_only=True)["epoch"] == 2  # epoch 3 finished but was not saved
        epochs_run = []
        m1, h1, r1 = train(c, ds, progress=False, resume_path=state, save_every_s=0,
                           on_epoch=lambda e, m: epochs_run.append(e))
        m2, h2, r2 = train(c, ds, progress=False)
        assert epochs_run == [3, 4]
        for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
            assert torch.equal(a, b)
        assert h1 == h2 and r1["test_acc"] == r2["test_acc"] and r1["train_loss"] == r2["train_loss"]


def test_saved_state_of_another_config_or_damaged_is_not_used(tmp_path):
    ds = toy_dataset()
    state = tmp_path / "run.partial.pt"
    with pytest.raises(_Interrupt):
        train(cfg(epochs=4, seed=1), ds, progress=False, on_epoch=_interrupt_after(3), resume_path=state,
              save_every_s=0)
    epochs_run = []
    train(cfg(epochs=4, seed=2), ds, progress=False, resume_path=state, save_every_s=1e9,
          on_epoch=lambda e, m: epochs_run.append(e))
    assert epochs_run == [1, 2, 3, 4] and not state.exists()
    state.write_bytes(b"not a torch file")
    epochs_run.clear()
    train(cfg(epochs=4, seed=2), ds, progress=False, resume_path=state, on_epoch=lambda e, m: epochs_run.append(e))
    assert epochs_run == [1, 2, 3, 4] and not state.exists()


def test_warmup_then_cosine_schedule():
    from entres.train import lr_schedule

    lr_at = lr_schedule(cfg(epochs=4, lr=1.0, warmup_epochs=1), steps_per_epoch=10)
    assert [lr_at(s) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]
    assert lr_at(10) == 1.0 and abs(lr_at(25) - 0.5) < 1e-12 and lr_at(39) > 0
    plain = lr_schedule(cfg(epochs=4, lr=1.0), steps_per_epoch=10)
    assert plain(0) == 1.0 and abs(plain(20) - 0.5) < 1e-12


@pytest.mark.parametrize("bad, match", [
    ({"optimizer": "adam"}, "valid: sgd, adamw"),
    ({"warmup_epochs": 3}, r"warmup_epochs must be an integer in \[0, epochs\)"),
    ({"warmup_epochs": -1}, "warmup_epochs must be"),
])
def test_bad_optimizer_options(bad, match):
    with pytest.raises(ValueError, match=match):
        cfg(**bad)


def test_optimizer_options_keep_old_cache_keys():
    assert "optimizer" not in TrainConfig().to_dict() and "warmup_epochs" not in TrainConfig().to_dict()
    assert TrainConfig(optimizer="adamw").to_dict()["optimizer"] == "adamw"


def test_progress_lists_unfinished_runs(isolated_results, capsys):
    from entres import checkpoints, cli

    assert cli.main(["progress"]) == 0 and "no unfinished training runs" in capsys.readouterr().out
    c = cfg(epochs=4, seed=3)
    with pytest.raises(_Interrupt):
        train(c, toy_dataset(), progress=False, on_epoch=_interrupt_after(3),
              resume_path=checkpoints.partial_path(c), save_every_s=0)
    assert cli.main(["progress"]) == 0
    out = capsys.readouterr().out
    assert "resmlp d3 w16 identity mnist seed 3: epoch 2/4" in out and "test_acc" in out


def test_onednn_linear_matches_nn_linear_in_values_and_gradients():
    from entres.models.onednn_linear import OneDNNLinear, use_onednn_linears

    torch.manual_seed(0)
    for m, bias, input_grad in ((1024, False, True), (608, True, True), (37, False, False)):  # 37: prime batch
        plain = torch.nn.Linear(48, 24, bias=bias)
        fast = torch.nn.Linear(48, 24, bias=bias)
        fast.load_state_dict(plain.state_dict())
        assert use_onednn_linears(fast) == 1 and type(fast) is OneDNNLinear
        x = torch.randn(m, 48, requires_grad=input_grad)
        g = torch.randn(m, 24)
        grads = []
        for layer in (plain, fast):
            out = layer(x)
            out.backward(g)
            grads.append((out.detach(), layer.weight.grad, x.grad.clone() if input_grad else None))
            x.grad = None
        (y0, w0, x0), (y1, w1, x1) = grads
        assert torch.allclose(y0, y1, atol=1e-5) and torch.allclose(w0, w1, rtol=1e-4, atol=1e-4)
        assert (x0 is None and x1 is None) or torch.allclose(x0, x1, atol=1e-5)
        # In eval mode it is exactly F.linear.
        fast.eval()
        assert torch.equal(fast(x.detach()), plain(x.detach()))
        assert use_onednn_linears(fast, False) == 1 and type(fast) is torch.nn.Linear


def test_onednn_linear_and_compile_switches_keep_old_keys_and_train_alike():
    """Both are later options, off by default (the last bits differ from the default path): default configs
    keep their keys; each trains a tiny ResMLP to nearly the same history, and the model comes back plain."""
    assert not {"onednn_linear", "torch_compile"} & set(TrainConfig().to_dict())
    assert TrainConfig(onednn_linear=True).to_dict()["onednn_linear"] is True
    ds = toy_dataset()
    runs = {}
    for extra in ({}, {"onednn_linear": True}, {"torch_compile": True}):
        model, history, metrics = train(cfg(**extra), ds, progress=False)
        assert not any(type(m).__name__ == "OneDNNLinear" for m in model.modules())
        runs[tuple(extra)] = history
    for name, history in runs.items():
        for a, b in zip(history, runs[()]):
            assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-3), name
