"""Run a named set of sweeps from the command line, without notebooks: ``python -m entres.slice NAME``.

A slice is plain data (:data:`SLICES`): a list of grids, each expanding to runs ``(experiment, config)``.
Runs that train the same network (the same :class:`~entres.train.TrainConfig`) form one task, executed in
one worker one after the other, so the network is trained once and the later runs load its checkpoint.
Tasks go to worker processes (spawned, one torch thread each; on a GPU several networks then share it, as
a small ResMLP step is bound by kernel launches, not by the GPU), longest first. Each run writes its own
result file through :func:`entres.sweep.execute` as soon as it finishes; runs already cached are skipped,
and a failed run leaves a failure record (``<results>/_failures``) and never stops the others.

    python -m entres.slice gpu-ra --dry-run                 # the runs, and an estimate of their cost
    ENTRES_DEVICE=cuda python -m entres.slice gpu-ra --workers 12 --limit-seconds 360 --hard-seconds 450

``--limit-seconds S``: no new task starts after S seconds (those running finish); ``--hard-seconds H``:
at H seconds the workers still running are stopped (their runs are lost, every finished one is saved).
Exit status: 0 all runs done, 1 some failed, 3 some not run (stopped by a time limit).
"""
from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

# The RA training settings of the book profile (profiles/book.yml ra4_depth / ra2_alignment).
_RA_BOOK = dict(width=128, epochs=200, batch_size=1024, lr=0.1, weight_decay=0.01, n_train=0, n_samples=500)

# RA-6 in the terminal phase. At batch 1024 on 10,000 images (10 SGD steps per epoch) and the book's 200
# epochs, the committed networks first reach train accuracy 0.999 at epoch ~37 (true labels) and ~116
# (random labels: with weight decay 0.01 they memorise only once the cosine schedule has brought the
# learning rate down to ~0.04, 58% of the way). If that crossing stays at the same fraction of a longer
# schedule, 3,000 epochs (30,000 steps) leave ~0.42 × 30,000 ≈ 12,600 steps after the bar for random
# labels and ≥ 24,000 for true labels: both ≥ 10,000, where 2,000 epochs would leave random labels ~8,400.
# One budget for both label sets, fixed before training, so they are compared at equal SGD steps.
RA6_EPOCHS = 3000
_RA6 = dict(depth=16, width=128, epochs=RA6_EPOCHS, batch_size=1024, lr=0.1, weight_decay=0.01, n_train=10000,
            n_samples=500)

SLICES: dict[str, dict] = {
    "gpu-ra": {
        "description": "RA protocol v2 re-measurement on a lent GPU: ra_spectrum over depths (RA-2/3/4), "
                       "the no-skip control (RA-5) and RA-6 in the terminal phase (with ra_trajectory, RA-1)",
        "workers": 12,
        "grids": [
            {"experiments": ["ra_spectrum"], "datasets": ["mnist", "fashionmnist"], "skips": ["identity"],
             "depths": [4, 8, 16, 32], "seeds": [0, 1, 2], "options": _RA_BOOK},
            {"experiments": ["ra_spectrum"], "datasets": ["mnist", "fashionmnist"], "skips": ["none"],
             "depths": [16], "seeds": [0, 1, 2], "options": _RA_BOOK},
            {"experiments": ["ra_spectrum", "ra_trajectory"],
             "datasets": ["fashionmnist", "fashionmnist+random-labels"], "skips": ["identity"],
             "depths": [16], "seeds": [0, 1, 2], "options": {k: v for k, v in _RA6.items() if k != "depth"},
             "per_experiment": {"ra_trajectory": {"n_samples": 1000}}},
        ],
    },
    "gpu-ra-shallow": {
        "description": "the depth-4 and depth-8 identity networks of gpu-ra alone (what a short lease can finish)",
        "workers": 12,
        "grids": [
            {"experiments": ["ra_spectrum"], "datasets": ["mnist", "fashionmnist"], "skips": ["identity"],
             "depths": [4, 8], "seeds": [0, 1, 2], "options": _RA_BOOK},
        ],
    },
    "cpu-ra-depth16": {
        "description": "ra_spectrum on twins of the book's depth-16 MNIST identity networks, on the CPU with one "
                       "thread and no MKL shim as the committed ra_jacobian ones were trained (on another CPU "
                       "model the last bits differ: twins, not copies)",
        "workers": 2,
        "grids": [
            {"experiments": ["ra_spectrum"], "datasets": ["mnist"], "skips": ["identity"],
             "depths": [16], "seeds": [0, 1, 2], "options": _RA_BOOK},
        ],
    },
    "smoke-ra": {
        "description": "a tiny CPU end-to-end of the runner (seconds per run; the numbers mean nothing)",
        "workers": 2,
        "grids": [
            {"experiments": ["ra_spectrum", "ra_trajectory"], "datasets": ["mnist", "fashionmnist"],
             "skips": ["identity"], "depths": [4], "seeds": [0, 1],
             "options": dict(width=32, epochs=2, batch_size=256, n_train=2000, n_samples=50)},
        ],
    },
}

# Cost model for --dry-run (seconds). CPU: measured on the 2-core development machine, one thread, no MKL
# shim: a ResMLP (width 128) step at batch 1024 takes ~6 ms + 9.5 ms per block; ra_spectrum's measurement
# ~3.5 s per block at 500 samples (the full SVD of 500 128×128 Jacobians is 2.6 s of it, and runs on the
# CPU on every device). GPU: a guess for a launch-bound step (~0.15 ms of kernel launches per block),
# not a measurement.
STEP_S = {"cpu": (6e-3, 9.5e-3), "cuda": (0.4e-3, 0.15e-3)}
MEASURE_S_PER_BLOCK = {"cpu": 3.5, "cuda": 2.8}  # ra_spectrum at 500 samples, width 128


def runs(name: str) -> list[tuple[str, dict]]:
    """The slice's runs as (experiment, full config), in grid order."""
    from . import experiments

    if name not in SLICES:
        raise ValueError(f"unknown slice {name!r}; valid: {', '.join(SLICES)}")
    out = []
    for grid in SLICES[name]["grids"]:
        for exp_name in grid["experiments"]:
            exp = experiments.get(exp_name)
            extra = grid.get("per_experiment", {}).get(exp_name, {})
            for dataset in grid["datasets"]:
                for skip in grid["skips"]:
                    for depth in grid["depths"]:
                        for seed in grid["seeds"]:
                            cfg = dict(grid["options"], dataset=dataset, skip=skip, depth=depth, seed=seed, **extra)
                            out.append((exp_name, exp.full_config(cfg)))
    return out


def training_key(config: dict) -> str:
    from . import checkpoints
    from .train import TrainConfig

    return checkpoints.checkpoint_path(TrainConfig.from_options(config)).stem


def tasks(run_list: list[tuple[str, dict]]) -> list[list[int]]:
    """Indices of runs grouped by the network they train (first appearance order within a group)."""
    groups: dict[str, list[int]] = {}
    for i, (_, cfg) in enumerate(run_list):
        groups.setdefault(training_key(cfg), []).append(i)
    return list(groups.values())


def _train_images(cfg: dict) -> int:
    name = cfg["dataset"].lower()
    full = 50000 if name.startswith("cifar10") else 60000
    return min(cfg["n_train"], full) if cfg.get("n_train") else full


def estimate(exp_name: str, cfg: dict, device: str, trains: bool = True) -> float:
    """Rough seconds for one run (training only if ``trains``) on ``device`` ("cpu" or "cuda")."""
    base, per_block = STEP_S[device]
    width_scale = (cfg["width"] / 128) ** 2 if device == "cpu" else 1.0
    steps = math.ceil(_train_images(cfg) / cfg["batch_size"]) * cfg["epochs"]
    batch_scale = cfg["batch_size"] / 1024 if device == "cpu" else 1.0
    seconds = steps * (base + per_block * cfg["depth"] * width_scale) * batch_scale if trains else 0.0
    if exp_name == "ra_spectrum":
        seconds += MEASURE_S_PER_BLOCK[device] * cfg["depth"] * cfg["n_samples"] / 500 * (cfg["width"] / 128) ** 2
    return seconds + 2.0


def describe(exp_name: str, cfg: dict) -> str:
    return (f"{exp_name} {cfg['dataset']} {cfg['skip']} d{cfg['depth']} w{cfg['width']} ep{cfg['epochs']} "
            f"b{cfg['batch_size']} n_train {cfg['n_train'] or 'all'} seed {cfg['seed']}")


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_task(items: list[tuple[str, dict]]) -> list[dict]:
    """Execute runs one after the other (the first trains, the others load its checkpoint); never raises."""
    from . import experiments, results, sweep

    out = []
    for exp_name, cfg in items:
        start = time.perf_counter()
        try:
            record = sweep.execute(exp_name, cfg)
            out.append({"ok": True, "seconds": time.perf_counter() - start,
                        "train_acc": record["metrics"].get("train_acc"),
                        "terminal_steps": record["metrics"].get("terminal_steps")})
        except Exception as err:  # noqa: BLE001  one failed run must not stop the slice
            message = "".join(traceback.format_exception_only(err)).strip()
            try:
                exp = experiments.get(exp_name)
                results.write_json(sweep.failure_path(exp_name, exp.version, cfg),
                                   {"experiment": exp_name, "version": exp.version, "config": cfg,
                                    "error": message, "traceback": traceback.format_exc(),
                                    "provenance": results.provenance(0.0)})
            except Exception:  # noqa: BLE001
                pass
            out.append({"ok": False, "seconds": time.perf_counter() - start, "error": message})
    return out


def _device_kind() -> str:
    from . import settings

    return "cuda" if settings.device().startswith("cuda") else "cpu"


def run_slice(name: str, workers: int | None = None, limit_seconds: float | None = None,
              hard_seconds: float | None = None, dry_run: bool = False, out=print) -> int:
    from . import experiments, results

    run_list = runs(name)
    device = _device_kind()
    cached = [results.load(e, experiments.get(e).version, c) is not None for e, c in run_list]
    groups = [[i for i in g if not cached[i]] for g in tasks(run_list)]
    # a group's first pending run trains unless an earlier run of the group is cached (its checkpoint may be)
    cost = {tuple(g): sum(estimate(run_list[i][0], run_list[i][1], device, trains=(k == 0)) for k, i in enumerate(g))
            for g in groups if g}
    todo = sorted((g for g in groups if g), key=lambda g: -cost[tuple(g)])
    workers = max(1, workers or SLICES[name].get("workers", 1))
    n_pending = sum(len(g) for g in todo)
    total = sum(cost.values())
    out(f"slice {name}: {len(run_list)} runs ({sum(cached)} cached, {n_pending} to run) in {len(todo)} tasks "
        f"(one network each); device {device}, {workers} workers; results in {results.results_root()}")
    if dry_run:
        for i, (e, c) in enumerate(run_list):
            mark = "cached" if cached[i] else f"~{estimate(e, c, device):.0f} s"
            out(f"  {i + 1:3d}. {describe(e, c)}  [{mark}]")
        longest = max(cost.values(), default=0.0)
        out(f"estimate ({device} cost model; the GPU one is a guess): {total:.0f} s of work, about "
            f"{max(total / workers, longest):.0f} s with {workers} workers (longest task {longest:.0f} s)")
        return 0
    start = time.perf_counter()
    done = failed = 0
    finished_tasks = 0

    def report(group, outcome):
        nonlocal done, failed
        for i, res in zip(group, outcome):
            e, c = run_list[i]
            done += 1
            if res["ok"]:
                acc = res.get("train_acc")
                extra = f", terminal steps {res['terminal_steps']}" if res.get("terminal_steps") is not None else ""
                out(f"[{done}/{n_pending}] {describe(e, c)}: {res['seconds']:.0f} s, train acc "
                    f"{acc:.4f}{extra}  (t={time.perf_counter() - start:.0f} s)" if acc is not None else
                    f"[{done}/{n_pending}] {describe(e, c)}: {res['seconds']:.0f} s")
            else:
                failed += 1
                out(f"[{done}/{n_pending}] {describe(e, c)}: FAILED after {res['seconds']:.0f} s: {res['error']}")
        sys.stdout.flush()

    def items(group):
        return [run_list[i] for i in group]

    stopped = False
    if workers == 1:
        for group in todo:
            if limit_seconds is not None and time.perf_counter() - start > limit_seconds:
                stopped = True
                break
            report(group, run_task(items(group)))
            finished_tasks += 1
    else:
        ctx = multiprocessing.get_context("spawn")  # never fork a process that runs torch (or CUDA)
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(1,))
        queue = list(todo)
        running = {}
        try:
            while queue or running:
                elapsed = time.perf_counter() - start
                while queue and len(running) < workers and (limit_seconds is None or elapsed < limit_seconds):
                    group = queue.pop(0)
                    running[pool.submit(run_task, items(group))] = group
                if not running:
                    stopped = bool(queue)
                    break
                timeout = None if hard_seconds is None else max(0.0, hard_seconds - elapsed)
                if limit_seconds is not None and queue:
                    timeout = min(timeout if timeout is not None else math.inf, max(1.0, limit_seconds - elapsed))
                finished, _ = wait(list(running), timeout=timeout, return_when=FIRST_COMPLETED)
                for fut in finished:
                    group = running.pop(fut)
                    try:
                        report(group, fut.result())
                    except Exception as err:  # noqa: BLE001  a worker died (killed, out of memory)
                        report(group, [{"ok": False, "seconds": 0.0, "error": f"worker died: {err!r}"}] * len(group))
                    finished_tasks += 1
                if hard_seconds is not None and time.perf_counter() - start >= hard_seconds and running:
                    stopped = True
                    out(f"hard limit of {hard_seconds:.0f} s reached: stopping {len(running)} task(s) in flight "
                        f"({sum(len(g) for g in running.values())} runs lost; finished ones are saved)")
                    break
                if limit_seconds is not None and time.perf_counter() - start >= limit_seconds and queue:
                    stopped = True
        finally:
            _stop(pool)
    left = n_pending - done
    out(f"slice {name}: {done - failed} runs done, {failed} failed, {left} not run, "
        f"{time.perf_counter() - start:.0f} s")
    return 1 if failed else 3 if left else 0


def _stop(pool: ProcessPoolExecutor) -> None:
    """Shut the pool down; workers still running (a hard limit, Ctrl-C) are terminated by their pid."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    busy = any(p.is_alive() for p in procs) and bool(getattr(pool, "_pending_work_items", True))
    pool.shutdown(wait=not busy, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=10)
        if p.is_alive():
            p.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m entres.slice", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=sorted(SLICES))
    parser.add_argument("--dry-run", action="store_true", help="list the runs and an estimate; run nothing")
    parser.add_argument("--workers", type=int, default=None, help="tasks at once (default: the slice's)")
    parser.add_argument("--limit-seconds", type=float, default=None, help="start no task after this many seconds")
    parser.add_argument("--hard-seconds", type=float, default=None,
                        help="stop the tasks still running after this many seconds")
    args = parser.parse_args(argv)
    from . import settings

    settings.check_all() if hasattr(settings, "check_all") else None
    os.environ.setdefault("ENTRES_THREADS", "1")  # every worker one torch thread (execute applies it)
    return run_slice(args.name, workers=args.workers, limit_seconds=args.limit_seconds,
                     hard_seconds=args.hard_seconds, dry_run=args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
