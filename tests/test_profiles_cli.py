import subprocess
import sys

import pytest

from entres import cli, profiles


@pytest.mark.parametrize("profile", profiles.PROFILES)
def test_every_profile_key_is_a_notebook_parameter(profile):
    nbs = profiles.notebooks()
    entries = profiles.load(profile)
    assert set(entries) <= set(nbs), f"{profile}.yml names notebooks that do not exist"
    for name, path in nbs.items():
        assert name in entries, f"{name} has no entry in {profile}.yml"
        valid = cli.notebook_parameters(path)
        assert "profile" in valid
        assert set(profiles.parameters_for(name, profile)) <= set(valid)


def test_parameters_cells_hold_literals_only():
    import ast

    for path in profiles.notebooks().values():
        for name, default in cli.notebook_parameters(path).items():
            ast.literal_eval(default)  # raises on anything but a literal


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "entres", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, message", [
    (["run", "ra1_line", "-p", "skips", "[identty]"], "unknown skip mapping 'identty'; valid: identity, none"),
    (["run", "ra1_line", "-p", "skip", "identity"], "has no parameter(s) ['skip']; valid: profile, datasets"),
    (["run", "ra1_line", "-p", "datasets", "[svhn]"], "unknown dataset 'svhn'; valid: mnist"),
    (["run", "ra1_line", "-p", "seeds", "[]"], "seeds must be a non-empty list"),
    (["run", "ra1_line", "-p", "skips", "identity"], "'skips' of ra1_line.ipynb must be list"),
    (["run", "ra1_line", "-p", "depth", "deep"], "'depth' of ra1_line.ipynb must be int"),
    (["run", "ra1_line", "--profile", "huge"], "unknown profile 'huge'; valid: smoke, book, paper"),
    (["run", "ra9_nothing"], f"unknown notebook 'ra9_nothing'; valid: {', '.join(profiles.notebooks())}"),
])
def test_bad_input_fails_at_once_naming_valid_choices(args, message):
    res = run_cli(*args)
    assert res.returncode == 2
    assert message in res.stderr, res.stderr


def test_list_shows_notebooks_and_parameters():
    res = run_cli("list")
    assert res.returncode == 0 and "ra1_line: profile, datasets, skips" in res.stdout


def test_cache_only_run_with_a_missing_result_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("ENTRES_RESULTS", str(tmp_path / "empty"))
    res = run_cli("run", "ra1_line", "--cache-only", "--output", str(tmp_path / "out"))
    assert res.returncode == 2
    assert "ENTRES_CACHE_ONLY is set, so nothing is computed" in res.stderr
    assert not (tmp_path / "out" / "ra1_line.ipynb").exists()  # no half-executed notebook left behind
