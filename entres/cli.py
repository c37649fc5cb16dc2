"""Command line: ``entres run NOTEBOOK --profile P [-p KEY VALUE ...]`` and friends.

Also available as ``python -m entres``.
"""
from __future__ import annotations

import argparse
import ast
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

from . import profiles

KERNEL = "python3"


class UsageError(ValueError):
    """Bad command-line input; the message names the valid choices."""


def notebook_parameters(path: Path) -> dict:
    """Names and default values (as source text) of a notebook's ``parameters`` cell."""
    import papermill as pm

    return {name: info["default"] for name, info in pm.inspect_notebook(str(path)).items()}


def _check_values(params: dict) -> None:
    """Catch the commonest mistakes before a kernel starts (the library checks the rest)."""
    from . import data, mappings

    for key, value in params.items():
        values = value if isinstance(value, list) else [value]
        if key in ("skip", "skips"):
            for v in values:
                mappings.check_name(v)
        elif key in ("dataset", "datasets"):
            for v in values:
                data.parse_name(v)
        elif key in ("seeds",) and not values:
            raise UsageError("seeds must be a non-empty list")


def build_parameters(path: Path, profile: str, overrides: list[tuple[str, str]]) -> dict:
    valid = notebook_parameters(path)
    params = profiles.parameters_for(path.stem, profile)
    for key, raw in overrides:
        params[key] = yaml.safe_load(raw)  # "-p seeds [0,1]" -> [0, 1]; "-p skip none" -> "none"
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise UsageError(f"{path.name} has no parameter(s) {unknown}; valid: {', '.join(valid)}")
    for key, value in params.items():
        default = ast.literal_eval(valid[key])
        same = type(value) is type(default) or (isinstance(default, float) and type(value) is int)
        if default is not None and not same:
            raise UsageError(f"parameter {key!r} of {path.name} must be {type(default).__name__} "
                             f"(default {valid[key]}), got {value!r}")
    try:
        _check_values(params)
    except ValueError as err:
        raise UsageError(str(err)) from err
    return params


def run_notebook(name: str, profile: str = "smoke", overrides=(), output: str | None = None,
                 timeout: int | None = None, cache_only: bool = False, progress: bool = True) -> Path:
    """Execute one notebook with papermill; returns the path of the executed notebook."""
    import papermill as pm

    path = profiles.resolve_notebook(name)
    params = build_parameters(path, profile, list(overrides))
    out = Path(output) if output else path
    if out.suffix != ".ipynb":  # a folder
        out = out / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    if cache_only:
        os.environ["ENTRES_CACHE_ONLY"] = "1"
    for var in ("ENTRES_DATA", "ENTRES_RESULTS"):  # the kernel runs in book/: pin relative paths
        if os.environ.get(var):
            os.environ[var] = str(Path(os.environ[var]).resolve())
    # Execute into a scratch folder; only a successful run replaces ``out`` (never a half-executed notebook).
    scratch = Path(tempfile.mkdtemp(prefix="entres-run-"))
    tmp = scratch / out.name
    start = time.perf_counter()
    try:
        pm.execute_notebook(str(path), str(tmp), parameters=params, kernel_name=KERNEL,
                            execution_timeout=timeout, progress_bar=progress, cwd=str(path.parent))
        staged = out.with_name(f".{out.name}.new")
        _drop_timings(tmp, staged)
        os.replace(staged, out)
    except pm.PapermillExecutionError as err:
        failed = Path(tempfile.gettempdir()) / "entres-failed" / path.name
        failed.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(tmp, failed)
        raise RuntimeError(f"{path.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
                           f"(the partly executed notebook is {failed})") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{path.name} [{profile}] -> {out} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return out


_TIMINGS = ("start_time", "end_time", "duration")


def _drop_timings(src: Path, dst: Path) -> None:
    """Copy an executed notebook without wall-clock stamps, scratch paths and random cell ids, so
    that re-executing it from the same results leaves the file byte-identical."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    for key in ("input_path", "output_path"):  # machine-specific absolute paths
        nb.metadata.get("papermill", {}).pop(key, None)
    for meta in [nb.metadata.get("papermill", {})] + [c.metadata.get("papermill", {}) for c in nb.cells]:
        for key in _TIMINGS:
            meta.pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # the kernel's iopub timestamps
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.id = "injected-parameters"  # papermill draws a random id
    nbformat.write(nb, dst)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="entres", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute one notebook (or 'all') with a profile")
    run.add_argument("notebook", help="notebook name, e.g. ra1_line, or 'all'")
    run.add_argument("--profile", default="smoke", help=f"one of {', '.join(profiles.PROFILES)}")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                     help="override a parameter (VALUE is YAML: 3, 0.1, [0,1], identity)")
    run.add_argument("--output", help="output notebook or folder (default: the notebook itself)")
    run.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")
    run.add_argument("--cache-only", action="store_true", help="never compute; a missing result is an error")
    sub.add_parser("list", help="list notebooks and their parameters")
    sub.add_parser("env", help="what runs would be computed with: versions, threads, device, MKL's kernels")
    sub.add_parser("progress", help="training runs in progress or interrupted: epochs done, time left, accuracy")
    cl = sub.add_parser("claims", help="the claims table: verdicts filed by the executed notebooks")
    cl.add_argument("--profile", action="append", choices=profiles.PROFILES,
                    help="profile(s) to read, in order of preference (default: paper, then book)")
    ver = sub.add_parser("verify", help="recompute the cheapest committed results and report any that differ")
    ver.add_argument("--chapter", action="append", help="RA or ERM (default: both)")
    ver.add_argument("--per-chapter", type=int, default=1, help="runs to recompute per chapter (cheapest first)")
    ver.add_argument("--max-seconds", type=float, default=600.0,
                     help="only runs whose committed wall time was at most this")
    ver.add_argument("--tolerance", type=float, default=1e-6,
                     help="largest relative difference of a metric still counted as reproduced")
    ver.add_argument("files", nargs="*", help="result files to recompute instead of choosing")
    return ap


def _verify(args) -> int:
    import json

    from . import verify

    if args.files:
        chosen = []
        for f in args.files:
            path = Path(f)
            if not path.is_file():
                raise UsageError(f"no result file {f}")
            chosen.append((path, json.loads(path.read_text())))
    else:
        chosen = verify.choose(args.chapter or list(verify.CHAPTERS), args.per_chapter, args.max_seconds)
    if not chosen:
        raise UsageError("no committed result is cheap enough to recompute (see --max-seconds)")
    checks = verify.verify(chosen, args.tolerance)
    bad = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(bad)} of {len(checks)} results reproduce (tolerance {args.tolerance:g})")
    return 1 if bad else 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "claims":
            from . import claims

            print(claims.verdicts_text(claims.load_verdicts(tuple(args.profile or ("paper", "book")))))
            return 0
        if args.command == "verify":
            return _verify(args)
        if args.command == "progress":
            from . import checkpoints

            print(checkpoints.progress_text())
            return 0
        if args.command == "env":
            from . import results

            for key, value in results.provenance(0.0).items():
                if key not in ("wall_seconds", "date"):
                    print(f"{key}: {value}")
            from . import mkl_dispatch

            print(mkl_dispatch.describe())
            return 0
        if args.command == "list":
            for name, path in profiles.notebooks().items():
                print(f"{name}: {', '.join(notebook_parameters(path))}")
            return 0
        if args.profile not in profiles.PROFILES:
            raise UsageError(f"unknown profile {args.profile!r}; valid: {', '.join(profiles.PROFILES)}")
        names = list(profiles.notebooks()) if args.notebook == "all" else [args.notebook]
        if args.notebook == "all" and args.parameter:
            raise UsageError("-p applies to one notebook; name it instead of 'all'")
        for name in names:
            run_notebook(name, args.profile, args.parameter, args.output, args.timeout, args.cache_only)
    except (UsageError, profiles.ProfileError, RuntimeError, ValueError) as err:
        print(f"entres: error: {err}", file=sys.stderr)
        return 2
    return 0
