"""A sweep killed with SIGKILL resumes without losing or repeating finished runs; concurrent sweeps are safe."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from entres import experiments, sweep

    log = Path(sys.argv[1])

    @experiments.experiment("slow_toy", version=1, defaults={"x": 0})
    def slow_toy(cfg):
        with open(log, "a") as f:
            f.write(f"start {cfg['x']}\\n")
        time.sleep(0.4)
        return {"metrics": {"y": cfg["x"] * 2}}

    sweep.run_sweep("slow_toy", [{"x": i} for i in range(int(sys.argv[2]))], progress=False)
""")


def _start(tmp_path, n, env):
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "log.txt"), str(n)], env=env)


def _finished(results):
    folder = results / "slow_toy"
    return sorted(folder.glob("*.json")) if folder.exists() else []


def test_kill_9_then_resume(tmp_path, isolated_results):
    env = {**os.environ, "ENTRES_RESULTS": str(isolated_results)}
    proc = _start(tmp_path, 12, env)
    deadline = time.time() + 60
    while len(_finished(isolated_results)) < 3 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = {json.loads(p.read_text())["config"]["x"] for p in _finished(isolated_results)}
    assert 3 <= len(done_before) < 12
    assert subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "log.txt"), "12"], env=env).returncode == 0
    records = [json.loads(p.read_text()) for p in _finished(isolated_results)]
    assert sorted(r["config"]["x"] for r in records) == list(range(12))
    assert all(r["metrics"]["y"] == 2 * r["config"]["x"] for r in records)
    starts = [int(line.split()[1]) for line in (tmp_path / "log.txt").read_text().splitlines()]
    assert not set(starts[len(done_before) + 1:]) & done_before  # finished runs were not run again
    assert starts.count(max(done_before) + 1) <= 2  # only the run in flight at the kill ran twice


def test_two_sweeps_sharing_one_cache(tmp_path, isolated_results):
    env = {**os.environ, "ENTRES_RESULTS": str(isolated_results)}
    procs = [_start(tmp_path, 8, env) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    records = [json.loads(p.read_text()) for p in _finished(isolated_results)]
    assert sorted(r["config"]["x"] for r in records) == list(range(8))
    leftovers = [p for p in (isolated_results / "slow_toy").iterdir() if p.suffix != ".json"]
    assert leftovers == []
