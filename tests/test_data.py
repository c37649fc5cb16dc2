import gzip
import hashlib

import numpy as np
import pytest
import torch

from entres import data


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_reader_roundtrip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x.gz", arr)
    assert np.array_equal(data._read_idx(tmp_path / "x.gz"), arr)


def test_names():
    assert data.parse_name("FashionMNIST") == ("fashionmnist", None)
    assert data.parse_name("cifar10-3") == ("cifar10", [0, 1, 2])
    assert data.parse_name("mnist+random-labels") == ("mnist", None)
    with pytest.raises(ValueError, match="valid: mnist, fashionmnist, cifar10, cifar10-K"):
        data.parse_name("svhn")
    with pytest.raises(ValueError, match="2 <= K <= 10"):
        data.parse_name("cifar10-11")


def test_missing_files_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("ENTRES_DATA", str(tmp_path))
    with pytest.raises(data.DataError, match="ENTRES_DATA.*ENTRES_DOWNLOAD=1"):
        data.load("mnist")
    with pytest.raises(data.DataError, match="CIFAR-10"):
        data.load("cifar10")


def test_corrupt_file_is_detected(tmp_path, monkeypatch):
    monkeypatch.setenv("ENTRES_DATA", str(tmp_path))
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data._IDX_FILES["mnist"][1]:
        write_idx(raw / name, np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(data.DataError, match="is corrupt: its md5 is"):
        data.load("mnist")
    npz = tmp_path / "cifar10" / "cifar10.npz"
    npz.parent.mkdir()
    npz.write_bytes(b"truncated")
    with pytest.raises(data.DataError, match="corrupt: its sha256"):
        data.load("cifar10")


def test_stratified_indices():
    labels = torch.arange(10).repeat_interleave(30)
    idx = data.stratified_indices(labels, 25, seed=0)
    counts = torch.bincount(labels[idx], minlength=10)
    assert counts.sum() == 25 and counts.max() - counts.min() <= 1
    assert torch.equal(idx, data.stratified_indices(labels, 25, seed=0))


def test_augment_is_seeded_and_keeps_shape():
    x = torch.randn(8, 3, 32, 32)
    a = data.augment(x, torch.Generator().manual_seed(0))
    b = data.augment(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)


def test_augment_draws_for_an_epoch_pick_the_same_crops_as_batch_by_batch():
    x = torch.randn(10, 3, 8, 8)
    g = torch.Generator().manual_seed(3)
    one_by_one = [data.augment(x[:4], g), data.augment(x[4:8], g), data.augment(x[8:], g)]
    draws = data.augment_draws([4, 4, 2], torch.Generator().manual_seed(3))
    at_once = [data.augment(x[s], draws=tuple(t[s] for t in draws)) for s in (slice(0, 4), slice(4, 8), slice(8, 10))]
    assert all(torch.equal(a, b) for a, b in zip(one_by_one, at_once))
    flipped = data.augment(x[:1], draws=(torch.tensor([4]), torch.tensor([4]), torch.tensor([True])))
    assert torch.equal(flipped, x[:1].flip(-1))  # offset 4 of padding 4 = no shift


def test_real_datasets(real_data):
    fm = data.load("fashionmnist")
    assert fm.x_train.shape == (60000, 1, 28, 28) and fm.x_test.shape == (10000, 1, 28, 28)
    assert abs(fm.x_train.mean().item()) < 0.01 and abs(fm.x_train.std().item() - 1) < 0.01
    assert torch.equal(torch.bincount(fm.y_test), torch.full((10,), 1000))
    rnd = data.load("fashionmnist+random-labels")
    assert torch.equal(rnd.x_train, fm.x_train) and torch.equal(rnd.y_test, fm.y_test)
    assert torch.equal(torch.bincount(rnd.y_train), torch.bincount(fm.y_train))
    assert (rnd.y_train == fm.y_train).float().mean() < 0.15  # chance agreement is 0.1
    c = data.load("cifar10-2")
    assert c.num_classes == 2 and c.x_train.shape == (10000, 3, 32, 32)
    assert set(c.y_test.tolist()) == {0, 1}
    # the first test labels of the official order
    assert data.load("cifar10").y_test[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]


# --- the guard of a build from results alone (ENTRES_NO_COMPUTE) ---

def test_the_guard_refuses_every_dataset_load_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("ENTRES_NO_COMPUTE", "1")
    monkeypatch.setenv("ENTRES_DATA", str(tmp_path))
    for name in ("mnist", "cifar10-2", "seq-motif"):  # seq-motif needs no files: refused all the same
        with pytest.raises(data.ComputeRefused, match=rf"^data.load\('{name}'\) refused: ENTRES_NO_COMPUTE is on"):
            data.load(name)
    with pytest.raises(data.ComputeRefused, match="loading cifar10 from"):
        data._load_cifar10(tmp_path, None)
    with pytest.raises(data.ComputeRefused, match="loading fashionmnist from"):
        data._load_idx_dataset("fashionmnist", tmp_path, None)


def test_the_guard_message_is_one_line(monkeypatch):
    monkeypatch.setenv("ENTRES_NO_COMPUTE", "1")
    with pytest.raises(data.ComputeRefused) as err:
        data.load("seq-recall")
    assert "\n" not in str(err.value)


def test_the_guard_refuses_training_and_cached_training(monkeypatch):
    from entres import checkpoints, train

    cfg = train.TrainConfig(dataset="seq-motif", arch="resrnn", depth=1, width=8, epochs=1, n_train=256)
    monkeypatch.setenv("ENTRES_NO_COMPUTE", "1")
    with pytest.raises(data.ComputeRefused, match=r"^train.train\(resrnn, identity, seq-motif, depth 1, seed 0\)"):
        train.train(cfg)
    with pytest.raises(data.ComputeRefused, match=r"^checkpoints.trained\(resrnn"):
        checkpoints.trained(cfg)
    monkeypatch.setenv("ENTRES_NO_COMPUTE", "0")
    train.train(cfg, progress=False)  # allowed again: the guard is what stopped it


def test_cache_only_implies_the_guard_unless_it_is_turned_off(monkeypatch):
    from entres import settings

    monkeypatch.setenv("ENTRES_CACHE_ONLY", "1")
    with pytest.raises(data.ComputeRefused, match="ENTRES_CACHE_ONLY=1 implies it"):
        data.load("seq-motif")
    monkeypatch.setenv("ENTRES_NO_COMPUTE", "0")
    assert data.load("seq-motif").num_classes == 2
    monkeypatch.setenv("ENTRES_NO_COMPUTE", "yes")
    with pytest.raises(settings.SettingsError, match="ENTRES_NO_COMPUTE must be 0 or 1"):
        settings.no_compute()


def test_a_guarded_sweep_stops_at_its_first_run(monkeypatch):
    from entres.experiments import erm

    monkeypatch.setenv("ENTRES_NO_COMPUTE", "1")
    with pytest.raises(data.ComputeRefused, match="checkpoints.trained"):
        erm.runs(["seq-motif"], ["identity", "none"], [0], depth=1, width=8, epochs=1)


# --- SGD steps from a config alone ---

def test_train_sizes_are_static_and_check_n_train():
    assert data.train_size("mnist") == data.train_size("FashionMNIST") == data.train_size("smnist") == 60000
    assert data.train_size("cifar10") == 50000 and data.train_size("cifar10-2") == 10000
    assert data.train_size("cifar10-5+random-labels") == 25000
    assert data.train_size("seq-majority") == 10000
    assert data.train_size("cifar10-2", n_train=3000) == 3000
    with pytest.raises(ValueError, match=r"n_train must be in \[0, 10000\]"):
        data.train_size("cifar10-2", n_train=10001)


def test_sgd_steps_from_a_config_or_a_result_config(monkeypatch):
    from entres import train

    monkeypatch.setenv("ENTRES_NO_COMPUTE", "1")  # nothing is loaded
    assert train.sgd_steps(train.TrainConfig(dataset="cifar10-2", epochs=200, batch_size=1024)) == 200 * 10
    record_config = {"dataset": "cifar10", "epochs": 200, "batch_size": 1024, "n_samples": 500, "frame": "raw"}
    assert train.sgd_steps(record_config) == 200 * 49
    assert train.sgd_steps({"dataset": "fashionmnist", "epochs": 3, "batch_size": 128, "n_train": 10000}) == 3 * 79


def test_train_sizes_match_the_sequence_tasks():
    for task in ("seq-motif", "seq-recall"):
        assert data.train_size(task) == len(data.load(task).y_train)


def test_train_sizes_match_the_real_datasets(real_data):
    for name in ("mnist", "fashionmnist", "smnist", "cifar10", "cifar10-2", "cifar10-7"):
        assert data.train_size(name) == len(data.load(name).y_train), name
    assert data.missing_datasets(real_data) == []


def test_missing_datasets_are_named_without_reading_anything(tmp_path, monkeypatch):
    monkeypatch.setenv("ENTRES_NO_COMPUTE", "1")
    assert data.missing_datasets(tmp_path) == ["mnist", "fashionmnist", "cifar10"]
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data._IDX_FILES["mnist"][1]:
        (raw / name).touch()
    (tmp_path / "cifar10").mkdir()
    (tmp_path / "cifar10" / "cifar10.npz").touch()
    assert data.missing_datasets(tmp_path) == ["fashionmnist"]
