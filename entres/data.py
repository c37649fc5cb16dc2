"""Datasets as normalised in-memory tensors.

Everything fits in RAM (CIFAR-10 is 600 MB as float32), so training indexes
tensors directly instead of going through a DataLoader: faster on a CPU and
trivially deterministic.

Root folder: ``$ENTRES_DATA`` (default ``data/``), in torchvision's layout::

    MNIST/raw/*-ubyte.gz  FashionMNIST/raw/*-ubyte.gz
    cifar10/cifar10.npz   (or torchvision's cifar-10-batches-py/)

Files are checked against pinned checksums. Set ``ENTRES_DOWNLOAD=1`` (or pass
``download=True``) to let torchvision fetch missing files.

With ``ENTRES_NO_COMPUTE=1`` (implied by ``ENTRES_CACHE_ONLY=1``) every load raises
:class:`ComputeRefused`: the book is built from ``data/results/`` alone. What a page needs to know about
a dataset without loading it comes from static sizes (:func:`train_size`).
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import settings

# torchvision's pinned MD5s (torchvision/datasets/mnist.py, cifar.py).
_IDX_FILES = {
    "mnist": ("MNIST", {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }),
    "fashionmnist": ("FashionMNIST", {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }),
}
_CIFAR_NPZ_SHA256 = "a4e3621fa9e6d18ace83b7634e477991efb6665757a10b5c153ee87921398197"
_CIFAR_BATCH_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
# Per-channel statistics of the training splits (0-1 scale).
_STATS = {
    "mnist": ((0.1307,), (0.3081,)),
    "fashionmnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
SEQUENCE_DATASETS = ("smnist", "seq-motif", "seq-majority", "seq-position", "seq-recall")  # (N, T, features)
DATASETS = ("mnist", "fashionmnist", "cifar10", "cifar10-K") + SEQUENCE_DATASETS
RANDOM_LABELS = "+random-labels"  # suffix: the same images with training labels permuted (RA-6 control)


class DataError(RuntimeError):
    """A dataset file is missing, corrupt or unknown."""


class ComputeRefused(DataError):
    """``ENTRES_NO_COMPUTE`` is on and something tried to load a dataset or train a model.

    A :class:`DataError`, so a sweep stops at its first run (``entres.sweep.FAIL_FAST``)."""


def refuse_if_no_compute(what: str) -> None:
    """Raise :class:`ComputeRefused` naming ``what`` when ``ENTRES_NO_COMPUTE`` is on (by default it follows
    ``ENTRES_CACHE_ONLY``): a build from ``data/results/`` alone must never load a dataset or train."""
    if settings.no_compute():
        raise ComputeRefused(
            f"{what} refused: ENTRES_NO_COMPUTE is on (ENTRES_CACHE_ONLY=1 implies it), so nothing may load a "
            f"dataset or train; read the result from data/results/ instead, or set ENTRES_NO_COMPUTE=0")


# Training-split sizes, so a run's SGD steps follow from its config without loading anything.
_TRAIN_SIZES = {"mnist": 60000, "fashionmnist": 60000, "smnist": 60000, "cifar10": 50000}
CIFAR10_TRAIN_PER_CLASS = 5000


@dataclass
class Dataset:
    """Normalised tensors: images (N, C, H, W) float32, labels (N,) int64."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def data_root() -> Path:
    return settings.data_root()


def _hash(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _check(path: Path, algo: str, expected: str) -> None:
    got = _hash(path, algo)
    if got != expected:
        raise DataError(
            f"{path} is corrupt: its {algo} is {got}, expected {expected}. "
            f"Delete it and fetch it again (ENTRES_DOWNLOAD=1 uses torchvision's download)."
        )


def _missing(what: str, root: Path) -> DataError:
    return DataError(
        f"{what} not found under data root {root.resolve()} (set by ENTRES_DATA, default 'data/'). "
        f"Point ENTRES_DATA at a folder in torchvision's layout, or set ENTRES_DOWNLOAD=1 "
        f"to let torchvision download it (needs internet)."
    )


def missing_datasets(root: Path | None = None) -> list[str]:
    """The file-backed datasets (mnist, fashionmnist, cifar10) whose files are not all under ``root``
    (default: ``ENTRES_DATA``). Checks names only: nothing is read or verified, so it is allowed under
    ``ENTRES_NO_COMPUTE``."""
    root = Path(root) if root is not None else data_root()
    missing = [name for name, (folder, files) in _IDX_FILES.items()
               if not all((root / folder / "raw" / f).exists() for f in files)]
    cifar_batches = root / "cifar-10-batches-py"
    if not ((root / "cifar10" / "cifar10.npz").exists()
            or all((cifar_batches / f).exists() for f in _CIFAR_BATCH_MD5)):
        missing.append("cifar10")
    return missing


def missing_note() -> str:
    """One line saying which real datasets are missing under ``ENTRES_DATA`` and how to get them; '' when
    none is missing or ``ENTRES_DOWNLOAD=1`` lets torchvision fetch them (``make verify`` skips on a note)."""
    if settings.download():
        return ""
    missing = missing_datasets()
    if not missing:
        return ""
    return (f"no {', '.join(missing)} under {data_root().resolve()} (ENTRES_DATA): point ENTRES_DATA at the "
            f"datasets, or set ENTRES_DOWNLOAD=1 to fetch them (internet)")


def _download_wanted(download: bool | None) -> bool:
    return download if download is not None else settings.download()


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte payload
        raise DataError(f"{path} is not an IDX file of unsigned bytes (magic {magic:#x})")
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _load_idx_dataset(name: str, root: Path, download: bool | None):
    refuse_if_no_compute(f"loading {name} from {root}")
    folder, files = _IDX_FILES[name]
    raw = root / folder / "raw"
    if not all((raw / f).exists() for f in files):
        if not _download_wanted(download):
            raise _missing(f"{folder} ({', '.join(files)})", root)
        from .compat import import_torchvision

        tv = import_torchvision()
        getattr(tv.datasets, folder)(str(root), train=True, download=True)
        getattr(tv.datasets, folder)(str(root), train=False, download=True)
    for f, md5 in files.items():
        _check(raw / f, "md5", md5)
    xs = {split: _read_idx(raw / f"{split}-images-idx3-ubyte.gz") for split in ("train", "t10k")}
    ys = {split: _read_idx(raw / f"{split}-labels-idx1-ubyte.gz") for split in ("train", "t10k")}
    # (N, 28, 28) uint8 -> (N, 28, 28, 1) to share the HWC path with CIFAR
    return xs["train"][..., None], ys["train"], xs["t10k"][..., None], ys["t10k"]


def _load_cifar10(root: Path, download: bool | None):
    refuse_if_no_compute(f"loading cifar10 from {root}")
    npz = root / "cifar10" / "cifar10.npz"
    batches = root / "cifar-10-batches-py"
    if npz.exists():
        _check(npz, "sha256", _CIFAR_NPZ_SHA256)
        try:
            with np.load(npz) as d:
                return d["x_train"], d["y_train"], d["x_test"], d["y_test"]
        except (KeyError, ValueError, OSError) as err:
            raise DataError(f"{npz} could not be read ({err})") from err
    if not batches.exists():
        if not _download_wanted(download):
            raise _missing("CIFAR-10 (cifar10/cifar10.npz or cifar-10-batches-py/)", root)
        from .compat import import_torchvision

        import_torchvision().datasets.CIFAR10(str(root), train=True, download=True)
    parts = {}
    for name, md5 in _CIFAR_BATCH_MD5.items():
        if not (batches / name).exists():
            raise _missing(f"CIFAR-10 batch file {name}", root)
        _check(batches / name, "md5", md5)
        with open(batches / name, "rb") as f:
            d = pickle.load(f, encoding="latin1")
        parts[name] = (d["data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.array(d["labels"]))
    train = [parts[f"data_batch_{i}"] for i in range(1, 6)]
    return (np.concatenate([p[0] for p in train]), np.concatenate([p[1] for p in train]),
            *parts["test_batch"])


def _to_tensor(x_hwc: np.ndarray, mean, std) -> torch.Tensor:
    x_hwc = x_hwc if x_hwc.flags.writeable else x_hwc.copy()
    x = torch.from_numpy(np.ascontiguousarray(x_hwc)).permute(0, 3, 1, 2).float().div_(255)
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return ((x - m) / s).contiguous()


def parse_name(name: str) -> tuple[str, list[int] | None]:
    """``'cifar10-5'`` -> (``'cifar10'``, [0, 1, 2, 3, 4]); other names pass through.

    Any name may end in ``+random-labels`` (the training labels randomly permuted).
    """
    key = name.lower().replace("_", "").replace("-mnist", "mnist").removesuffix(RANDOM_LABELS)
    if key in _STATS or key in SEQUENCE_DATASETS:
        return key, None
    if key.startswith("cifar10-") and key[8:].isdigit():
        k = int(key[8:])
        if not 2 <= k <= 10:
            raise ValueError(f"cifar10-K needs 2 <= K <= 10 classes, got K={k}")
        return "cifar10", list(range(k))
    raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)} (K = 2..10), "
                     f"each optionally with the suffix {RANDOM_LABELS!r}")


def train_size(name: str, n_train: int = 0) -> int:
    """How many training examples a run on dataset ``name`` sees, from static sizes (nothing is loaded):
    ``n_train`` if it is positive (a stratified subset, see :func:`stratified_indices`), else the whole
    training split."""
    from . import sequences

    base, classes = parse_name(name)
    if base in sequences.TASKS and base != "smnist":
        full = sequences.N_TRAIN
    elif classes is not None:
        full = CIFAR10_TRAIN_PER_CLASS * len(classes)
    else:
        full = _TRAIN_SIZES[base]
    if n_train < 0 or n_train > full:
        raise ValueError(f"n_train must be in [0, {full}] for {name!r} (0 = all {full}), got {n_train}")
    return n_train or full


_CACHE: dict = {}


def load(name: str, *, download: bool | None = None) -> Dataset:
    """Load a dataset by name (see ``DATASETS``).

    ``cifar10-K`` keeps the first K classes (official label order); ``smnist`` is MNIST read row
    by row and ``seq-*`` are the synthetic tasks of :mod:`entres.sequences`, shaped (N, T, features);
    a ``+random-labels`` suffix permutes the training labels. Memoised per process.
    """
    base, classes = parse_name(name)
    refuse_if_no_compute(f"data.load({name!r})")
    root = data_root()
    key = (name, str(root.resolve()))
    if key in _CACHE:
        return _CACHE[key]
    if base.startswith("seq-"):
        from . import sequences

        ds = Dataset(name, *sequences.generate(base))
    else:
        ds = _load_images(name, base, classes, root, download)
    if name.lower().endswith(RANDOM_LABELS):
        # A fixed permutation of the training labels: class balance kept, every input-label link broken.
        perm = torch.from_numpy(np.random.default_rng(0).permutation(len(ds.y_train)))
        ds.y_train = ds.y_train[perm]
    _CACHE[key] = ds
    return ds


def _load_images(name: str, base: str, classes, root: Path, download) -> Dataset:
    if base == "cifar10":
        arrays = _load_cifar10(root, download)
    else:
        arrays = _load_idx_dataset("mnist" if base == "smnist" else base, root, download)
    xtr, ytr, xte, yte = arrays
    if classes is not None:
        keep_tr, keep_te = np.isin(ytr, classes), np.isin(yte, classes)
        xtr, ytr, xte, yte = xtr[keep_tr], ytr[keep_tr], xte[keep_te], yte[keep_te]
    mean, std = _STATS["mnist" if base == "smnist" else base]
    ds = Dataset(
        name=name,
        x_train=_to_tensor(xtr, mean, std),
        y_train=torch.from_numpy(ytr.astype(np.int64)),
        x_test=_to_tensor(xte, mean, std),
        y_test=torch.from_numpy(yte.astype(np.int64)),
        num_classes=len(classes) if classes is not None else 10,
    )
    if base == "smnist":  # (N, 1, 28, 28) -> (N, 28 rows as time steps, 28 pixels)
        ds.x_train, ds.x_test = ds.x_train[:, 0].contiguous(), ds.x_test[:, 0].contiguous()
    return ds


AUGMENT_PAD = 4


def augment_draws(batch_sizes: list[int], generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """The random crop offsets and flips for consecutive batches, drawn in the order :func:`augment` draws
    them batch by batch, so drawing an epoch's worth at once picks the same crops: ``(dy, dx, flip)``,
    each concatenated over the batches."""
    draws = [(torch.randint(0, 2 * AUGMENT_PAD + 1, (b,), generator=generator),
              torch.randint(0, 2 * AUGMENT_PAD + 1, (b,), generator=generator),
              torch.rand(b, generator=generator) < 0.5) for b in batch_sizes]
    return tuple(torch.cat(parts) for parts in zip(*draws))


def augment(x: torch.Tensor, generator: torch.Generator | None = None, draws: tuple | None = None) -> torch.Tensor:
    """Random crop (zero padding 4) and horizontal flip, per sample, on a batch (B, C, H, W).

    The random draws come from the (CPU) ``generator`` whatever device ``x`` is on, so a seed picks the
    same crops and flips on every device; or they are given as ``draws`` (:func:`augment_draws`, already
    on ``x``'s device), which lets a GPU loop copy an epoch's draws once instead of every step.
    """
    if (generator is None) == (draws is None):
        raise ValueError("augment needs exactly one of generator and draws")
    b, _, h, w = x.shape
    dev, pad = x.device, AUGMENT_PAD
    dy, dx, flip = draws if draws is not None else (t.to(dev) for t in augment_draws([b], generator))
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    rows = (dy[:, None] + torch.arange(h, device=dev)[None, :])  # (B, H)
    cols = (dx[:, None] + torch.arange(w, device=dev)[None, :])  # (B, W)
    out = padded[torch.arange(b, device=dev)[:, None, None, None],
                 torch.arange(x.shape[1], device=dev)[None, :, None, None],
                 rows[:, None, :, None], cols[:, None, None, :]]
    return torch.where(flip[:, None, None, None], out.flip(-1), out)  # no boolean indexing: no GPU sync


def stratified_indices(labels: torch.Tensor, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` indices with (as near as possible) equal counts per class, seeded."""
    g = torch.Generator().manual_seed(seed)
    classes = labels.unique()
    per = [n // len(classes) + (1 if i < n % len(classes) else 0) for i in range(len(classes))]
    out = []
    for c, k in zip(classes.tolist(), per):
        idx = (labels == c).nonzero().squeeze(1)
        if k > len(idx):
            raise ValueError(f"asked for {k} samples of class {c}, only {len(idx)} exist")
        out.append(idx[torch.randperm(len(idx), generator=g)[:k]])
    return torch.cat(out).sort().values
