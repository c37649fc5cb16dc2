"""Resumable sweeps: run many configs of one experiment, skipping cached ones.

Runs go through a ``concurrent.futures.Executor``. By default (``ENTRES_WORKERS=auto``) a sweep
with several runs to compute on a CPU, started from the ``entres`` command, a notebook kernel or
an interactive session, trains one network per core at once, each with one thread: on the 2-core
development machine that is 1.2-1.3x the throughput of one network on both cores
(``benchmarks/training_speed.py``), since small products split over threads wait on each other.
Worker processes are spawned, and a spawned process first re-runs its parent's main script; so
under any other main script (yours, pytest) ``auto`` runs inline, and ``ENTRES_WORKERS=N`` asks for
N at once there (guard the script's work with ``if __name__ == "__main__":``, as Python's
multiprocessing requires). ``ENTRES_WORKERS=1`` runs one after the other in this process (as on a
GPU); any other executor with ``submit`` (a cluster client, say) can be passed in.
Each run writes its own result file as soon as it finishes, so killing a
sweep loses only the runs in flight, and rerunning it resumes.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import time
import traceback
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from . import experiments, results, runlog, settings
from .data import DataError


FAIL_FAST = (DataError, results.MissingResultError, ValueError, TypeError)


class SweepError(RuntimeError):
    """Some runs of a sweep failed (the others were saved)."""


class InlineExecutor(Executor):
    """Runs each submitted call at once, in this process."""

    def submit(self, fn, /, *args, **kwargs):
        fut = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001  (handed to the caller through the future)
            fut.set_exception(err)
        return fut


def execute(name: str, config: dict) -> dict:
    """Compute one run and save its record. Module-level so process pools can pickle it."""
    exp = experiments.get(name)
    threads = settings.threads()
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    commit = results.git_commit()  # the code that runs is the code at the start, whatever HEAD is at the end
    start = time.perf_counter()
    parts = exp.fn(config)
    prov = results.provenance(time.perf_counter() - start, commit)
    # Timings are provenance, not results: kept out of the metrics, so a rerun writes identical metrics.
    metrics = parts.get("metrics", {})
    prov.update({k: round(metrics.pop(k), 3) for k in [k for k in metrics if k.endswith("_seconds")]})
    record = {"experiment": name, "version": exp.version,
              "key": results.config_key(name, exp.version, config), "config": config, **parts,
              "provenance": prov}
    results.save(record)
    return record


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _set_threads(threads: int) -> None:  # a pool worker's initializer (ENTRES_THREADS still wins in execute)
    import torch

    torch.set_num_threads(threads)


# Main modules that do nothing when a spawned worker re-imports them (their work is under a __main__ guard).
_SAFE_MAINS = ("entres.__main__", "ipykernel_launcher")


def spawn_safe_main() -> bool:
    """Whether spawned workers can start without re-running this process's main script: none (an
    interactive session, ``python -c``), the ``entres`` command or a Jupyter kernel."""
    main = sys.modules.get("__main__")
    spec, file = getattr(main, "__spec__", None), getattr(main, "__file__", None)
    return file is None or getattr(spec, "name", None) in _SAFE_MAINS or Path(file).name in ("entres",
                                                                                              "ipykernel_launcher.py")


def worker_count(runs: int) -> int:
    """How many runs of a sweep with ``runs`` to compute go at once (``ENTRES_WORKERS``, see the module)."""
    value = settings.workers()
    if value == "auto":
        from . import devices

        return min(_cores(), runs) if devices.current().type == "cpu" and spawn_safe_main() else 1
    return value


def default_executor(runs: int = 1) -> Executor:
    """This process for one run at a time, else a pool of :func:`worker_count` processes, each with its
    share of the cores as torch threads."""
    workers = worker_count(runs)
    if workers <= 1:
        return InlineExecutor()
    # spawn, not fork: forking a process that already runs torch's thread pools can deadlock
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_set_threads, initargs=(max(1, _cores() // workers),))


def _completed(executor: Executor, name: str, configs: list[dict], todo: list[int]):
    """(index, finished future) pairs: one run at a time in this process, else as the pool finishes them."""
    if isinstance(executor, InlineExecutor):
        for i in todo:  # submit lazily, so progress shows per run and a fail-fast error stops the rest
            yield i, executor.submit(execute, name, configs[i])
        return
    futures = {executor.submit(execute, name, configs[i]): i for i in todo}
    for fut in as_completed(futures):
        yield futures[fut], fut


def failure_path(name: str, version: int, config: dict):
    return results.results_root() / "_failures" / name / f"{results.config_key(name, version, config)}.json"


def _record_failure(name: str, version: int, config: dict, message: str) -> None:
    """A failed run (e.g. a diverged training) leaves a failure record, never a result: a rerun tries again."""
    record = {"experiment": name, "version": version, "config": config, "error": message,
              "provenance": results.provenance(0.0)}
    results.write_json(failure_path(name, version, config), record)


def run_sweep(name: str, configs: list[dict], executor: Executor | None = None,
              progress: bool | None = None) -> list[dict]:
    """Records for every config (in order): from the cache, else computed.

    In cache-only mode (``ENTRES_CACHE_ONLY=1``) any missing run raises
    :class:`~entres.results.MissingResultError` before anything is computed.
    """
    exp = experiments.get(name)
    full = [exp.full_config(c) for c in configs]
    found = [results.load(name, exp.version, c) for c in full]
    missing = [i for i, r in enumerate(found) if r is None]
    if missing and results.cache_only():
        listing = "\n".join(f"  {results.result_path(name, results.config_key(name, exp.version, full[i]))}"
                            for i in missing[:10])
        raise results.MissingResultError(
            f"{len(missing)} of {len(full)} {name!r} results are not in the cache "
            f"{results.results_root()} and ENTRES_CACHE_ONLY is set, so nothing is computed:\n{listing}\n"
            f"Compute them by running the notebook without ENTRES_CACHE_ONLY "
            f"(e.g. `entres run NOTEBOOK --profile book`).")
    if missing:
        runlog.sweep_started(name, len(missing), len(full))
        own = executor is None
        executor = executor or default_executor(len(missing))
        failures = []
        try:
            bar = tqdm(_completed(executor, name, full, missing), total=len(missing), desc=f"{name} runs",
                       disable=None if progress is None else not progress)
            for i, fut in bar:
                try:
                    found[i] = fut.result()
                except FAIL_FAST:
                    raise  # the same for every run: stop now instead of failing each one
                except Exception as err:  # noqa: BLE001  (collected, reported below)
                    message = "".join(traceback.format_exception_only(err)).strip()
                    failures.append((full[i], message))
                    _record_failure(name, exp.version, full[i], message)
        finally:
            if own:
                executor.shutdown()
        if failures:
            lines = "\n".join(f"  {cfg}: {msg}" for cfg, msg in failures)
            raise SweepError(f"{len(failures)} of {len(missing)} runs failed (the rest were saved; failure records "
                             f"in {results.results_root() / '_failures' / name}):\n{lines}")
    return found
