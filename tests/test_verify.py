"""`entres verify`: committed results are recomputed from nothing and compared metric by metric."""
import json

from entres import cli, verify
from entres.sweep import run_sweep

TINY = dict(dataset="fashionmnist", depth=2, width=8, epochs=1, batch_size=256, n_train=500, n_samples=20)


def test_a_fresh_result_reproduces_and_a_tampered_one_is_reported(real_data, isolated_results, capsys):
    rec = run_sweep("ra_trajectory", [TINY])[0]
    path = isolated_results / "ra_trajectory" / f"{rec['key']}.json"
    assert cli.main(["verify", "--chapter", "RA"]) == 0
    assert "1 of 1 results reproduce" in capsys.readouterr().out

    tampered = json.loads(path.read_text())
    tampered["metrics"]["lin_mean"] += 0.01
    path.write_text(json.dumps(tampered))
    assert cli.main(["verify", str(path)]) == 1
    out = capsys.readouterr().out
    assert "DIFFERS" in out and "lin_mean" in out


def test_the_cheapest_runs_of_each_chapter_are_chosen(real_data, isolated_results):
    # a long run and a short one (costs are rounded to ms, so two equal tiny runs could tie)
    long, short = run_sweep("ra_trajectory", [dict(TINY, epochs=8, n_train=2000), dict(TINY, seed=1)])
    assert verify.cost(short) < verify.cost(long)
    chosen = verify.choose(["RA"], per_chapter=1)
    assert [r["key"] for _, r in chosen] == [short["key"]]
    assert [r["key"] for _, r in verify.choose(["RA"], per_chapter=2)] == [short["key"], long["key"]]
    assert verify.choose(["ERM"]) == []


def test_verify_refuses_bad_requests(isolated_results, capsys):
    assert cli.main(["verify", "--chapter", "XYZ"]) == 2
    assert "valid: RA, ERM" in capsys.readouterr().err
    assert cli.main(["verify", "no/such/file.json"]) == 2
    assert cli.main(["verify", "--chapter", "ERM"]) == 2  # nothing committed in an empty cache


def test_gpu_runs_are_never_chosen(real_data, isolated_results):
    rec = run_sweep("ra_trajectory", [TINY])[0]
    path = isolated_results / "ra_trajectory" / f"{rec['key']}.json"
    assert [r["key"] for _, r in verify.choose(["RA"])] == [rec["key"]]
    gpu = json.loads(path.read_text())
    gpu["provenance"]["device"] = "cuda: NVIDIA H100 80GB HBM3"
    path.write_text(json.dumps(gpu))
    assert verify.choose(["RA"]) == []
