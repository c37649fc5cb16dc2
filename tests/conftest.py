import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_results(tmp_path, monkeypatch):
    """Every test gets its own empty results cache, computes (never cache-only) and runs sweeps inline."""
    monkeypatch.setenv("ENTRES_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("ENTRES_CACHE_ONLY", "0")
    monkeypatch.setenv("ENTRES_WORKERS", "1")  # runs in the test's process (tests of the pool set it themselves)
    monkeypatch.delenv("ENTRES_DOWNLOAD", raising=False)
    return tmp_path / "results"


def real_data_root() -> Path | None:
    """The data root with the real datasets, if this machine has them."""
    for cand in [os.environ.get("ENTRES_DATA"), ROOT / "data", ROOT.parent / "shared" / "data"]:
        if cand and (Path(cand) / "FashionMNIST" / "raw").exists():
            return Path(cand).resolve()
    return None


@pytest.fixture
def real_data(monkeypatch):
    root = real_data_root()
    if root is None:
        pytest.skip("real datasets not available (set ENTRES_DATA)")
    monkeypatch.setenv("ENTRES_DATA", str(root))
    return root
