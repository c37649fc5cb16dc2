"""Sweep parallelism: ENTRES_WORKERS=auto (the default) trains one network per core, one thread each."""
import os

import pytest

from entres import cli, sweep
from entres.sweep import run_sweep

TINY = dict(dataset="fashionmnist", depth=2, width=8, epochs=1, batch_size=256, n_train=500, n_samples=20)
CORES = len(os.sched_getaffinity(0))


@pytest.mark.parametrize("value, runs, workers", [("", 5, min(CORES, 5)), ("auto", 1, 1), ("auto", 5, min(CORES, 5)),
                                                  ("1", 5, 1), ("3", 2, 3)])
def test_worker_count(value, runs, workers, monkeypatch):
    monkeypatch.setenv("ENTRES_WORKERS", value)
    assert sweep.worker_count(runs) == workers


@pytest.mark.parametrize("value", ["two", "0", "-1", "1.5"])
def test_a_bad_worker_count_names_the_choices(value, monkeypatch, capsys, real_data, isolated_results, tmp_path):
    monkeypatch.setenv("ENTRES_WORKERS", value)
    with pytest.raises(ValueError, match="ENTRES_WORKERS must be 'auto' .* or a positive integer"):
        sweep.worker_count(2)
    assert cli.main(["run", "ra1_line", "--profile", "smoke", "--output", str(tmp_path / "out.ipynb")]) == 2
    assert "ENTRES_WORKERS must be 'auto'" in capsys.readouterr().err
    assert not list(isolated_results.rglob("*.json"))  # nothing computed, nothing half-written


@pytest.mark.skipif(CORES < 2, reason="one core: auto runs inline")
def test_auto_runs_one_network_per_core_and_gives_the_numbers_of_one_thread_runs(real_data, isolated_results,
                                                                                  monkeypatch):
    configs = [TINY, dict(TINY, seed=1)]
    monkeypatch.delenv("ENTRES_WORKERS")
    pooled = run_sweep("ra_trajectory", configs)
    assert [r["provenance"]["threads"] for r in pooled] == [max(1, CORES // 2)] * 2
    assert len({r["provenance"]["hostname"] for r in pooled}) == 1
    for path in isolated_results.rglob("*.json"):
        path.unlink()
    monkeypatch.setenv("ENTRES_WORKERS", "1")
    monkeypatch.setenv("ENTRES_THREADS", str(max(1, CORES // 2)))
    inline = run_sweep("ra_trajectory", configs)
    assert [r["metrics"] for r in pooled] == [r["metrics"] for r in inline]
