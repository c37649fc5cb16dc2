import json
import os

import pytest

from entres import experiments, results, sweep

CALLS = []


@experiments.experiment("toy_square", version=1, defaults={"x": 1, "scale": 1.0})
def toy_square(cfg):
    CALLS.append(cfg["x"])
    if cfg["x"] < 0:
        raise ArithmeticError("negative x")
    return {"metrics": {"y": cfg["x"] ** 2 * cfg["scale"]}}


@pytest.fixture(autouse=True)
def reset_calls():
    CALLS.clear()


def test_key_depends_on_config_and_version():
    k = results.config_key("e", 1, {"a": 1, "b": 2})
    assert k == results.config_key("e", 1, {"b": 2, "a": 1})  # order-free
    assert k != results.config_key("e", 2, {"a": 1, "b": 2})
    assert k != results.config_key("e", 1, {"a": 1, "b": 3})


def test_sweep_computes_missing_only_and_resumes(isolated_results):
    recs = sweep.run_sweep("toy_square", [{"x": 2}, {"x": 3}])
    assert [r["metrics"]["y"] for r in recs] == [4.0, 9.0] and CALLS == [2, 3]
    recs = sweep.run_sweep("toy_square", [{"x": 3}, {"x": 4}])
    assert CALLS == [2, 3, 4]  # x=3 came from the cache
    files = list((isolated_results / "toy_square").iterdir())
    assert len(files) == 3 and not [f for f in files if f.suffix != ".json"]
    prov = recs[1]["provenance"]
    assert {"git_commit", "torch_version", "device", "threads", "wall_seconds", "date"} <= set(prov)


def test_cache_only_refuses_to_compute(monkeypatch):
    monkeypatch.setenv("ENTRES_CACHE_ONLY", "1")
    with pytest.raises(results.MissingResultError, match="ENTRES_CACHE_ONLY is set"):
        sweep.run_sweep("toy_square", [{"x": 5}])
    assert CALLS == []


def test_failed_runs_are_reported_and_not_saved(isolated_results):
    with pytest.raises(sweep.SweepError, match="(?s)1 of 2 runs failed.*negative x"):
        sweep.run_sweep("toy_square", [{"x": -1}, {"x": 6}])
    assert len(list((isolated_results / "toy_square").glob("*.json"))) == 1
    failed = json.loads(next((isolated_results / "_failures" / "toy_square").glob("*.json")).read_text())
    assert failed["config"]["x"] == -1 and "negative x" in failed["error"]


def test_bad_options_name_valid_ones():
    with pytest.raises(ValueError, match=r"no option\(s\) \['y'\]; valid: \['scale', 'x'\]"):
        sweep.run_sweep("toy_square", [{"y": 1}])
    with pytest.raises(TypeError, match="'x' of 'toy_square' must be int"):
        sweep.run_sweep("toy_square", [{"x": "two"}])
    with pytest.raises(ValueError, match="unknown experiment 'nope'; valid:"):
        experiments.get("nope")


def test_corrupt_or_foreign_result_files_are_errors(isolated_results):
    rec = sweep.run_sweep("toy_square", [{"x": 7}])[0]
    path = results.result_path("toy_square", rec["key"])
    path.write_text("{ not json")
    with pytest.raises(results.CorruptResultError, match="not valid JSON"):
        sweep.run_sweep("toy_square", [{"x": 7}])
    other = dict(rec, config={"x": 8, "scale": 1.0})
    path.write_text(json.dumps(other))
    with pytest.raises(results.CorruptResultError, match="another run"):
        sweep.run_sweep("toy_square", [{"x": 7}])


def test_atomic_write_leaves_no_temp_on_failure(tmp_path):
    target = tmp_path / "r.json"

    with pytest.raises(TypeError):
        results.atomic_write_bytes(target, 12345)  # not bytes: the write fails midway
    assert os.listdir(tmp_path) == []
    results.atomic_write_bytes(target, b"ok")
    assert target.read_bytes() == b"ok" and os.listdir(tmp_path) == ["r.json"]


def test_fail_fast_errors_stop_the_sweep_at_once():
    @experiments.experiment("toy_broken_data", version=1, defaults={"x": 1})
    def broken(cfg):
        CALLS.append(cfg["x"])
        from entres.data import DataError

        raise DataError("no data here")

    from entres.data import DataError

    with pytest.raises(DataError, match="no data here"):
        sweep.run_sweep("toy_broken_data", [{"x": 1}, {"x": 2}, {"x": 3}])
    assert CALLS == [1]


def test_any_executor_plugs_in(isolated_results):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:  # any concurrent.futures executor plugs in
        recs = sweep.run_sweep("toy_square", [{"x": i} for i in range(4)], executor=pool)
    assert [r["metrics"]["y"] for r in recs] == [0.0, 1.0, 4.0, 9.0]


def test_provenance_names_the_commit_the_run_started_from(isolated_results, monkeypatch):
    """A long run spans commits: its record names the code it started with, not HEAD when it finished."""
    head = {"commit": "commit-at-start"}
    monkeypatch.setattr(results, "git_commit", lambda: head["commit"])

    @experiments.experiment("commit_toy", version=1, defaults={"x": 0})
    def commit_toy(cfg):
        head["commit"] = "commit-at-end"  # someone commits while the run computes
        return {"metrics": {"y": cfg["x"]}}

    record = sweep.run_sweep("commit_toy", [{"x": 1}], progress=False)[0]
    assert record["provenance"]["git_commit"] == "commit-at-start"


def test_torch_files_round_trip_and_a_damaged_one_counts_as_absent(tmp_path):
    import torch

    path = tmp_path / "ck" / "state.pt"
    assert results.load_torch(path) is None
    results.save_torch(path, {"w": torch.arange(3.0), "epoch": 2})
    state = results.load_torch(path)
    assert torch.equal(state["w"], torch.arange(3.0)) and state["epoch"] == 2
    path.write_bytes(b"half a file")
    assert results.load_torch(path, discard_damaged=False) is None and path.exists()
    assert results.load_torch(path) is None and not path.exists()
