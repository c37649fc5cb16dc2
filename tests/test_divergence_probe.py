"""The X-1 divergence probe is a cached experiment: computed once, then read (also under the guard)."""
import json

import pytest

from entres import data, results
from entres.experiments import x1

# Tiny networks on a sequence task (no dataset files): one diverges (lr 1e30), one does not (lr 0.1).
OPTIONS = dict(width=16, epochs=1, batch_size=128, n_train=256, weight_decay=0.0)


def test_probe_round_trips_through_the_cache(monkeypatch):
    cases = [("identity", 2)]
    calm = x1.divergence_probe_runs("seq-motif", cases, [0], lr=0.1, **OPTIONS)
    wild = x1.divergence_probe_runs("seq-motif", cases, [0], lr=1e30, **OPTIONS)
    assert calm[0]["metrics"]["diverged"] is False and 0 <= calm[0]["metrics"]["test_acc"] <= 1
    assert wild[0]["metrics"]["diverged"] is True and "loss became" in wild[0]["divergence"]
    files = sorted((results.results_root() / "x1_divergence_probe").glob("*.json"))
    assert len(files) == 2 and all(json.loads(f.read_text())["experiment"] == "x1_divergence_probe" for f in files)

    monkeypatch.setenv("ENTRES_CACHE_ONLY", "1")  # and so the guard: read back, nothing recomputed
    again = x1.divergence_probe_runs("seq-motif", cases, [0], lr=1e30, **OPTIONS)
    assert again == wild
    assert x1.probe_lines(calm + wild) == [
        "identity, depth 2, seed 0: first epoch trained without diverging",
        "identity, depth 2, seed 0: diverged in the first epoch (non-finite loss)"]
    with pytest.raises(results.MissingResultError):
        x1.divergence_probe_runs("seq-motif", cases, [1], lr=1e30, **OPTIONS)


def test_the_guard_stops_an_uncached_probe(monkeypatch):
    monkeypatch.setenv("ENTRES_NO_COMPUTE", "1")
    with pytest.raises(data.ComputeRefused, match=r"^train.train\(resmlp, identity, seq-motif, depth 2"):
        x1.divergence_probe_runs("seq-motif", [("identity", 2)], [0], lr=0.1, **OPTIONS)


def test_the_committed_book_probes_are_read_without_data(monkeypatch, tmp_path):
    """The X-1 page's probes (book profile) are committed: read cache-only with an empty data root."""
    monkeypatch.setenv("ENTRES_RESULTS", str(results.project_root() / "data" / "results"))
    monkeypatch.setenv("ENTRES_DATA", str(tmp_path))
    monkeypatch.setenv("ENTRES_CACHE_ONLY", "1")
    records = x1.divergence_probe_runs("fashionmnist", [("correlation", 16), ("sparse", 32)], [0, 1, 2], width=128,
                                       epochs=1, batch_size=128, lr=0.1, weight_decay=0.01, n_train=10000)
    assert [r["metrics"]["diverged"] for r in records] == [True] * 6


def test_skip_norms_separate_the_diverging_families():
    norms = x1.skip_norms(["identity", "orthogonal", "sparse", "correlation"], depth=4, width=16).set_index("skip")
    assert norms.loc["identity", "norm_product"] == pytest.approx(1)
    assert norms.loc["orthogonal", "norm_product"] == pytest.approx(1)
    assert norms.loc["correlation", "norm_product"] > norms.loc["sparse", "norm_product"] > 1
