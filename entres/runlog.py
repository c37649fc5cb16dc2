"""Training progress for the terminal of ``entres run``.

The notebook runs in a papermill kernel (and its sweeps in worker processes), so its training cannot
print to the terminal that started it. ``entres run`` names a file in ``ENTRES_PROGRESS_FILE``; the
sweep and the training loop append one JSON line per event to it (nothing when the variable is
unset), and the command tails the file and prints one line per training epoch (:func:`format_event`).
"""
from __future__ import annotations

import json
import os
import time

from . import settings


def emit(event: str, **fields) -> None:
    """Append one event to the progress file, if ``entres run`` named one (a failure to write is ignored:
    progress is a courtesy, never a reason to stop training)."""
    path = settings.progress_file()
    if path is None:
        return
    line = json.dumps({"event": event, "time": time.time(), "pid": os.getpid(), **fields}, default=str) + "\n"
    try:
        with open(path, "a", encoding="utf-8") as f:  # one short write in append mode: lines do not interleave
            f.write(line)
    except OSError:
        pass


def sweep_started(experiment: str, to_compute: int, total: int) -> None:
    emit("sweep", experiment=experiment, to_compute=to_compute, total=total)


def epoch_done(cfg, epoch: int, seconds: float, entry: dict) -> None:
    """One training epoch of ``cfg`` finished after ``seconds`` of training (resumed time included)."""
    emit("epoch", run=f"{cfg.arch} d{cfg.depth} w{cfg.width} {cfg.skip} {cfg.dataset} seed {cfg.seed}",
         epoch=epoch, epochs=cfg.epochs, seconds=seconds,
         train_acc=entry.get("train_acc"), test_acc=entry.get("test_acc"))


class Reporter:
    """Turns events into terminal lines: which network of how many, epoch, time left, last accuracy."""

    def __init__(self):
        self.networks: dict[str, int] = {}  # run -> its number in order of first appearance
        self.expected = 0                   # networks the sweeps announced they will train

    def line(self, event: dict) -> str | None:
        if event.get("event") == "sweep":
            self.expected += int(event.get("to_compute", 0))
            return f"  {event['experiment']}: {event['to_compute']} of {event['total']} runs to compute"
        if event.get("event") != "epoch":
            return None
        number = self.networks.setdefault(event["run"], len(self.networks) + 1)
        of = f" of {self.expected}" if self.expected >= number else ""
        done, total = event["epoch"], event["epochs"]
        left = event["seconds"] / done * (total - done) if done else float("nan")
        accs = ", ".join(f"{k.split('_')[0]} {event[k]:.4f}" for k in ("train_acc", "test_acc")
                         if event.get(k) is not None)
        return (f"  network {number}{of} ({event['run']}): epoch {done}/{total}, "
                f"ETA {_duration(left)}{'; ' + accs if accs else ''}")


def _duration(seconds: float) -> str:
    if seconds != seconds:  # nan
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"
