"""Experiment registry.

An experiment is a pure function ``config -> record parts`` with a name, a
declared version (bump it when the computation changes: old results then stop
matching) and a dict of defaults that doubles as the list of valid options.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

_REGISTRY: dict[str, "Experiment"] = {}


@dataclass(frozen=True)
class Experiment:
    name: str
    version: int
    defaults: dict
    fn: Callable[[dict], dict]
    validate: Callable[[dict], None] | None = None
    # Options added after results existed: accepted, but part of the config (and of its cache key)
    # only when they differ from these defaults, so older results keep their keys.
    later: dict = field(default_factory=dict)

    def full_config(self, overrides: dict | None = None) -> dict:
        """Defaults overlaid with ``overrides``; unknown keys and wrong types are errors."""
        overrides = dict(overrides or {})
        unknown = set(overrides) - set(self.defaults) - set(self.later)
        if unknown:
            raise ValueError(f"experiment {self.name!r} has no option(s) {sorted(unknown)}; "
                             f"valid: {sorted({*self.defaults, *self.later})}")
        cfg = {k: self._checked(k, default, overrides.get(k, default)) for k, default in self.defaults.items()}
        for k, default in self.later.items():
            if k in overrides and (v := self._checked(k, default, overrides[k])) != default:
                cfg[k] = v
        if self.validate:
            self.validate(cfg)
        return cfg

    def _checked(self, key: str, default, v):
        if isinstance(default, bool) or isinstance(v, bool):
            ok = isinstance(v, bool) == isinstance(default, bool)
        elif isinstance(default, float):
            ok = isinstance(v, (int, float))
            v = float(v) if ok else v
        else:
            ok = isinstance(v, type(default))
        if not ok:
            raise TypeError(f"option {key!r} of {self.name!r} must be {type(default).__name__}, "
                            f"got {v!r} ({type(v).__name__})")
        return v


def experiment(name: str, version: int, defaults: dict, validate=None, later: dict | None = None):
    def wrap(fn):
        _REGISTRY[name] = Experiment(name, version, defaults, fn, validate, dict(later or {}))
        return fn
    return wrap


def get(name: str) -> Experiment:
    _load_all()
    if name not in _REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def names() -> list[str]:
    _load_all()
    return list(_REGISTRY)


def grid_runs(experiment_name: str, datasets: list[str], skips: list[str], seeds: list[int],
              depths: list[int] | None = None, **options) -> list[dict]:
    """Records of an experiment for every dataset x skip x seed (x depth) (cached, else computed)."""
    from ..sweep import run_sweep  # noqa: PLC0415  (sweep imports this module)

    lists = {"datasets": datasets, "skips": skips, "seeds": seeds, **({"depths": depths} if depths is not None else {})}
    for name, value in lists.items():
        if isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty list, got {value!r}")
    per_depth = [{"depth": L} for L in depths] if depths is not None else [{}]
    configs = [dict(dataset=d, skip=s, seed=seed, **extra, **options)
               for d in datasets for s in skips for extra in per_depth for seed in seeds]
    return run_sweep(experiment_name, configs)


def _load_all():
    from . import erm, ra, x1  # noqa: F401  (registers)
    from . import spectra  # noqa: F401  (registers ra_spectrum)
