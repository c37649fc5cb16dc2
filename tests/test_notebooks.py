"""Every book notebook executes with the smoke profile, fresh (no cache), into a temporary folder."""
import json
import time

import pytest

from entres import cli, profiles

NOTEBOOKS = list(profiles.notebooks())


def outputs(path, marker="# NBVAL_CHECK_OUTPUT"):
    nb = json.loads(path.read_text())
    texts, errors = [], []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                errors.append(out["ename"])
            if marker in "".join(cell["source"]) and out["output_type"] == "stream":
                texts.append("".join(out["text"]))
    return texts, errors


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    """One fresh cache for the whole smoke session: notebooks that share smoke configs share the runs."""
    return tmp_path_factory.mktemp("smoke-results")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_smoke_profile_runs(name, tmp_path, real_data, monkeypatch, smoke_results):
    monkeypatch.setenv("ENTRES_RESULTS", str(smoke_results))
    start = time.perf_counter()
    out = cli.run_notebook(name, "smoke", output=str(tmp_path / "a"), progress=False)
    seconds = time.perf_counter() - start
    texts, errors = outputs(out)
    assert not errors and texts, f"errors: {errors}"
    print(f"{name}: smoke run took {seconds:.1f} s (budget 90 s)")


def test_smoke_rerun_gives_identical_numbers(tmp_path, real_data, monkeypatch):
    """Two fresh computations (separate caches) print the same numbers."""
    name = "ra1_line"
    runs = []
    for i in range(2):
        monkeypatch.setenv("ENTRES_RESULTS", str(tmp_path / f"results{i}"))
        runs.append(outputs(cli.run_notebook(name, "smoke", output=str(tmp_path / f"out{i}"), progress=False))[0])
    assert runs[0] == runs[1] and runs[0]


def test_committed_notebooks_are_executed_with_the_book_profile():
    for name, path in profiles.notebooks().items():
        nb = json.loads(path.read_text())
        injected = [c for c in nb["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
        assert injected and 'profile = "book"' in "".join(injected[0]["source"]), f"{name} is not book-executed"
        assert not outputs(path)[1], f"{name} has error outputs"


def _without_images(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            out.get("data", {}).pop("image/png", None)
    return nb


def test_reexecuting_a_book_notebook_from_the_cache_reproduces_it(tmp_path, monkeypatch):
    """The committed RA-1 page, re-executed cache-only from the committed results, comes out the same
    (images aside: font rendering may vary between machines)."""
    from entres import results

    monkeypatch.setenv("ENTRES_RESULTS", str(results.project_root() / "data" / "results"))
    monkeypatch.setenv("ENTRES_CACHE_ONLY", "1")
    out = cli.run_notebook("ra1_line", "book", output=str(tmp_path), progress=False)
    assert _without_images(out) == _without_images(profiles.notebooks()["ra1_line"])
