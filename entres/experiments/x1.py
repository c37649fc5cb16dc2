"""X-1 (entangled skips under Residual Alignment): why some families and depths are left out.

A correlation matrix has a unit diagonal but eigenvalues far from 1, and a sparse ``E = I + N`` has a
norm above 1, so the skip path alone multiplies the signal by ``E_L … E_1``. :func:`skip_norms` computes
those norms at initialisation (no data, no training); the ``x1_divergence_probe`` experiment trains the
first epoch(s) of one such network and records whether the loss stayed finite, so the book reads the
outcome from ``data/results/`` instead of training on every build.
"""
from __future__ import annotations

import torch

from .. import models
from ..train import TrainConfig, TrainingDiverged, train
from . import experiment
from .ra import TRAIN_LATER

PROBE_DEFAULTS = {**TrainConfig().to_dict(), "epochs": 1}


def _validate(cfg: dict) -> None:
    TrainConfig.from_options(cfg)


@experiment("x1_divergence_probe", version=1, defaults=PROBE_DEFAULTS, validate=_validate, later=TRAIN_LATER)
def x1_divergence_probe(cfg: dict) -> dict:
    """Train ``epochs`` epochs (no checkpoint); metrics: ``diverged`` and, if it did not, the accuracies.

    A non-finite loss is the measurement here, not a failure: it is recorded with the trainer's message.
    """
    try:
        _, _, metrics = train(TrainConfig.from_options(cfg), progress=False)
    except TrainingDiverged as err:
        return {"metrics": {"diverged": True}, "divergence": str(err)}
    return {"metrics": {**metrics, "diverged": False}}


def divergence_probe_runs(dataset: str, cases: list[tuple[str, int]], seeds: list[int], **options) -> list[dict]:
    """Records of ``x1_divergence_probe`` for every (skip, depth) case x seed, in that order (cached, else
    computed)."""
    from ..sweep import run_sweep  # noqa: PLC0415  (sweep imports the experiments package)

    configs = [dict(dataset=dataset, skip=skip, depth=depth, seed=seed, **options)
               for skip, depth in cases for seed in seeds]
    return run_sweep("x1_divergence_probe", configs) if configs else []


def probe_lines(records: list[dict]) -> list[str]:
    """One line per probe run: family, depth, seed and whether its first epoch(s) diverged."""
    lines = []
    for r in records:
        c = r["config"]
        epochs = "first epoch" if c["epochs"] == 1 else f"first {c['epochs']} epochs"
        outcome = (f"diverged in the {epochs} (non-finite loss)" if r["metrics"]["diverged"]
                   else f"{epochs} trained without diverging")
        lines.append(f"{c['skip']}, depth {c['depth']}, seed {c['seed']}: {outcome}")
    return lines


def skip_norms(families: list[str], depth: int, width: int, seed: int = 0, in_shape=(1, 28, 28)):
    """Per skip family at initialisation: the mean spectral norm of one block's ``E`` and the norm of the
    product ``E_L … E_1`` (float64), as a DataFrame. ``E`` depends on the family, width, depth and seed
    only, not on the data (``in_shape`` just builds the network)."""
    import pandas as pd

    rows = []
    for skip in families:
        net = models.create("resmlp", in_shape=in_shape, num_classes=10, depth=depth, width=width, skip=skip,
                            skip_seed=seed)
        Es = [b.skip.E.double() for b in net.blocks]
        product = torch.eye(width, dtype=torch.float64)
        for E in Es:
            product = E @ product
        rows.append({"skip": skip, "norm_E_mean": sum(torch.linalg.matrix_norm(E, 2).item() for E in Es) / len(Es),
                     "norm_product": torch.linalg.matrix_norm(product, 2).item()})
    return pd.DataFrame(rows)
