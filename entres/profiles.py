"""Profiles: per-notebook parameters for smoke (CI), book (2-core CPU) and paper (GPU) runs.

``profiles/<name>.yml`` maps a notebook name (its file stem in ``book/``) to the
papermill parameters that differ from the notebook's own (smoke) defaults.
"""
from __future__ import annotations

import ast
import json
import math
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
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ProfileError(f"{path} is not valid YAML ({one_line(err)})") from None
    if not isinstance(content, dict):
        raise ProfileError(f"{path} must map notebook names to parameter dicts")
    return content


def parameters_for(notebook: str, profile: str) -> dict:
    """The papermill parameters of ``notebook`` under ``profile`` (including ``profile`` itself)."""
    entry = load(profile).get(Path(notebook).stem, {}) or {}
    return {"profile": profile, **entry}


def one_line(err: Exception) -> str:
    """An exception's message squeezed onto one line (YAML's errors span several)."""
    return " ".join(str(err).split())


# ---------------------------------------------------------------------------------------------
# Notebook parameters: type, range, finiteness and duplicates, checked before any kernel starts

# Counts that must be at least 1 (everything else that is a number must be finite and >= 0).
POSITIVE = {"depth", "depths", "width", "epochs", "batch_size", "n_samples", "n_traj_samples", "n_probe_train",
            "n_probe_test", "eval_every", "nc_every", "dim", "density_epochs", "min_depths",
            "budgets", "lr", "band_low", "band_high", "sparse_scale", "sparse_density", "densities",
            "null_draws", "spectrum_depths", "spectrum_n_samples", "delta", "delta_decades", "bf16_tolerance",
            "grad_clip"}
# Fractions in [0, 1] (accuracies, thresholds on overlaps and energies, densities).
FRACTIONS = {"align_threshold", "lin_threshold", "overlap_threshold", "energy_threshold", "min_train_acc",
             "min_identity_acc", "ncc_agreement_min", "sparse_density", "densities", "max_drop_cost", "momentum"}
SIGNED = {"correlation_r"}  # may be negative: a correlation in [-1, 1]
DATASET_LISTS = {"dataset", "datasets", "class_sweep", "identity_only_datasets"}
SKIP_LISTS = {"skip", "skips"}
MAY_BE_EMPTY = {"identity_only_datasets", "fp32_check_seeds", "class_sweep"}  # empty: "none of these"


def parse_value(key: str, raw: str):
    """A ``-p KEY VALUE`` value read as plain YAML (no tags that build Python objects)."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or one_line(err)  # YAML's own text spans several lines
        raise ProfileError(f"-p {key} {raw!r} is not a plain YAML value ({problem}); "
                           f"examples: 3, 0.1, [0, 1], identity") from None


def _type_name(value) -> str:
    return "bool" if isinstance(value, bool) else type(value).__name__


def _same_type(value, default) -> bool:
    """Whether ``value`` may stand where the notebook's default has ``default`` (an int counts as a float)."""
    if default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, list):
        if not isinstance(value, list):
            return False
        kinds = {_type_name(d) for d in default}
        return len(kinds) != 1 or all(_same_type(v, default[0]) for v in value)
    return type(value) is type(default)


def _numbers(value):
    """Every number inside ``value`` (lists and dicts walked)."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)


def _check_range(key: str, value) -> None:
    for x in _numbers(value):
        if isinstance(x, float) and not math.isfinite(x):
            raise ProfileError(f"{key} must be a finite number, got {x}")
        if key in SIGNED:
            if not -1 <= x <= 1:
                raise ProfileError(f"{key} must lie in [-1, 1], got {x}")
        elif key in POSITIVE and x <= 0:
            raise ProfileError(f"{key} must be > 0, got {x}")
        elif x < 0:
            raise ProfileError(f"{key} must be >= 0, got {x}")
        if key in FRACTIONS and x > 1:
            raise ProfileError(f"{key} must lie in [0, 1], got {x}")


def _check_list(key: str, value: list) -> None:
    if not value and key not in MAY_BE_EMPTY:
        raise ProfileError(f"{key} must be a non-empty list")
    seen = set()
    for v in value:
        item = json.dumps(v, sort_keys=True)
        if item in seen:
            raise ProfileError(f"{key} lists {v!r} twice; each value may appear once (got {value})")
        seen.add(item)


def _check_names(key: str, value) -> None:
    from . import data, mappings

    names = value if isinstance(value, list) else [value]
    for name in names:
        if key in SKIP_LISTS:
            mappings.check_name(name)
        elif key in DATASET_LISTS:
            data.parse_name(name)
        elif key == "tasks":
            from .sequences import TASKS

            if name not in TASKS:
                raise ProfileError(f"unknown sequence task {name!r}; valid: {', '.join(TASKS)}")


def check_parameters(notebook: str, params: dict, defaults: dict) -> None:
    """Refuse parameters the notebook lacks, values of the wrong type, out-of-range or non-finite numbers
    and duplicates in any list. ``defaults`` maps each parameter to its default's source text."""
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ProfileError(f"{notebook}.ipynb has no parameter(s) {unknown}; valid: {', '.join(defaults)}")
    for key, value in params.items():
        default = ast.literal_eval(defaults[key])
        if not _same_type(value, default):
            raise ProfileError(f"parameter {key!r} of {notebook}.ipynb must be {_type_name(default)} like its "
                               f"default {defaults[key]}, got {value!r}")
        if key == "profile":
            continue
        if isinstance(value, list):
            _check_list(key, value)
        try:
            _check_range(key, value)
            _check_names(key, value)
        except ProfileError:
            raise
        except ValueError as err:
            raise ProfileError(str(err)) from None
    for low, high in (("band_low", "band_high"),):
        if low in params and high in params and not params[low] < params[high]:
            raise ProfileError(f"{low} must be below {high}, got {params[low]} and {params[high]}")
