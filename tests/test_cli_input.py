"""Issue 18: bad input fails in one line naming the valid choices and changes nothing on disk; a run goes
to its own folder and never replaces the book's verdicts; edited results and verdicts are caught.

Every case runs the real command in a subprocess (what a user types) from the repository root, and
compares `git status` of book/ and data/results/ before and after.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from entres import cli, profiles, settings, verify


def entres(*args, env=None, cwd=ROOT):
    full = {**os.environ, "ENTRES_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "entres", *args], capture_output=True, text=True, timeout=300,
                          env=full, cwd=cwd)


def book_state() -> dict:
    """What a run of ra1_line must never change: its notebook in book/, the book's verdicts, the runs/ folder."""
    watched = [ROOT / "book" / "ra1_line.ipynb"] + list((ROOT / "data" / "results" / "claims").glob("*"))
    state = {str(p): p.read_bytes() for p in watched}
    state["runs/"] = sorted(p.name for p in (ROOT / "runs").iterdir()) if (ROOT / "runs").is_dir() else []
    return state


def run_in_process(args, capsys):
    """``entres ARGS`` in this process (fast: no interpreter start); returns (exit code, stdout, stderr)."""
    code = cli.main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


BAD_RUNS = [
    (["-p", "depth", "!!python/object:os.system"], "is not a plain YAML value"),
    (["-p", "depth", "[1,"], "is not a plain YAML value"),
    (["-p", "seeds", "[0, 0]"], "seeds lists 0 twice"),
    (["-p", "skips", "[identity, identity]"], "skips lists 'identity' twice"),
    (["-p", "datasets", "[mnist, mnist]"], "datasets lists 'mnist' twice"),
    (["-p", "profile", "book"], "-p profile is not a parameter; choose the profile with --profile (one of smoke"),
    (["-p", "depth", "4", "-p", "depth", "5"], "-p depth is given twice"),
    (["-p", "epochs", "0"], "epochs must be > 0, got 0"),
    (["-p", "epochs", "-2"], "epochs must be > 0, got -2"),
    (["-p", "depth", "0"], "depth must be > 0, got 0"),
    (["-p", "width", "-8"], "width must be > 0, got -8"),
    (["-p", "n_samples", "0"], "n_samples must be > 0, got 0"),
    (["-p", "n_train", "-1"], "n_train must be >= 0, got -1"),
    (["-p", "batch_size", "0"], "batch_size must be > 0"),
    (["-p", "lr", ".nan"], "lr must be a finite number, got nan"),
    (["-p", "lr", ".inf"], "lr must be a finite number, got inf"),
    (["-p", "lr", "0"], "lr must be > 0"),
    (["-p", "weight_decay", "-0.1"], "weight_decay must be >= 0"),
    (["-p", "null_draws", "0"], "null_draws must be > 0, got 0"),
    (["-p", "seeds", "[-1]"], "seeds must be >= 0, got -1"),
    (["-p", "seeds", "[0, a]"], "'seeds' of ra1_line.ipynb must be list like its default"),
    (["-p", "depth", "2.5"], "'depth' of ra1_line.ipynb must be int"),
    (["-p", "depth", "true"], "'depth' of ra1_line.ipynb must be int"),
    (["--timeout", "1"], "--timeout is seconds per cell, a whole number >= 60"),
    (["--timeout", "abc"], "--timeout is seconds per cell"),
    (["--output", "README.md"], "--output README.md is an existing file; give a folder"),
    (["--output", "x.ipynb"], "--output names the run's folder, not a notebook"),
    (["--update-book"], "--update-book needs --profile book or paper"),
    (["--profile", "book", "--update-book", "-p", "depth", "4"], "--update-book files the book's verdicts"),
    (["--profile", "book", "--update-book", "--output", "x"], "--update-book writes into book/"),
]


@pytest.mark.parametrize("extra, message", BAD_RUNS, ids=[" ".join(e) for e, _ in BAD_RUNS])
def test_bad_run_fails_in_one_line_and_changes_nothing(extra, message, isolated_results, capsys):
    before = book_state()
    code, out, err = run_in_process(["run", "ra1_line", *extra], capsys)
    assert code == cli.EXIT_USAGE, err
    assert err.count("\n") == 1 and err.startswith("entres: error: "), err
    assert message in err
    assert "Traceback" not in err and out == ""
    assert book_state() == before
    assert not (ROOT / "x").exists() and not isolated_results.exists()


def test_a_bad_run_from_the_shell_is_one_line_too():
    before = book_state()
    res = entres("run", "ra1_line", "-p", "depth", "!!python/object:os.system")
    assert res.returncode == cli.EXIT_USAGE and res.stderr.count("\n") == 1
    assert "is not a plain YAML value" in res.stderr and book_state() == before


BAD_ENV = [
    ("ENTRES_THREADS", "0", "ENTRES_THREADS must be a positive integer"),
    ("ENTRES_THREADS", "abc", "ENTRES_THREADS must be a positive integer"),
    ("ENTRES_CACHE_ONLY", "no", "ENTRES_CACHE_ONLY must be 0 or 1, got 'no'"),
    ("ENTRES_CACHE_ONLY", "true", "ENTRES_CACHE_ONLY must be 0 or 1"),
    ("ENTRES_DOWNLOAD", "yes", "ENTRES_DOWNLOAD must be 0 or 1, got 'yes'"),
    ("ENTRES_WORKERS", "-3", "ENTRES_WORKERS must be 'auto' (one run per CPU core) or a positive integer"),
    ("ENTRES_WORKERS", "0", "ENTRES_WORKERS must be 'auto'"),
    ("ENTRES_DEVICE", "gpu", "unknown ENTRES_DEVICE 'gpu'; valid: cpu, cuda, cuda:N"),
    ("ENTRES_MKL_AVX512", "maybe", "ENTRES_MKL_AVX512 must be 1 (MKL's AVX-512 kernels) or 0"),
    ("ENTRES_DATA", "README.md", "ENTRES_DATA must name a folder, but README.md is a file"),
    ("ENTRES_DATA", "no/such/folder", "ENTRES_DATA must name an existing folder"),
    ("ENTRES_RESULTS", "README.md", "ENTRES_RESULTS must name a folder, but README.md is a file"),
    ("ENTRES_CLAIMS_DIR", "README.md", "ENTRES_CLAIMS_DIR must name a folder"),
    ("ENTRES_RUN_OVERRIDES", "[1]", "ENTRES_RUN_OVERRIDES must be a JSON object"),
]


@pytest.mark.parametrize("var, value, message", BAD_ENV, ids=[f"{v}={x}" for v, x, _ in BAD_ENV])
def test_bad_environment_variable_fails_in_one_line(var, value, message, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv(var, value)
    before = book_state()
    code, out, err = run_in_process(["claims"], capsys)
    assert code == cli.EXIT_USAGE
    assert err.count("\n") == 1 and message in err, err
    assert out == "" and book_state() == before


def test_a_bad_variable_stops_the_command_before_python_work_starts():
    res = entres("list", env={"ENTRES_MKL_AVX512": "maybe"})
    assert res.returncode == cli.EXIT_USAGE and res.stderr.count("\n") == 1 and "ENTRES_MKL_AVX512" in res.stderr


@pytest.mark.parametrize("var", sorted(settings.READERS))
def test_every_variable_unset_has_its_default(var, monkeypatch):
    monkeypatch.delenv(var, raising=False)
    settings.READERS[var]()  # no error


def test_every_variable_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    assert [v for v in settings.VARIABLES if f"| `{v}` |" not in readme] == []


def test_verify_refuses_a_claims_file_and_garbage(tmp_path):
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    claims_file = next((ROOT / "data" / "results" / "claims").glob("*.json"))
    for path, message in ((garbage, "is not a result file (not JSON"), (claims_file, "is a claims file"),
                          (tmp_path, "is a folder")):
        res = entres("verify", str(path))
        assert res.returncode == cli.EXIT_USAGE and message in res.stderr, res.stderr
        assert res.stderr.count("\n") == 1


def test_debug_shows_the_traceback():
    res = entres("--debug", "run", "ra1_line", "-p", "seeds", "[0, 0]")
    assert res.returncode == cli.EXIT_USAGE and "Traceback" in res.stderr and "seeds lists 0 twice" in res.stderr


def test_version():
    from entres import __version__

    res = entres("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"entres {__version__}"


def test_list_name_shows_types_defaults_and_each_profile():
    res = entres("list", "ra1_line")
    assert res.returncode == 0
    lines = {ln.split()[0]: ln.split() for ln in res.stdout.splitlines()[2:] if ln.strip() and ln[0] != "("}
    book = profiles.parameters_for("ra1_line", "book")
    assert lines["depth"][1] == "int" and lines["depth"][3] == str(book["depth"])
    assert lines["lr"][1] == "float"
    assert max(len(ln) for ln in res.stdout.splitlines()) <= 100


# ---------------------------------------------------------------------------------------------
# The claims table and tampered files

def copy_of_results(tmp_path):
    root = tmp_path / "results"
    shutil.copytree(ROOT / "data" / "results", root, ignore=shutil.ignore_patterns("_*"))
    verify.write_manifest(root)  # the copy's own manifest: the committed one may trail work in progress
    return root


def test_claims_fits_100_columns_with_counts_and_legend(tmp_path):
    root = copy_of_results(tmp_path)
    res = entres("claims", env={"ENTRES_RESULTS": str(root)})
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert max(map(len, lines)) <= 100
    counts = next(ln for ln in lines if ln.startswith("counts: "))
    assert "legend:" in lines
    table = json.loads(entres("claims", "--format", "json", env={"ENTRES_RESULTS": str(root)}).stdout)
    for verdict in {r["verdict"] for r in table}:
        assert f"{verdict} {sum(r['verdict'] == verdict for r in table)}" in counts
    markdown = entres("claims", "--format", "markdown", env={"ENTRES_RESULTS": str(root)}).stdout
    assert markdown.startswith("| claim |") and len(markdown.splitlines()) == len(table) + 2  # header, rule


def test_a_truncated_claims_file_is_named(tmp_path):
    root = copy_of_results(tmp_path)
    victim = sorted((root / "claims").glob("*.json"))[0]
    victim.write_text(victim.read_text()[:80])
    res = entres("claims", env={"ENTRES_RESULTS": str(root)})
    assert res.returncode == 1 and str(victim) in res.stderr and "unreadable" in res.stdout
    assert "Traceback" not in res.stderr


def test_a_hand_edited_verdict_is_flagged(tmp_path):
    """A verdict that does not follow from its stored effect is unreadable (protocol v2 recomputes it); any
    other edit of a filed verdict (here its caveat) differs from CHECKSUMS."""
    root = copy_of_results(tmp_path)
    victim = root / "claims" / "RA-1.book.json"
    original = victim.read_text()
    record = json.loads(original)
    row = record["rows"][0]
    row["verdict"] = "contradicted" if row["verdict"] != "contradicted" else "supported"
    victim.write_text(json.dumps(record, indent=1))
    res = entres("claims", env={"ENTRES_RESULTS": str(root)})
    assert res.returncode == 1 and str(victim) in res.stderr
    assert "unreadable" in res.stdout
    record = json.loads(original)
    record["rows"][0]["caveat"] = "nothing to worry about"
    victim.write_text(json.dumps(record, indent=1))
    res = entres("claims", env={"ENTRES_RESULTS": str(root)})
    assert res.returncode == 1 and str(victim) in res.stderr
    assert "EDITED?" in res.stdout


def test_verify_all_catches_a_hand_edited_metric(tmp_path):
    root = copy_of_results(tmp_path)
    assert entres("verify", "--all", env={"ENTRES_RESULTS": str(root)}).returncode == 0
    victim = sorted((root / "ra_jacobian").glob("*.json"))[0]
    record = json.loads(victim.read_text())
    key = next(k for k, v in record["metrics"].items() if isinstance(v, float))
    record["metrics"][key] += 1e-3
    victim.write_text(json.dumps(record, indent=1, sort_keys=True))
    res = entres("verify", "--all", env={"ENTRES_RESULTS": str(root)})
    assert res.returncode == 1
    assert f"DIFFERS    ra_jacobian/{victim.name}" in res.stdout


def test_verify_all_ignores_reformatting_and_reports_missing_files(tmp_path):
    root = copy_of_results(tmp_path)
    reformatted, removed = sorted((root / "ra_trajectory").glob("*.json"))[:2]
    reformatted.write_text(json.dumps(json.loads(reformatted.read_text())))  # other whitespace, same content
    removed.unlink()
    res = entres("verify", "--all", env={"ENTRES_RESULTS": str(root)})
    assert res.returncode == 1 and f"MISSING    ra_trajectory/{removed.name}" in res.stdout
    assert reformatted.name not in res.stdout


# ---------------------------------------------------------------------------------------------
# A run: its own folder, overrides recorded, the book untouched (needs the datasets)

def test_a_run_with_overrides_goes_to_its_folder_and_records_them(real_data, tmp_path):
    root = copy_of_results(tmp_path)
    before = book_state()
    book_claims = {p.name: p.read_bytes() for p in (root / "claims").glob("*.json")}
    out = tmp_path / "run"
    res = entres("run", "ra1_line", "-p", "depth", "2", "-p", "seeds", "[0, 1]", "-p", "epochs", "1", "--output", str(out),
                 env={"ENTRES_RESULTS": str(root), "ENTRES_WORKERS": "1", "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr
    assert f"run folder: {out}" in res.stderr
    assert "without encryption" not in res.stderr + res.stdout
    assert "KeyboardInterrupt" not in res.stderr + res.stdout
    assert "network 1 of " in res.stderr and "epoch 1/1" in res.stderr
    assert (out / "ra1_line.ipynb").exists() and (out / "kernel.log").exists()
    filed = json.loads((out / "claims" / "RA-1.smoke.json").read_text())
    assert filed["overrides"] == {"depth": 2, "seeds": [0, 1], "epochs": 1}
    assert sorted(p.name for p in (out / "claims").iterdir()) == ["RA-1.smoke.json"]  # no copies of the book's
    assert {p.name: p.read_bytes() for p in (root / "claims").glob("*.json")} == book_claims
    assert book_state() == before


def test_make_notebooks_updates_the_book_explicitly():
    makefile = (ROOT / "Makefile").read_text()
    line = next(ln for ln in makefile.splitlines() if "entres run all" in ln)
    assert "--profile book" in line and "--update-book" in line


def test_saved_notebooks_join_stream_chunks_so_reexecution_is_byte_stable():
    from entres.cli import merge_streams

    chunks = [{"output_type": "stream", "name": "stdout", "text": "a"},
              {"output_type": "stream", "name": "stdout", "text": "b\n"},
              {"output_type": "stream", "name": "stderr", "text": "w"},
              {"output_type": "display_data", "data": {}},
              {"output_type": "stream", "name": "stdout", "text": "c"}]
    assert [o.get("text") for o in merge_streams(chunks)] == ["ab\n", "w", None, "c"]


def test_smoke_runs_cache_apart_from_the_books_results(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from entres import cli, results

    monkeypatch.delenv("ENTRES_RESULTS", raising=False)
    plan = SimpleNamespace(folder=tmp_path, overrides={}, cache_only=False, profile="smoke")
    env = cli._kernel_environment(plan, tmp_path / "claims")
    assert env["ENTRES_RESULTS"] == str(results.project_root() / "runs" / "smoke-results")
    book = cli._kernel_environment(SimpleNamespace(**{**vars(plan), "profile": "book"}), tmp_path / "claims")
    assert "ENTRES_RESULTS" not in book  # the book profile reads and extends the committed cache
