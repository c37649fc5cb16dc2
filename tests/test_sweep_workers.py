"""Sweep parallelism: ENTRES_WORKERS=auto (the default) trains one network per core, one thread each,
where spawned workers cannot re-run a main script (the entres command, a notebook kernel, python -c)."""
import json
import os
import subprocess
import sys

import pytest

from entres import cli, sweep
from entres.sweep import run_sweep

TINY = dict(dataset="fashionmnist", depth=2, width=8, epochs=1, batch_size=256, n_train=500, n_samples=20)
CORES = len(os.sched_getaffinity(0))


@pytest.mark.parametrize("value, runs, workers", [("1", 5, 1), ("3", 2, 3), ("auto", 5, 1), ("", 5, 1)])
def test_worker_count_under_pytest(value, runs, workers, monkeypatch):
    monkeypatch.setenv("ENTRES_WORKERS", value)  # pytest's main script is no place to spawn from: auto is inline
    assert not sweep.spawn_safe_main()
    assert sweep.worker_count(runs) == workers


def test_auto_is_one_per_core_where_spawning_is_safe():
    code = ("import json; from entres import sweep; "
            "print(json.dumps([sweep.spawn_safe_main(), sweep.worker_count(1), sweep.worker_count(5)]))")
    env = {k: v for k, v in os.environ.items() if k != "ENTRES_WORKERS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [True, 1, min(CORES, 5)]


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_a_bad_worker_count_names_the_choices(value, monkeypatch, capsys, real_data, isolated_results, tmp_path):
    monkeypatch.setenv("ENTRES_WORKERS", value)
    with pytest.raises(ValueError, match="ENTRES_WORKERS must be 'auto' .* or a positive integer"):
        sweep.worker_count(2)
    assert cli.main(["run", "ra1_line", "--profile", "smoke", "--output", str(tmp_path / "out.ipynb")]) == 2
    assert "ENTRES_WORKERS must be 'auto'" in capsys.readouterr().err
    assert not list(isolated_results.rglob("*.json"))  # nothing computed, nothing half-written


POOLED = """
import json, sys
from entres.sweep import run_sweep
configs = json.loads(sys.argv[1])
print(json.dumps([[r["provenance"]["threads"], r["metrics"]] for r in run_sweep("ra_trajectory", configs)]))
"""


@pytest.mark.skipif(CORES < 2, reason="one core: auto runs inline")
def test_auto_runs_one_network_per_core_and_gives_the_numbers_of_one_thread_runs(real_data, isolated_results,
                                                                                  monkeypatch):
    configs = [TINY, dict(TINY, seed=1)]
    env = {k: v for k, v in os.environ.items() if k != "ENTRES_WORKERS"}
    out = subprocess.run([sys.executable, "-c", POOLED, json.dumps(configs)], env=env, capture_output=True,
                         text=True, check=True).stdout
    pooled = json.loads(out.strip().splitlines()[-1])
    assert [threads for threads, _ in pooled] == [max(1, CORES // 2)] * 2
    for path in isolated_results.rglob("*.json"):
        path.unlink()
    monkeypatch.setenv("ENTRES_THREADS", str(max(1, CORES // 2)))
    inline = run_sweep("ra_trajectory", configs)  # ENTRES_WORKERS=1 (conftest)
    assert [metrics for _, metrics in pooled] == [r["metrics"] for r in inline]
