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


TRAIN_SCRIPT = textwrap.dedent("""
    import sys, time, torch
    from entres.data import Dataset
    from entres.train import TrainConfig, train

    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 4, (512,), generator=g)
    x = torch.randn(512, 1, 6, 6, generator=g) + y.view(-1, 1, 1, 1).float()
    ds = Dataset("toy", x[:384], y[:384], x[384:], y[384:], num_classes=4)
    cfg = TrainConfig(dataset="mnist", depth=3, width=16, epochs=12, batch_size=32, momentum=0.9)
    resume = sys.argv[1] if sys.argv[1] != "-" else None
    slow = lambda epoch, model: time.sleep(0.15)  # time to kill it mid-run; does not change the training
    model, history, metrics = train(cfg, ds, progress=False, resume_path=resume, save_every_s=0, on_epoch=slow)
    torch.save({"model": model.state_dict(), "history": history}, sys.argv[2])
""")


def test_training_killed_mid_run_resumes_where_it_stopped(tmp_path):
    """kill -9 during training: the rerun continues from the last saved epoch and ends bit-identical to a run that
    was never interrupted."""
    state = tmp_path / "run.partial.pt"
    proc = subprocess.Popen([sys.executable, "-c", TRAIN_SCRIPT, str(state), str(tmp_path / "a.pt")])
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    import torch

    stopped_at = torch.load(state, weights_only=True)["epoch"]
    assert 1 <= stopped_at < 12
    for resume, out in ((str(state), "a.pt"), ("-", "b.pt")):
        assert subprocess.run([sys.executable, "-c", TRAIN_SCRIPT, resume, str(tmp_path / out)]).returncode == 0
    a, b = (torch.load(tmp_path / f, weights_only=True) for f in ("a.pt", "b.pt"))
    assert a["history"] == b["history"]
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in b["model"])
