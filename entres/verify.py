"""Recompute committed results and report any that no longer reproduce (``entres verify``).

A result is trusted because its file names the exact config, experiment version and code that made
it. That trust is only as good as the code: a change that silently alters a computation leaves old
files that no longer match what the code now does. ``verify`` picks the cheapest committed runs of
each chapter, recomputes them from scratch (training included, in a scratch results folder, with the
thread count and MKL kernels recorded in their provenance) and compares every metric. A result made
with MKL's AVX-512 shim on (or off) where this process has it off (or on) is recomputed in a child
process that has it as the result did (:mod:`entres.mkl_dispatch`); results from before the shim
existed were made without it.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import experiments, mkl_dispatch, results

CHAPTERS = {"RA": ("ra_trajectory", "ra_jacobian", "ra_collapse"), "ERM": ("erm_train",)}
_TIMINGS = ("seconds",)  # metrics that are timings, never compared
_CHILD = "_ENTRES_VERIFY_CHILD"  # set in a child that recomputes under the other MKL setting


@dataclass
class Check:
    path: Path
    experiment: str
    wall_seconds: float
    max_diff: float = math.nan
    worst: str = ""
    ok: bool = False
    error: str = ""

    def line(self) -> str:
        status = "ok" if self.ok else "DIFFERS" if not self.error else "FAILED"
        detail = self.error or f"max |Δ| {self.max_diff:.3g} ({self.worst})"
        return f"{status:8s} {self.experiment:14s} {self.path.name}  {detail}  (committed run took {self.wall_seconds:.0f} s)"


def cost(record: dict) -> float:
    """Seconds a recomputation takes: the run's wall time, or its training time if it reused a checkpoint."""
    prov = record["provenance"]
    return max(prov["wall_seconds"], prov.get("train_seconds", 0.0), record["metrics"].get("train_seconds", 0.0))


def committed(experiment: str, root: Path | None = None) -> list[tuple[Path, dict]]:
    """Every result file of ``experiment`` under the results root, cheapest first."""
    folder = (root or results.results_root()) / experiment
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            records.append((path, json.loads(path.read_text())))
        except (OSError, json.JSONDecodeError) as err:
            raise results.CorruptResultError(f"{path} is not valid JSON ({err})") from err
    return sorted(records, key=lambda pr: (cost(pr[1]), pr[0].name))


def on_cpu(record: dict) -> bool:
    """Whether the run was computed on a CPU (a GPU run cannot be reproduced bit for bit on one)."""
    return not record["provenance"].get("device", "cpu").startswith("cuda")


def choose(chapters: list[str], per_chapter: int = 1, max_seconds: float = 600.0) -> list[tuple[Path, dict]]:
    """The ``per_chapter`` cheapest committed CPU runs of each chapter that took at most ``max_seconds``."""
    unknown = set(chapters) - set(CHAPTERS)
    if unknown:
        raise ValueError(f"unknown chapter(s) {sorted(unknown)}; valid: {', '.join(CHAPTERS)}")
    chosen = []
    for chapter in chapters:
        pool = sorted((pr for exp in CHAPTERS[chapter] for pr in committed(exp)), key=lambda pr: cost(pr[1]))
        chosen += [pr for pr in pool if cost(pr[1]) <= max_seconds and on_cpu(pr[1])][:per_chapter]
    return chosen


def compare(old: dict, new: dict, tolerance: float) -> tuple[float, str, bool]:
    """Largest relative difference over the numeric metrics (timings excluded)."""
    worst, worst_key = 0.0, ""
    for key, a in old.items():
        if any(t in key for t in _TIMINGS) or not isinstance(a, (int, float)) or isinstance(a, bool):
            continue
        b = new.get(key)
        if not isinstance(b, (int, float)):
            return math.inf, f"{key} missing", False
        if math.isnan(a) or math.isnan(b):
            diff = 0.0 if math.isnan(a) and math.isnan(b) else math.inf
        else:
            diff = abs(a - b) / max(1.0, abs(a), abs(b))
        if diff > worst or not worst_key:
            worst, worst_key = diff, key
    return worst, worst_key, worst <= tolerance


def made_with_shim(record: dict) -> bool:
    """Whether the record was computed with MKL's AVX-512 shim (records from before it existed: no)."""
    return bool(record["provenance"].get("mkl_avx512_shim", False))


def _recompute_in_child(record: dict, shim: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="entres-verify-child-") as tmp:
        src, dst = Path(tmp, "record.json"), Path(tmp, "recomputed.json")
        src.write_text(json.dumps(record))
        code = ("import json, sys; from entres import verify; "
                "json.dump(verify.recompute(json.loads(open(sys.argv[1]).read())), open(sys.argv[2], 'w'))")
        env = mkl_dispatch.env_for(shim)
        env[_CHILD] = "1"
        proc = subprocess.run([sys.executable, "-c", code, str(src), str(dst)], env=env,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"the recomputation with the MKL shim {'on' if shim else 'off'} failed:\n"
                               f"{proc.stderr[-3000:]}")
        return json.loads(dst.read_text())


def recompute(record: dict) -> dict:
    """Run the record's experiment again from nothing, in a scratch results folder, with the MKL
    kernels it was made with (in a child process where this one has the other setting)."""
    import torch

    shim = made_with_shim(record)
    if shim != mkl_dispatch.active():
        if os.environ.get(_CHILD):
            raise RuntimeError(f"could not recompute with the MKL shim {'on' if shim else 'off'} as the result "
                               f"was made (the shim did not {'load' if shim else 'unload'})")
        return _recompute_in_child(record, shim)

    exp = experiments.get(record["experiment"])
    if exp.version != record["version"]:
        raise results.CorruptResultError(
            f"made by {record['experiment']} v{record['version']}, the code is v{exp.version}: it is stale "
            f"and no longer used (a new run gets a new key)")
    threads = torch.get_num_threads()
    saved = os.environ.get("ENTRES_RESULTS")
    with tempfile.TemporaryDirectory(prefix="entres-verify-") as scratch:
        os.environ["ENTRES_RESULTS"] = scratch
        torch.set_num_threads(int(record["provenance"].get("threads") or threads))
        try:
            return exp.fn(exp.full_config(record["config"]))
        finally:
            torch.set_num_threads(threads)
            if saved is None:
                os.environ.pop("ENTRES_RESULTS", None)
            else:
                os.environ["ENTRES_RESULTS"] = saved


def verify(chosen: list[tuple[Path, dict]], tolerance: float = 1e-6, report=print) -> list[Check]:
    checks = []
    for path, record in chosen:
        check = Check(path, record["experiment"], cost(record))
        try:
            new = recompute(record)
            check.max_diff, check.worst, check.ok = compare(record["metrics"], new["metrics"], tolerance)
        except Exception as err:  # noqa: BLE001  (reported per run)
            check.error = f"{type(err).__name__}: {err}"
        report(check.line())
        checks.append(check)
    return checks


# ---------------------------------------------------------------------------------------------
# Checksums of every committed file: a cheap check that no result or verdict was edited by hand

MANIFEST = "CHECKSUMS"
_HEADER = ("# sha256 of each file's canonical JSON (sorted keys, no whitespace), path relative to the results root.\n"
           "# Written by `entres verify --write-checksums`; checked by `entres verify --all`.\n")


def manifest_path(root: Path | None = None) -> Path:
    return (root or results.results_root()) / MANIFEST


def tracked_files(root: Path | None = None) -> list[Path]:
    """Result and verdict files under the results root (not checkpoints, failures or hidden files)."""
    root = root or results.results_root()
    return sorted(p for p in root.rglob("*.json")
                  if not any(part.startswith(("_", ".")) for part in p.relative_to(root).parts))


def digest(path: Path) -> str:
    """sha256 of the file's canonical JSON: the same for any re-indentation, different for any changed value."""
    try:
        content = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise results.CorruptResultError(f"{path} is not valid JSON ({' '.join(str(err).split())})") from None
    return hashlib.sha256(results.canonical(content).encode()).hexdigest()


def read_manifest(root: Path | None = None) -> dict[str, str]:
    """Relative path -> digest, from the manifest; {} when there is none."""
    path = manifest_path(root)
    if not path.exists():
        return {}
    entries = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise results.CorruptResultError(f"{path} line {number} is not '<sha256>  <path>': {line[:80]!r}")
        entries[parts[1].strip()] = parts[0]
    return entries


def write_manifest(root: Path | None = None, only: list[Path] | None = None) -> Path:
    """Write the manifest: every tracked file, or with ``only`` just refresh those entries (the rest kept)."""
    root = root or results.results_root()
    entries = read_manifest(root) if only is not None else {}
    for path in (tracked_files(root) if only is None else only):
        relative = Path(path).resolve().relative_to(root.resolve()).as_posix()
        if Path(path).exists():
            entries[relative] = digest(path)
        else:
            entries.pop(relative, None)
    body = "".join(f"{entries[k]}  {k}\n" for k in sorted(entries))
    results.atomic_write_bytes(manifest_path(root), (_HEADER + body).encode())
    return manifest_path(root)


@dataclass
class ManifestReport:
    checked: int = 0
    differ: list[str] = field(default_factory=list)      # edited since the manifest was written
    missing: list[str] = field(default_factory=list)     # listed, but the file is gone
    unreadable: list[str] = field(default_factory=list)  # not JSON at all
    unlisted: list[str] = field(default_factory=list)    # new since the manifest (not an error)

    @property
    def ok(self) -> bool:
        return not (self.differ or self.missing or self.unreadable)


def check_manifest(root: Path | None = None) -> ManifestReport:
    """Compare every tracked file with its manifest entry."""
    root = root or results.results_root()
    if not manifest_path(root).exists():
        raise results.CorruptResultError(f"no {MANIFEST} in {root}; write one with `entres verify --write-checksums`")
    entries = read_manifest(root)
    report = ManifestReport()
    present = {p.relative_to(root).as_posix(): p for p in tracked_files(root)}
    for relative, path in present.items():
        report.checked += 1
        if relative not in entries:
            report.unlisted.append(relative)
            continue
        try:
            if digest(path) != entries[relative]:
                report.differ.append(relative)
        except results.CorruptResultError:
            report.unreadable.append(relative)
    report.missing = sorted(set(entries) - set(present))
    return report


def differs_from_manifest(path: Path, root: Path | None = None) -> bool | None:
    """Whether ``path`` differs from its manifest entry (None: not listed, or no manifest)."""
    root = root or results.results_root()
    try:
        entry = read_manifest(root).get(Path(path).resolve().relative_to(root.resolve()).as_posix())
    except (results.CorruptResultError, ValueError):
        return None
    if entry is None:
        return None
    try:
        return digest(path) != entry
    except results.CorruptResultError:
        return True


RECORD_FIELDS = ("experiment", "version", "config", "metrics")


def load_result_file(path: Path) -> dict:
    """A result record from ``path``, or a one-line error saying what the file is instead."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give result files (data/results/<experiment>/<key>.json)")
    if not path.is_file():
        raise ValueError(f"no result file {path}")
    try:
        record = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a result file (not JSON: {' '.join(str(err).split())})") from None
    if isinstance(record, dict) and "rows" in record and "claim" in record:
        raise ValueError(f"{path} is a claims file (a filed verdict), not a result; `entres claims` checks those "
                         f"and `entres verify --all` checks their checksums")
    if not isinstance(record, dict) or not all(k in record for k in RECORD_FIELDS):
        raise ValueError(f"{path} is not a result file (a result holds {', '.join(RECORD_FIELDS)})")
    return record
