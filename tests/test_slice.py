"""entres.slice: named sweeps from the command line (grouping, dry run, caching, failures, limits, workers)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from entres import slice as sl
from entres import sweep

TINY_SLICE = {"description": "test", "workers": 1, "grids": [
    {"experiments": ["ra_spectrum", "ra_trajectory"], "datasets": ["fashionmnist"], "skips": ["identity"],
     "depths": [2], "seeds": [0, 1], "options": dict(width=8, epochs=1, batch_size=256, n_train=500, n_samples=20)}]}


def test_gpu_ra_slice_has_the_planned_runs():
    runs = sl.runs("gpu-ra")
    assert len(runs) == 2 * 4 * 3 + 2 * 3 + 2 * 2 * 3  # depths, no-skip control, RA-6 (spectrum + trajectory)
    groups = sl.tasks(runs)
    assert len(groups) == 36 and sum(map(len, groups)) == 42
    ra6 = [(e, c) for e, c in runs if c["n_train"] == 10000]
    assert {c["dataset"] for _, c in ra6} == {"fashionmnist", "fashionmnist+random-labels"}
    for e, c in ra6:
        assert c["epochs"] * 10 - 200 >= 10_000 and c["batch_size"] == 1024  # 10 steps/epoch; bar by ~epoch 200
    for g in groups:  # a network's runs share one task, so it is trained once
        assert len({sl.training_key(runs[i][1]) for i in g}) == 1
    book = [c for e, c in runs if c["n_train"] == 0]
    assert all((c["width"], c["epochs"], c["batch_size"], c["lr"], c["weight_decay"], c["n_samples"])
               == (128, 200, 1024, 0.1, 0.01, 500) for c in book)
    assert {c["skip"] for c in book if c["depth"] == 16} == {"identity", "none"}


def test_dry_run_lists_every_run(capsys):
    assert sl.main(["gpu-ra", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "42 runs" in out and out.count("ra_spectrum ") == 36 and out.count("ra_trajectory ") == 6
    assert "estimate" in out


def test_runs_save_results_skip_cached_and_survive_a_failure(real_data, isolated_results, monkeypatch):
    monkeypatch.setitem(sl.SLICES, "tiny", TINY_SLICE)
    lines = []
    assert sl.run_slice("tiny", out=lines.append) == 0
    assert sum(line.startswith("[") for line in lines) == 4 and "train acc" in lines[1]
    assert len(list((isolated_results / "ra_spectrum").glob("*.json"))) == 2
    assert len(list((isolated_results / "_checkpoints").glob("*.pt"))) == 2  # one network per task
    lines.clear()
    assert sl.run_slice("tiny", out=lines.append) == 0
    assert "4 cached, 0 to run" in lines[0]
    # a failing run leaves a failure record; the others run
    for p in (isolated_results / "ra_trajectory").glob("*.json"):
        p.unlink()
    real = sweep.execute

    def flaky(name, cfg):
        if cfg["seed"] == 0:
            raise RuntimeError("boom")
        return real(name, cfg)

    monkeypatch.setattr(sweep, "execute", flaky)
    lines.clear()
    assert sl.run_slice("tiny", out=lines.append) == 1
    assert any("FAILED" in line and "boom" in line for line in lines)
    assert len(list((isolated_results / "ra_trajectory").glob("*.json"))) == 1
    assert len(list((isolated_results / "_failures" / "ra_trajectory").glob("*.json"))) == 1


def test_limit_seconds_stops_submitting(real_data, isolated_results, monkeypatch):
    monkeypatch.setitem(sl.SLICES, "tiny", TINY_SLICE)
    lines = []
    assert sl.run_slice("tiny", limit_seconds=0, out=lines.append) == 3
    assert "4 not run" in lines[-1] and not (isolated_results / "ra_spectrum").exists()


def test_two_workers_from_the_command_line(real_data, tmp_path):
    env = {**os.environ, "ENTRES_RESULTS": str(tmp_path / "res"), "ENTRES_DATA": str(real_data),
           "ENTRES_MKL_AVX512": "0", "PYTHONPATH": str(Path(sl.__file__).parent.parent)}
    proc = subprocess.run([sys.executable, "-m", "entres.slice", "smoke-ra", "--workers", "2"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "8 runs done, 0 failed" in proc.stdout
    assert len(list((tmp_path / "res" / "ra_spectrum").glob("*.json"))) == 4


def test_unknown_slice_names_the_choices():
    with pytest.raises(ValueError, match="valid: gpu-ra"):
        sl.runs("nope")
