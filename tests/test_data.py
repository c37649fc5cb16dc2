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
