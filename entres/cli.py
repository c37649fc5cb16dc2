"""Command line: ``entres run NOTEBOOK --profile P [-p KEY VALUE ...]`` and friends.

Also available as ``python -m entres``. A run writes its executed notebook and the verdicts it files
into a run folder (``runs/<notebook>-<profile>-<time>/`` or ``--output DIR``); only ``--update-book``
replaces the notebooks in ``book/`` and the verdicts in ``data/results/claims/``, and only with a
profile's own parameters. Bad input fails with one line naming the valid choices (``--debug`` shows the
traceback) before anything is written.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import textwrap
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__, profiles, settings

KERNEL = "python3"
MIN_TIMEOUT_S = 60  # a per-cell limit below this stops every notebook in its imports
EXIT_USAGE, EXIT_INTERRUPTED = 2, 130
BOOK_PROFILES = ("book", "paper")  # the profiles whose verdicts the book shows


class UsageError(ValueError):
    """Bad command-line input; the message names the valid choices."""


class Interrupted(Exception):
    """Ctrl-C during a run (after the kernel was stopped and the scratch files removed)."""


def notebook_parameters(path: Path) -> dict:
    """Names and default values (as source text) of a notebook's ``parameters`` cell."""
    import papermill as pm

    return {name: info["default"] for name, info in pm.inspect_notebook(str(path)).items()}


def parse_overrides(pairs: list[tuple[str, str]]) -> dict:
    """``-p KEY VALUE`` pairs as a dict of YAML values; ``profile`` and repeated keys are refused."""
    overrides = {}
    for key, raw in pairs:
        if key == "profile":
            raise UsageError(f"-p profile is not a parameter; choose the profile with --profile "
                             f"(one of {', '.join(profiles.PROFILES)})")
        if key in overrides:
            raise UsageError(f"-p {key} is given twice; give each parameter once")
        overrides[key] = profiles.parse_value(key, raw)
    return overrides


def build_parameters(path: Path, profile: str, overrides: dict) -> dict:
    """The profile's parameters of the notebook at ``path`` with ``overrides`` applied, all checked."""
    params = {**profiles.parameters_for(path.stem, profile), **overrides}
    profiles.check_parameters(path.stem, params, notebook_parameters(path))
    return params


# ---------------------------------------------------------------------------------------------
# Planning a run: every check happens here, before anything is written

@dataclass
class RunPlan:
    notebooks: dict[str, Path]
    parameters: dict[str, dict]
    profile: str
    overrides: dict
    folder: Path
    update_book: bool
    timeout: int | None
    cache_only: bool
    results: list[str] = field(default_factory=list)  # what each notebook produced, for the summary


def _timeout(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.strip().isdigit() or int(value) < MIN_TIMEOUT_S:
        raise UsageError(f"--timeout is seconds per cell, a whole number >= {MIN_TIMEOUT_S} (or leave it out "
                         f"for no limit), got {value!r}")
    return int(value)


def _run_folder(name: str, profile: str, output: str | None) -> Path:
    """``--output`` (a folder, created if missing), else a new ``runs/<name>-<profile>-<time>/``."""
    from .results import project_root

    if output:
        folder = Path(output)
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"--output {output} is an existing file; give a folder for the run (created if missing)")
        if folder.suffix == ".ipynb":
            raise UsageError(f"--output names the run's folder, not a notebook: got {output}")
        return folder
    base = project_root() / "runs" / f"{name}-{profile}-{time.strftime('%Y%m%d-%H%M%S')}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return folder


def plan_run(args) -> RunPlan:
    if args.profile not in profiles.PROFILES:
        raise UsageError(f"unknown profile {args.profile!r}; valid: {', '.join(profiles.PROFILES)}")
    if args.notebook == "all" and args.parameter:
        raise UsageError("-p applies to one notebook; name it instead of 'all'")
    overrides = parse_overrides(args.parameter)
    if args.update_book:
        if overrides:
            raise UsageError(f"--update-book files the book's verdicts, so it takes the profile's own parameters "
                             f"only; drop -p {', -p '.join(overrides)} (a run with overrides goes to its run folder)")
        if args.profile not in BOOK_PROFILES:
            raise UsageError(f"--update-book needs --profile {' or '.join(BOOK_PROFILES)} (the book shows no "
                             f"{args.profile} verdicts)")
        if args.output:
            raise UsageError("--update-book writes into book/; leave out --output")
    names = list(profiles.notebooks()) if args.notebook == "all" else [args.notebook]
    paths = {Path(n).stem: profiles.resolve_notebook(n) for n in names}
    parameters = {name: build_parameters(path, args.profile, overrides) for name, path in paths.items()}
    return RunPlan(paths, parameters, args.profile, overrides, _run_folder(args.notebook if args.notebook == "all"
                   else next(iter(paths)), args.profile, args.output), args.update_book, _timeout(args.timeout),
                   args.cache_only)


# ---------------------------------------------------------------------------------------------
# Executing a plan

def _claims_state(folder: Path) -> dict[str, tuple[int, int]]:
    """File name -> (inode, mtime) of each verdict file: a re-filed verdict gets a new one (atomic write)."""
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.glob("*.json")} if folder.is_dir() else {}


def _kernel_environment(plan: RunPlan, claims_dir: Path) -> dict[str, str]:
    """What the notebook kernels (and their sweep workers) inherit, beyond this process's environment."""
    env = {"ENTRES_CLAIMS_DIR": str(claims_dir.resolve()),
           "ENTRES_PROGRESS_FILE": str((plan.folder / "progress.jsonl").resolve())}
    if plan.overrides:
        env["ENTRES_RUN_OVERRIDES"] = json.dumps(plan.overrides, sort_keys=True)
    if plan.cache_only:
        env["ENTRES_CACHE_ONLY"] = "1"
    for var in ("ENTRES_DATA", "ENTRES_RESULTS"):  # the kernel runs in book/: pin relative paths
        if os.environ.get(var, "").strip():
            env[var] = str(Path(os.environ[var].strip()).resolve())
    if plan.profile == "smoke" and "ENTRES_RESULTS" not in env:  # smoke numbers never mix with the book's
        from . import results

        env["ENTRES_RESULTS"] = str(results.project_root() / "runs" / "smoke-results")  # git-ignored
    return env


@contextmanager
def _environment(updates: dict[str, str]):
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _kernel_output_to(log: Path):
    """Send this process's stdout and stderr, and so the kernels' (which inherit them), to ``log`` while a
    run executes: the kernel's transport warning, its shutdown messages and papermill's logging land
    there, not in the terminal. Yields a stream to the real terminal for the progress lines."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    terminal = os.fdopen(os.dup(saved[2]), "w", buffering=1)
    with open(log, "ab") as sink:
        for fd in saved:
            os.dup2(sink.fileno(), fd)
        try:
            yield terminal
        finally:
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            terminal.close()


class ProgressTail(threading.Thread):
    """Prints the training progress lines that the kernel appends to the run's progress file."""

    EVERY_S = 30.0  # off a terminal (a log file): a run's line at its first and last epoch and this often between

    def __init__(self, path: Path, terminal):
        super().__init__(daemon=True)
        from . import runlog

        self.path, self.terminal, self.reporter = path, terminal, runlog.Reporter()
        self.offset, self.done = 0, threading.Event()
        self.live = terminal.isatty()  # on a terminal each run keeps one line, rewritten in place
        self.open_line = False
        self.last_shown: dict[str, float] = {}
        self.lock = threading.Lock()  # drained by this thread and, at a notebook's end, by the main one

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.drain()
        self.drain()

    def drain(self) -> None:
        with self.lock:
            self._drain()

    def _drain(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            f.seek(self.offset)
            chunk = f.read()
        complete = chunk[:chunk.rfind("\n") + 1]  # a line still being written waits for the next round
        self.offset += len(complete.encode())
        for raw in complete.splitlines():
            try:
                event = json.loads(raw)
                line = self.reporter.line(event)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
            if line:
                self.show(event, line)

    def show(self, event: dict, line: str) -> None:
        last = event.get("event") != "epoch" or event["epoch"] == event["epochs"]
        if self.live:
            self.terminal.write(("\r\033[K" if self.open_line else "") + line + ("\n" if last else ""))
            self.terminal.flush()
            self.open_line = not last
            return
        run, now = event.get("run", ""), time.monotonic()
        if last or event.get("epoch") == 1 or now - self.last_shown.get(run, 0.0) >= self.EVERY_S:
            self.last_shown[run] = now
            print(line, file=self.terminal)

    def say(self, line: str) -> None:
        """A line of the command's own between progress lines."""
        with self.lock:
            self._say(line)

    def _say(self, line: str) -> None:
        if self.open_line:
            self.terminal.write("\n")
            self.open_line = False
        print(line, file=self.terminal)

    def stop(self) -> None:
        self.done.set()
        self.join()


def _execute_one(plan: RunPlan, name: str) -> Path:
    """Execute one notebook into a scratch file in the run folder; only success moves it to its place."""
    import papermill as pm

    path = plan.notebooks[name]
    scratch = plan.folder / f".{name}.running.ipynb"
    dest = path if plan.update_book else plan.folder / path.name
    try:
        pm.execute_notebook(str(path), str(scratch), parameters=plan.parameters[name], kernel_name=KERNEL,
                            execution_timeout=plan.timeout, progress_bar=False, cwd=str(path.parent))
    except pm.PapermillExecutionError as err:
        if _INTERRUPTED.is_set():
            raise KeyboardInterrupt from None
        failed = plan.folder / f"{name}.failed.ipynb"
        os.replace(scratch, failed)
        first = str(err.evalue).strip().splitlines()[0] if str(err.evalue).strip() else ""
        raise RuntimeError(f"{path.name} failed in cell {err.exec_count}: {err.ename}: {first} "
                           f"(the partly executed notebook is {failed})") from None
    except Exception as err:  # noqa: BLE001  a dead kernel, a cell timeout: keep what ran, say it in one line
        failed = plan.folder / f"{name}.failed.ipynb"
        if scratch.exists():
            os.replace(scratch, failed)
        raise RuntimeError(f"{path.name} did not finish: {type(err).__name__}: {_one_line(err)}"
                           + (f" (the partly executed notebook is {failed})" if failed.exists() else "")) from None
    staged = dest.with_name(f".{dest.name}.new")
    _drop_timings(scratch, staged)
    os.replace(staged, dest)
    scratch.unlink(missing_ok=True)
    return dest


_INTERRUPTED = threading.Event()


def _on_sigint(signum, frame):
    _INTERRUPTED.set()
    raise KeyboardInterrupt


def execute(plan: RunPlan) -> list[Path]:
    """Run the plan; returns the verdict files it filed."""
    from . import results

    plan.folder.mkdir(parents=True, exist_ok=True)
    book_claims = results.results_root() / "claims"
    claims_dir = book_claims if plan.update_book else plan.folder / "claims"
    if not plan.update_book:  # start from the book's verdicts, so a summary page run here shows every claim
        claims_dir.mkdir(exist_ok=True)
        for src in book_claims.glob("*.json"):
            shutil.copy2(src, claims_dir / src.name)
    before = _claims_state(claims_dir)
    started = time.time()
    log = plan.folder / "kernel.log"
    print(f"run folder: {plan.folder}", file=sys.stderr)
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        with _environment(_kernel_environment(plan, claims_dir)), _kernel_output_to(log) as terminal:
            tail = ProgressTail(plan.folder / "progress.jsonl", terminal)
            tail.start()
            try:
                for i, name in enumerate(plan.notebooks, 1):
                    tail.say(f"[{i}/{len(plan.notebooks)}] {name} ({plan.profile})")
                    t0 = time.perf_counter()
                    dest = _execute_one(plan, name)
                    tail.drain()
                    tail.say(f"  -> {dest} in {time.perf_counter() - t0:.1f} s")
            finally:
                tail.stop()
    except KeyboardInterrupt:
        import logging

        logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # nbclient's abandoned cell task, at exit
        for scratch in plan.folder.glob(".*.running.ipynb"):
            scratch.unlink(missing_ok=True)
        raise Interrupted(f"interrupted; {'book/ and data/results/claims/ are' if plan.update_book else 'the book is'}"
                          f" unchanged, finished training runs are cached and a rerun resumes (log: {log})") from None
    finally:
        signal.signal(signal.SIGINT, previous)
        filed = _filed_since(claims_dir, before, drop_others=not plan.update_book)
    if plan.update_book:
        _refresh_checksums(results.results_root(), started)
    return filed


def _filed_since(claims_dir: Path, before: dict, drop_others: bool) -> list[Path]:
    """The verdict files written since ``before``; with ``drop_others`` the rest (the book's copies) go."""
    after = _claims_state(claims_dir)
    filed = sorted(claims_dir / n for n in after if before.get(n) != after[n])
    if drop_others:
        for name in set(after) - {p.name for p in filed}:
            (claims_dir / name).unlink()
    return filed


def _refresh_checksums(root: Path, since: float) -> None:
    """After a book update: the manifest takes the files the run wrote (verdicts, new results)."""
    from . import verify

    written = [p for p in verify.tracked_files(root) if p.stat().st_mtime >= since]
    if written and verify.manifest_path(root).exists():
        verify.write_manifest(root, only=written)


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
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
    nbformat.write(nb, dst)


def merge_streams(outputs: list) -> list:
    """Join consecutive stream outputs of the same name: how the kernel chunks one print is timing, not content."""
    merged = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and prev is not None and prev.get("output_type") == "stream"
                and prev.get("name") == out.get("name")):
            prev["text"] = prev["text"] + out["text"]
        else:
            merged.append(out)
    return merged


def _run(args) -> int:
    plan = plan_run(args)
    start = time.perf_counter()
    filed = execute(plan)
    where = "book/" if plan.update_book else str(plan.folder)
    print(f"{len(plan.notebooks)} notebook(s) [{plan.profile}] -> {where} in {time.perf_counter() - start:.1f} s",
          file=sys.stderr)
    for path in filed:
        print(f"verdict filed: {path}" + (f" (overrides: {_overrides_text(plan.overrides)})" if plan.overrides else ""),
              file=sys.stderr)
    return 0


def _overrides_text(overrides: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in overrides.items())


# ---------------------------------------------------------------------------------------------
# entres claims

VERDICT_LEGEND = {
    "supported": "the CI of the primary effect excludes the null on the claimed side",
    "contradicted": "the CI excludes the null on the other side",
    "negligible": "the CI lies within the smallest effect of interest around the null",
    "inconclusive": "the CI is too wide to decide (more seeds would)",
    "not in regime": "the networks are not in the state the claim is about (gate failed)",
    "not yet run": "no verdict filed for this claim yet",
    "unreadable": "the claims file is malformed or its verdict does not follow from its effects",
}


def _claims_table(profiles_wanted: tuple[str, ...]):
    from . import claims

    return claims.load_verdicts(profiles_wanted, strict=False)


def _edited_claims_files() -> list[Path]:
    """Book verdict files that differ from the checksum manifest (edited since it was written)."""
    from . import results, verify

    root = results.results_root()
    return [p for p in sorted((root / "claims").glob("*.json")) if verify.differs_from_manifest(p, root)]


def _flag_edited(table, edited: list[Path]):
    """Mark the rows read from an edited file, so the table never shows them as if nothing happened."""
    from .claims import CLAIMS

    names = {p.name for p in edited}
    table["problem"] = table["problem"].astype(object)
    for i, r in table.iterrows():
        own = r["notebook"] == CLAIMS[r["claim"]].notebook
        name = f"{r['claim']}.{r['profile']}.json" if own else f"{r['claim']}+{r['notebook']}.{r['profile']}.json"
        if name in names and not _cell(r.get("problem")):
            table.loc[i, "problem"] = f"EDITED? {name} differs from CHECKSUMS; filed: {_cell(r['effect'])}"
    return table


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def claims_text(table, width: int = 100) -> str:
    """The claims table for a terminal of ``width`` columns: one block per claim, counts and a legend."""
    lines = []
    for claim, rows in table.groupby("claim", sort=False):
        first = rows.iloc[0]
        lines += textwrap.wrap(f"{claim}  {first['text']}", width, subsequent_indent=" " * 6)
        for _, r in rows.iterrows():
            head = f"  {r['verdict']:<13} " + (f"{_cell(r['dataset'])}: " if _cell(r["dataset"]) else "")
            detail = _cell(r.get("problem")) or "; ".join(
                x for x in (_cell(r["effect"]), f"{_cell(r['seeds'])} seeds" if _cell(r["seeds"]) else "",
                            _cell(r["profile"]),
                            f"overrides {_overrides_text(r['overrides'])}" if isinstance(r.get("overrides"), dict) else "")
                if x)
            lines += textwrap.wrap(head + detail, width, subsequent_indent=" " * 16) or [head.rstrip()]
    counts = table["verdict"].value_counts()
    lines += ["", "counts: " + ", ".join(f"{v} {counts[v]}" for v in VERDICT_LEGEND if v in counts), "legend:"]
    for verdict, meaning in VERDICT_LEGEND.items():
        if verdict in counts:
            lines += textwrap.wrap(f"  {verdict:<14} {meaning}", width, subsequent_indent=" " * 17)
    return "\n".join(lines)


def claims_markdown(table) -> str:
    cols = ["claim", "dataset", "verdict", "effect", "seeds", "profile"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table.iterrows():
        cells = [_cell(r[c]).replace("|", "\\|") for c in cols]
        if _cell(r.get("problem")):
            cells[3] = _cell(r["problem"]).replace("|", "\\|")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def claims_json(table) -> str:
    records = [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
               for row in table.to_dict(orient="records")]
    return json.dumps(records, indent=1, default=str)


def _claims(args) -> int:
    if args.width < 60:
        raise UsageError(f"--width must be at least 60 columns, got {args.width}")
    edited = _edited_claims_files()
    table = _flag_edited(_claims_table(tuple(args.profile or ("paper", "book"))), edited)
    formats = {"text": lambda t: claims_text(t, args.width), "markdown": claims_markdown, "json": claims_json}
    print(formats[args.format](table))
    problems = [_cell(p) for p in table["problem"] if _cell(p) and not _cell(p).startswith("EDITED?")]
    problems += [f"{p}: differs from its checksum in CHECKSUMS (edited by hand? `entres run NAME --profile book "
                 f"--update-book` refiles it; `entres verify --write-checksums` accepts it)" for p in edited]
    for problem in problems:
        print(f"entres: warning: {problem}", file=sys.stderr)
    return 1 if problems else 0


# ---------------------------------------------------------------------------------------------
# entres list, verify

def _list(args) -> int:
    if not args.notebook:
        for name, path in profiles.notebooks().items():
            print(f"{name}: {', '.join(notebook_parameters(path))}")
        return 0
    path = profiles.resolve_notebook(args.notebook)
    defaults = notebook_parameters(path)
    per_profile = {p: profiles.load(p).get(path.stem, {}) or {} for p in profiles.PROFILES}
    print(f"{path.stem} ({path}); `-p KEY VALUE` overrides a parameter (YAML value)")
    rows = [("parameter", "type", "default (smoke)", *(p for p in profiles.PROFILES if p != "smoke"))]
    for key, default in defaults.items():
        import ast

        value = ast.literal_eval(default)
        kind = "bool" if isinstance(value, bool) else type(value).__name__
        values = [json.dumps(p) if key == "profile" else json.dumps(per_profile[p][key]) if key in per_profile[p]
                  else "=" for p in profiles.PROFILES if p != "smoke"]
        smoke = json.dumps(per_profile["smoke"][key]) if key in per_profile["smoke"] else default
        rows.append((key, kind, smoke, *values))
    caps = (24, 6, 20) + (22,) * (len(rows[0]) - 3)  # fits 100 columns; longer values end in "…"
    widths = [min(max(len(r[i]) for r in rows), cap) for i, cap in enumerate(caps)]
    for r in rows:
        print("  ".join(_clip(c, w).ljust(w) for c, w in zip(r, widths)).rstrip())
    print("(= the default)")
    return 0


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _verify(args) -> int:
    from . import verify

    if args.write_checksums:
        path = verify.write_manifest()
        print(f"wrote {path} ({len(verify.read_manifest())} files)")
        return 0
    if args.all:
        return _verify_all(verify)
    if args.per_chapter < 1:
        raise UsageError(f"--per-chapter must be a positive integer, got {args.per_chapter}")
    if not (args.tolerance >= 0 and args.tolerance != float("inf")):
        raise UsageError(f"--tolerance must be a finite number >= 0, got {args.tolerance}")
    if not args.max_seconds > 0:
        raise UsageError(f"--max-seconds must be > 0, got {args.max_seconds}")
    if args.files:
        chosen = [(Path(f), verify.load_result_file(Path(f))) for f in args.files]
    else:
        chosen = verify.choose(args.chapter or list(verify.CHAPTERS), args.per_chapter, args.max_seconds)
    if not chosen:
        raise UsageError("no committed result is cheap enough to recompute (see --max-seconds)")
    checks = verify.verify(chosen, args.tolerance)
    bad = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(bad)} of {len(checks)} results reproduce (tolerance {args.tolerance:g})")
    return 1 if bad else 0


def _verify_all(verify) -> int:
    report = verify.check_manifest()
    for kind, paths in (("DIFFERS", report.differ), ("MISSING", report.missing),
                        ("UNREADABLE", report.unreadable), ("new", report.unlisted)):
        for path in paths:
            print(f"{kind:10s} {path}")
    bad = len(report.differ) + len(report.missing) + len(report.unreadable)
    print(f"{report.checked - len(report.unlisted) - len(report.differ) - len(report.unreadable)} of "
          f"{report.checked - len(report.unlisted) + len(report.missing)} files match {verify.manifest_path()}"
          + (f"; {len(report.unlisted)} new since it was written" if report.unlisted else ""))
    return 1 if bad else 0


def _env(args) -> int:
    from . import mkl_dispatch, results

    for key, value in results.provenance(0.0).items():
        if key not in ("wall_seconds", "date"):
            print(f"{key}: {value}")
    print(mkl_dispatch.describe())
    return 0


def _progress(args) -> int:
    from . import checkpoints

    print(checkpoints.progress_text())
    return 0


# ---------------------------------------------------------------------------------------------
# Parser and main

class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one :class:`UsageError` line instead of usage text."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="entres", description=__doc__.splitlines()[0])
    ap.add_argument("--version", action="version", version=f"entres {__version__}")
    ap.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="execute one notebook (or 'all') with a profile into a run folder")
    run.add_argument("notebook", help="notebook name, e.g. ra1_line, or 'all'")
    run.add_argument("--profile", default="smoke", help=f"one of {', '.join(profiles.PROFILES)}")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                     help="override a parameter (VALUE is YAML: 3, 0.1, [0,1], identity)")
    run.add_argument("--output", help="the run folder (default: runs/<notebook>-<profile>-<time>/)")
    run.add_argument("--update-book", action="store_true",
                     help="replace the notebook(s) in book/ and the verdicts in data/results/claims/ "
                          "(book or paper profile, no -p)")
    run.add_argument("--timeout", help=f"per-cell timeout in seconds (at least {MIN_TIMEOUT_S})")
    run.add_argument("--cache-only", action="store_true", help="never compute; a missing result is an error")
    run.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    ls = sub.add_parser("list", help="list notebooks and their parameters; with a name: types, defaults, profiles")
    ls.add_argument("notebook", nargs="?", help="a notebook name, e.g. ra1_line")
    sub.add_parser("env", help="what runs would be computed with: versions, threads, device, MKL's kernels")
    sub.add_parser("progress", help="training runs in progress or interrupted: epochs done, time left, accuracy")
    cl = sub.add_parser("claims", help="the claims table: verdicts filed by the executed notebooks")
    cl.add_argument("--profile", action="append", choices=profiles.PROFILES,
                    help="profile(s) to read, in order of preference (default: paper, then book)")
    cl.add_argument("--format", default="text", choices=("text", "markdown", "json"))
    cl.add_argument("--width", type=int, default=100, help="terminal columns for --format text")
    ver = sub.add_parser("verify", help="recompute the cheapest committed results and report any that differ")
    ver.add_argument("--all", action="store_true",
                     help=f"check every committed result and verdict against data/results/CHECKSUMS (no recompute)")
    ver.add_argument("--write-checksums", action="store_true", help="(re)write data/results/CHECKSUMS")
    ver.add_argument("--chapter", action="append", help="RA or ERM (default: both)")
    ver.add_argument("--per-chapter", type=int, default=1, help="runs to recompute per chapter (cheapest first)")
    ver.add_argument("--max-seconds", type=float, default=600.0,
                     help="only runs whose committed wall time was at most this")
    ver.add_argument("--tolerance", type=float, default=1e-6,
                     help="largest relative difference of a metric still counted as reproduced")
    ver.add_argument("files", nargs="*", help="result files to recompute instead of choosing")
    return ap


COMMANDS = {"run": _run, "claims": _claims, "verify": _verify, "list": _list, "env": _env, "progress": _progress}


def _expected_errors() -> tuple[type[BaseException], ...]:
    from . import results

    errors = (UsageError, profiles.ProfileError, settings.SettingsError, RuntimeError, ValueError, OSError,
              results.CorruptResultError)
    return errors


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = _parser().parse_args(argv)
        settings.check_all()
        return COMMANDS[args.command](args)
    except BrokenPipeError:  # the output went to `head` or similar, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Interrupted as err:
        print(f"entres: {err}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("entres: interrupted; nothing was changed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _expected_errors() as err:
        if debug:
            traceback.print_exc()
        print(f"entres: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:  # noqa: BLE001  a bug: still one line, the traceback behind --debug
        if debug:
            traceback.print_exc()
        print(f"entres: internal error: {type(err).__name__}: {_one_line(err)} (--debug shows where)", file=sys.stderr)
        return 1


def _one_line(err: BaseException) -> str:
    """The first line of the message; the rest is behind --debug."""
    lines = str(err).strip().splitlines() or [type(err).__name__]
    more = f" (+{len(lines) - 1} more lines with --debug)" if len(lines) > 1 else ""
    return lines[0].rstrip(":") + more
