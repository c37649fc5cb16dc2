import re
import tomllib

import yaml

from conftest import ROOT


def _pins(lines):
    out = {}
    for line in lines:
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line.strip())
        assert m, f"not an exact pin: {line!r}"
        out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def pyproject_pins():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(meta["dependencies"])
    for group in meta["optional-dependencies"].values():
        lines += group
    return _pins(lines)


def test_every_dependency_is_pinned_exactly():
    pins = pyproject_pins()
    assert pins["torch"] == "2.13.0"
    assert pins["torchvision"] == "0.28.0"
    assert pins["jupyter-book"] == "1.0.4.post1"


def test_environment_yml_mirrors_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins([p for p in pip if p != "-e ."]) == pyproject_pins()
    assert "python=3.11" in env["dependencies"]


def test_constraints_agree_with_pyproject():
    lock = _pins([ln for ln in (ROOT / "constraints.txt").read_text().splitlines() if ln.strip()])
    for name, version in pyproject_pins().items():
        assert lock.get(name) == version, f"{name}: pyproject {version}, constraints {lock.get(name)}"
