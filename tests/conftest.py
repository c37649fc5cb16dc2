import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Read before any test's monkeypatch: ENTRES_DOWNLOAD=1 make test fetches the datasets once (needs internet).
DOWNLOAD_WANTED = os.environ.get("ENTRES_DOWNLOAD", "").strip() == "1"
REAL_DATASETS = ("mnist", "fashionmnist", "cifar10")


@pytest.fixture(autouse=True)
def isolated_results(tmp_path, monkeypatch):
    """Every test gets its own empty results cache, computes (never cache-only) and runs sweeps inline."""
    monkeypatch.setenv("ENTRES_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("ENTRES_CACHE_ONLY", "0")
    monkeypatch.delenv("ENTRES_NO_COMPUTE", raising=False)  # the guard follows ENTRES_CACHE_ONLY (off here)
    monkeypatch.setenv("ENTRES_WORKERS", "1")  # runs in the test's process (tests of the pool set it themselves)
    monkeypatch.delenv("ENTRES_DOWNLOAD", raising=False)
    return tmp_path / "results"


def _candidate_roots() -> list[Path]:
    """ENTRES_DATA when it is set (and then only it), else data/ and CI's ../shared/data."""
    if os.environ.get("ENTRES_DATA", "").strip():
        return [Path(os.environ["ENTRES_DATA"].strip()).expanduser()]
    return [ROOT / "data", ROOT.parent / "shared" / "data"]


def real_data_root() -> Path | None:
    """The data root with all the real datasets (MNIST, Fashion-MNIST, CIFAR-10), if this machine has them."""
    from entres import data

    for root in _candidate_roots():
        if root.is_dir() and not data.missing_datasets(root):
            return root.resolve()
    return None


_DOWNLOADED: list[Path] = []


def _download_datasets() -> Path:
    """Fetch every real dataset through torchvision into the first candidate root (once per session)."""
    if not _DOWNLOADED:
        from entres import data

        root = _candidate_roots()[0].resolve()
        root.mkdir(parents=True, exist_ok=True)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("ENTRES_DATA", str(root))
            mp.setenv("ENTRES_NO_COMPUTE", "0")
            for name in REAL_DATASETS:
                data.load(name, download=True)
        _DOWNLOADED.append(root)
    return _DOWNLOADED[0]


NO_DATA = "need the real datasets (MNIST, FashionMNIST, CIFAR-10)"


def skip_reason() -> str:
    """Why tests that need the real datasets are skipped here (one line)."""
    where = ", ".join(str(p) for p in _candidate_roots())
    return f"{NO_DATA}, not found under {where}: set ENTRES_DATA, or ENTRES_DOWNLOAD=1 to fetch them (internet)"


@pytest.fixture
def real_data(monkeypatch):
    root = real_data_root()
    if root is None and DOWNLOAD_WANTED:
        root = _download_datasets()
    if root is None:
        pytest.skip(skip_reason())
    monkeypatch.setenv("ENTRES_DATA", str(root))
    return root


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Every skip for missing datasets is filed under this file, so the summary shows them as one line
    (``SKIPPED [n] tests/conftest.py: need the real datasets ...``) instead of one line per test."""
    report = (yield).get_result()
    if report.skipped and isinstance(report.longrepr, tuple) and NO_DATA in str(report.longrepr[2]):
        report.longrepr = (__file__, 0, report.longrepr[2])
