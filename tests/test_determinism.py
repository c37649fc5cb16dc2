"""Same config, same seed, same machine and thread count -> byte-identical result files.

Each run is a fresh Python process with its own empty results folder (training included). Only the
provenance block may differ (it records wall time and date). Limits: bitwise identity holds for one
machine type and thread count; another CPU or ENTRES_THREADS may change the last bits of the floats.
"""
import json
import os
import subprocess
import sys

import pytest

RUN = """
from entres.sweep import run_sweep
run_sweep("ra_trajectory", [dict(dataset="fashionmnist", depth=3, width=16, epochs=2, batch_size=256,
                                 n_train=1000, n_samples=50)])
run_sweep("ra_jacobian", [dict(dataset="fashionmnist", depth=3, width=16, epochs=2, batch_size=256,
                               n_train=1000, n_samples=50)])
run_sweep("erm_train", [dict(dataset="seq-recall", epochs=1, n_train=500, seed=1)])
"""


def _run(results_dir, env):
    subprocess.run([sys.executable, "-c", RUN], check=True, env={**env, "ENTRES_RESULTS": str(results_dir)})
    return {p.relative_to(results_dir): p.read_bytes() for p in sorted(results_dir.rglob("*.json"))}


def _without_provenance(payload: bytes) -> bytes:
    record = json.loads(payload)
    record.pop("provenance")
    return json.dumps(record, sort_keys=True).encode()


@pytest.mark.parametrize("threads", ["1", "2"])
def test_two_fresh_processes_write_identical_results(tmp_path, real_data, threads):
    env = {**os.environ, "ENTRES_DATA": str(real_data), "ENTRES_THREADS": threads, "ENTRES_CACHE_ONLY": "0"}
    first, second = _run(tmp_path / "a", env), _run(tmp_path / "b", env)
    assert sorted(first) == sorted(second) and len(first) == 3
    for name in first:
        assert _without_provenance(first[name]) == _without_provenance(second[name]), name
        assert json.loads(first[name])["provenance"]["threads"] == int(threads)
