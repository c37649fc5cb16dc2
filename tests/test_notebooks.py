"""Every book notebook executes with the smoke profile, fresh (no cache), into a temporary folder."""
import json
import time

import pytest

from entres import cli, profiles

NOTEBOOKS = list(profiles.notebooks())


def checked(cell) -> bool:
    """Whether nbval compares this cell's output: the ``nbval-check-output`` tag or the marker comment."""
    return ("nbval-check-output" in cell.get("metadata", {}).get("tags", [])
            or "# NBVAL_CHECK_OUTPUT" in "".join(cell["source"]))


def outputs(path):
    """The texts of the checked cells (printed text and the HTML of tables shown with ``page.show``), and
    the names of any errors."""
    nb = json.loads(path.read_text())
    texts, errors = [], []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for out in cell.get("outputs", []):
            if out["output_type"] == "error":
                errors.append(out["ename"])
            if checked(cell) and out["output_type"] == "stream":
                texts.append("".join(out["text"]))
            if checked(cell) and "text/html" in out.get("data", {}):
                texts.append("".join(out["data"]["text/html"]))
    return texts, errors


def run_notebook(name: str, profile: str, folder, *extra: str):
    """``entres run NAME --profile PROFILE --output FOLDER``; the executed notebook's path."""
    rc = cli.main(["run", name, "--profile", profile, "--output", str(folder), *extra])
    assert rc == 0, f"entres run {name} --profile {profile} exited {rc}"
    return folder / f"{name}.ipynb"


@pytest.fixture(scope="module")
def smoke_results(tmp_path_factory):
    """One fresh cache for the whole smoke session: notebooks that share smoke configs share the runs."""
    return tmp_path_factory.mktemp("smoke-results")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_smoke_profile_runs(name, tmp_path, real_data, monkeypatch, smoke_results):
    monkeypatch.setenv("ENTRES_RESULTS", str(smoke_results))
    start = time.perf_counter()
    out = run_notebook(name, "smoke", tmp_path / "a")
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
        runs.append(outputs(run_notebook(name, "smoke", tmp_path / f"out{i}"))[0])
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


@pytest.mark.parametrize("name", ["ra1_line", "ra3_rank", "x1_entangled_ra"])
def test_reexecuting_a_book_notebook_from_the_cache_reproduces_it(name, tmp_path, monkeypatch):
    """A committed page, re-executed cache-only from the committed results with no datasets and the guard on
    (any dataset load or training would fail the run), comes out the same (images aside: font rendering may
    vary between machines). RA-3 and X-1 once loaded data and trained on every build."""
    from entres import results

    empty = tmp_path / "no-datasets"
    empty.mkdir()
    monkeypatch.setenv("ENTRES_RESULTS", str(results.project_root() / "data" / "results"))
    monkeypatch.setenv("ENTRES_DATA", str(empty))
    monkeypatch.setenv("ENTRES_CACHE_ONLY", "1")
    monkeypatch.setenv("ENTRES_NO_COMPUTE", "1")
    got = _without_images(run_notebook(name, "book", tmp_path / "run"))
    committed = _without_images(profiles.notebooks()[name])
    differ = [i for i, (a, b) in enumerate(zip(got["cells"], committed["cells"])) if a != b]
    assert got == committed, f"{name}: cells {differ} differ from the committed notebook"
