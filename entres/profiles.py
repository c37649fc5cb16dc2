"""Profiles: per-notebook parameters for smoke (CI), book (2-core CPU) and paper (GPU) runs.

``profiles/<name>.yml`` maps a notebook name (its file stem in ``book/``) to the
papermill parameters that differ from the notebook's own (smoke) defaults.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from .results import project_root

PROFILES = ("smoke", "book", "paper")


class ProfileError(ValueError):
    """Unknown profile or notebook, or a parameter the notebook lacks."""


def profiles_dir() -> Path:
    return project_root() / "profiles"


def book_dir() -> Path:
    return project_root() / "book"


# Pages that summarise the claim notebooks' filed verdicts: executed after all the others.
SUMMARY_NOTEBOOKS = ("dashboard",)


def notebooks() -> dict[str, Path]:
    """Notebooks of the book by name (file stem): claim notebooks in file order, then summaries."""
    paths = [p for p in book_dir().glob("*.ipynb") if not p.name.startswith(".")]  # not papermill's temp files
    paths.sort(key=lambda p: (p.stem in SUMMARY_NOTEBOOKS, p.name))
    return {p.stem: p for p in paths}


def resolve_notebook(name: str) -> Path:
    path = Path(name)
    if path.suffix == ".ipynb" and path.exists():
        return path
    known = notebooks()
    stem = path.stem if path.suffix == ".ipynb" else name
    if stem not in known:
        raise ProfileError(f"unknown notebook {name!r}; valid: {', '.join(known) or '(none found in book/)'}")
    return known[stem]


def load(profile: str) -> dict[str, dict]:
    if profile not in PROFILES:
        raise ProfileError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    path = profiles_dir() / f"{profile}.yml"
    if not path.exists():
        raise ProfileError(f"profile file {path} is missing")
    with open(path) as f:
        content = yaml.safe_load(f) or {}
    if not isinstance(content, dict):
        raise ProfileError(f"{path} must map notebook names to parameter dicts")
    return content


def parameters_for(notebook: str, profile: str) -> dict:
    """The papermill parameters of ``notebook`` under ``profile`` (including ``profile`` itself)."""
    entry = load(profile).get(Path(notebook).stem, {}) or {}
    return {"profile": profile, **entry}
