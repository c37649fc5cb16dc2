"""Every ``ENTRES_*`` environment variable, parsed and checked in one place.

Each variable has one function here that returns its value (or its default when it is unset or empty)
and raises :class:`SettingsError` with a one-line message naming the valid choices when it is set to
something else. The ``entres`` command calls :func:`check_all` before it does anything, so a bad
variable fails at once instead of deep inside a notebook kernel or a sweep worker.

Variables the ``entres`` command sets for the notebook kernels it starts (a reader rarely sets them):
``ENTRES_CLAIMS_DIR`` (where verdicts are filed) and ``ENTRES_PROGRESS_FILE`` (where training writes
its progress lines for the terminal).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping


class SettingsError(ValueError):
    """An ``ENTRES_*`` variable holds a value that is not one of its valid choices."""


@dataclass(frozen=True)
class Variable:
    name: str
    default: str      # as the README's table shows it
    meaning: str


VARIABLES: dict[str, Variable] = {v.name: v for v in [
    Variable("ENTRES_DATA", "data/", "dataset root (an existing folder, torchvision layout)"),
    Variable("ENTRES_DOWNLOAD", "0", "1 lets torchvision download missing datasets (needs internet)"),
    Variable("ENTRES_RESULTS", "data/results", "results cache (a folder; created if missing)"),
    Variable("ENTRES_CACHE_ONLY", "0", "1: a missing result is an error, never a computation"),
    Variable("ENTRES_NO_COMPUTE", "ENTRES_CACHE_ONLY's value",
             "1: any dataset load or training raises (the guard of a build from results alone); 0: allowed"),
    Variable("ENTRES_WORKERS", "auto", "runs of a sweep at once: auto or a positive integer"),
    Variable("ENTRES_THREADS", "the worker's share of the cores", "torch threads per run (positive integer)"),
    Variable("ENTRES_MKL_AVX512", "on for AMD CPUs with AVX-512", "1/0: run with/without the MKL shim"),
    Variable("ENTRES_DEVICE", "cpu", "cpu, cuda or cuda:N"),
    Variable("ENTRES_CLAIMS_DIR", "<results>/claims", "where verdicts are filed (set by `entres run`)"),
    Variable("ENTRES_PROGRESS_FILE", "unset", "training progress lines for the terminal (set by `entres run`)"),
    Variable("ENTRES_RUN_OVERRIDES", "unset", "JSON of the -p overrides, recorded in filed verdicts (set by `entres run`)"),
    Variable("ENTRES_SOURCE_COMMIT", "unset", "the code's git commit where the copy has no .git (a lent machine)"),
]}


def _raw(name: str, environ: Mapping[str, str] | None) -> str:
    """The variable's value with surrounding blanks removed; '' when unset."""
    return (os.environ if environ is None else environ).get(name, "").strip()


def _flag(name: str, environ: Mapping[str, str] | None, default: bool = False) -> bool:
    value = _raw(name, environ)
    if value == "":
        return default
    if value not in ("0", "1"):
        raise SettingsError(f"{name} must be 0 or 1, got {value!r}")
    return value == "1"


def _folder(name: str, value: str, must_exist: bool) -> Path:
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{name} must name a folder, but {value} is a file")
    if must_exist and not path.exists():
        raise SettingsError(f"{name} must name an existing folder, but {value} does not exist")
    return path


def _project_root() -> Path:
    from .results import project_root  # imported late: results imports torch

    return project_root()


def download(environ: Mapping[str, str] | None = None) -> bool:
    """``ENTRES_DOWNLOAD``: 1 lets torchvision fetch missing datasets; 0 (default) never touches the network."""
    return _flag("ENTRES_DOWNLOAD", environ)


def data_root(environ: Mapping[str, str] | None = None) -> Path:
    """``ENTRES_DATA``: an existing folder (it may be created by a download when ``ENTRES_DOWNLOAD=1``)."""
    value = _raw("ENTRES_DATA", environ)
    if value == "":
        return _project_root() / "data"
    return _folder("ENTRES_DATA", value, must_exist=not download(environ))


def results_root(environ: Mapping[str, str] | None = None) -> Path:
    """``ENTRES_RESULTS``: a folder, created on the first write."""
    value = _raw("ENTRES_RESULTS", environ)
    if value == "":
        return _project_root() / "data" / "results"
    return _folder("ENTRES_RESULTS", value, must_exist=False)


def claims_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """``ENTRES_CLAIMS_DIR``: where verdicts are filed; None (unset) means ``<results>/claims``."""
    value = _raw("ENTRES_CLAIMS_DIR", environ)
    return _folder("ENTRES_CLAIMS_DIR", value, must_exist=False) if value else None


def progress_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """``ENTRES_PROGRESS_FILE``: a file training appends its progress lines to; None (unset): no lines."""
    value = _raw("ENTRES_PROGRESS_FILE", environ)
    if not value:
        return None
    path = Path(value)
    if path.is_dir():
        raise SettingsError(f"ENTRES_PROGRESS_FILE must name a file, but {value} is a folder")
    return path


def run_overrides(environ: Mapping[str, str] | None = None) -> dict | None:
    """``ENTRES_RUN_OVERRIDES``: the ``-p`` parameters of this run as a JSON object; None when unset."""
    import json

    value = _raw("ENTRES_RUN_OVERRIDES", environ)
    if not value:
        return None
    try:
        overrides = json.loads(value)
    except json.JSONDecodeError:
        overrides = None
    if not isinstance(overrides, dict):
        raise SettingsError(f"ENTRES_RUN_OVERRIDES must be a JSON object of parameter -> value, got {value!r}")
    return overrides


def cache_only(environ: Mapping[str, str] | None = None) -> bool:
    """``ENTRES_CACHE_ONLY``: 1 makes a missing result an error; 0 (default) computes it."""
    return _flag("ENTRES_CACHE_ONLY", environ)


def no_compute(environ: Mapping[str, str] | None = None) -> bool:
    """``ENTRES_NO_COMPUTE``: 1 makes every dataset load and every training call raise
    (:func:`entres.data.refuse_if_no_compute`); 0 allows them; unset follows ``ENTRES_CACHE_ONLY``, so a
    cache-only build (``make book``, nbval) proves that it reads results alone."""
    if _raw("ENTRES_NO_COMPUTE", environ) == "":
        return cache_only(environ)
    return _flag("ENTRES_NO_COMPUTE", environ)


def _positive_int(name: str, value: str, what: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name} must be {what}, got {value!r}")
    return int(value)


def workers(environ: Mapping[str, str] | None = None) -> str | int:
    """``ENTRES_WORKERS``: ``"auto"`` (default: one run per CPU core) or a positive integer."""
    value = _raw("ENTRES_WORKERS", environ) or "auto"
    if value == "auto":
        return value
    return _positive_int("ENTRES_WORKERS", value, "'auto' (one run per CPU core) or a positive integer")


def threads(environ: Mapping[str, str] | None = None) -> int | None:
    """``ENTRES_THREADS``: torch threads per run, a positive integer; None (unset): the worker's share."""
    value = _raw("ENTRES_THREADS", environ)
    return _positive_int("ENTRES_THREADS", value, "a positive integer (torch threads per run)") if value else None


def mkl_avx512(environ: Mapping[str, str] | None = None) -> bool | None:
    """``ENTRES_MKL_AVX512``: True (1), False (0), or None (unset: on for AMD CPUs with AVX-512)."""
    value = _raw("ENTRES_MKL_AVX512", environ)
    if value == "":
        return None
    if value not in ("0", "1"):
        raise SettingsError(f"ENTRES_MKL_AVX512 must be 1 (MKL's AVX-512 kernels) or 0 (its default dispatch), "
                            f"or unset (on for AMD CPUs with AVX-512), got {value!r}")
    return value == "1"


_DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


def device(environ: Mapping[str, str] | None = None) -> str:
    """``ENTRES_DEVICE``: ``cpu`` (default), ``cuda`` or ``cuda:N`` (whether it exists is checked by
    :func:`entres.devices.current`)."""
    value = _raw("ENTRES_DEVICE", environ).lower() or "cpu"
    if not _DEVICE.match(value):
        raise SettingsError(f"unknown ENTRES_DEVICE {value!r}; valid: cpu, cuda, cuda:N")
    return value


READERS: dict[str, Callable] = {
    "ENTRES_DATA": data_root, "ENTRES_DOWNLOAD": download, "ENTRES_RESULTS": results_root,
    "ENTRES_CACHE_ONLY": cache_only, "ENTRES_NO_COMPUTE": no_compute, "ENTRES_WORKERS": workers,
    "ENTRES_THREADS": threads, "ENTRES_MKL_AVX512": mkl_avx512, "ENTRES_DEVICE": device,
    "ENTRES_CLAIMS_DIR": claims_dir, "ENTRES_PROGRESS_FILE": progress_file, "ENTRES_RUN_OVERRIDES": run_overrides,
}


def check_all(environ: Mapping[str, str] | None = None) -> None:
    """Parse every variable; the first bad one raises :class:`SettingsError`."""
    for reader in READERS.values():
        reader(environ)


def source_commit(environ: Mapping[str, str] | None = None) -> str | None:
    """``ENTRES_SOURCE_COMMIT``: the commit of a copied tree without ``.git`` (40 hex digits, optionally
    ``+dirty``); None when unset. Provenance uses it only where git cannot answer."""
    value = _raw("ENTRES_SOURCE_COMMIT", environ)
    if not value:
        return None
    head = value.removesuffix("+dirty")
    if len(head) != 40 or any(c not in "0123456789abcdef" for c in head):
        raise SettingsError(f"ENTRES_SOURCE_COMMIT must be a 40-digit hex git commit (optionally +dirty), got {value!r}")
    return value
