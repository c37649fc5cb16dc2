"""The results cache (SPEC §9): one small JSON file per run.

A run is identified by its experiment name, the experiment's declared version
and its *full* config (defaults filled in); the file name is a hash of the three.
Files are written atomically (temp file + rename), so an interrupted run never
leaves a half-written result. With ``ENTRES_CACHE_ONLY=1`` a missing result
is an error instead of a (possibly hours long) computation.

Layout: ``$ENTRES_RESULTS`` (default ``data/results``) / experiment / key.json;
model checkpoints (never committed) go to ``<results>/_checkpoints``.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from . import __version__, devices, mkl_dispatch, settings


class MissingResultError(RuntimeError):
    """Cache-only mode and a result is not in the cache."""


class CorruptResultError(RuntimeError):
    """A results file cannot be read or does not match the config it is filed under."""


def project_root() -> Path:
    """The repository root when entres runs from a checkout, else the working directory."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def results_root() -> Path:
    return settings.results_root()


def claims_root() -> Path:
    """Where verdicts are filed and read: ``ENTRES_CLAIMS_DIR`` (set by ``entres run`` to its run folder),
    else ``<results root>/claims`` (the book's verdicts)."""
    return settings.claims_dir() or results_root() / "claims"


def cache_only() -> bool:
    return settings.cache_only()


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_key(experiment: str, version: int, config: dict) -> str:
    payload = canonical({"experiment": experiment, "version": version, "config": config})
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def result_path(experiment: str, key: str) -> Path:
    return results_root() / experiment / f"{key}.json"


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_torch(path: Path, obj) -> None:
    """``torch.save`` written atomically (model checkpoints and training states)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_torch(path: Path, discard_damaged: bool = True):
    """What :func:`save_torch` wrote at ``path``; None if there is no such file or it cannot be read (a damaged
    file is then removed unless ``discard_damaged`` is False: it only costs the compute it held)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001  any unreadable file counts as absent
        if discard_damaged:
            path.unlink(missing_ok=True)
        return None


def git_commit() -> str:
    """HEAD of the repository the library runs from, with "+dirty" if ``entres/`` has uncommitted changes."""
    repo = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "entres"], cwd=repo,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    if not commit:  # a copy without .git (a lent machine): the commit it was copied from, if named
        return settings.source_commit() or "unknown"
    return commit + ("+dirty" if dirty else "")


def provenance(wall_seconds: float, commit: str | None = None) -> dict:
    """Where and with what a result was computed; ``commit`` is the code's commit (default: HEAD now)."""
    return {
        "entres_version": __version__,
        "git_commit": commit or git_commit(),
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "device": devices.describe(devices.current()),
        "threads": torch.get_num_threads(),
        "mkl_avx512_shim": mkl_dispatch.active(),
        "hostname": platform.node(),
        "wall_seconds": round(wall_seconds, 3),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_json(path: Path, obj) -> Path:
    """Write ``obj`` as indented, key-sorted JSON, atomically (results, verdicts, failure records)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode())
    return path


def save(record: dict) -> Path:
    """Write a result record (must hold experiment, version, key, config) atomically."""
    return write_json(result_path(record["experiment"], record["key"]), record)


def load(experiment: str, version: int, config: dict) -> dict | None:
    """The cached record for this run, or None. Raises on a corrupt or mismatched file."""
    key = config_key(experiment, version, config)
    path = result_path(experiment, key)
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CorruptResultError(f"{path} is not valid JSON ({err}); delete it to recompute") from err
    stored = (record.get("experiment"), record.get("version"), canonical(record.get("config")))
    if stored != (experiment, version, canonical(config)):
        raise CorruptResultError(
            f"{path} holds a result for another run (experiment/version/config differ from the "
            f"requested {experiment} v{version}); delete it to recompute")
    return record
