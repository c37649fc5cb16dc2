"""Synthetic RA result records with known answers, for the claim-page tests (no training, no data)."""
from __future__ import annotations

import numpy as np

BATCH = 1024          # mnist: ceil(60000 / 1024) = 59 SGD steps per epoch
STEPS_PER_EPOCH = 59


def history(epochs_at_bar: int, epochs: int = 100, final_acc: float = 1.0) -> list[dict]:
    """Per-epoch train accuracy: below the bar, then ``epochs_at_bar`` final epochs at ``final_acc``."""
    below = [{"train_acc": 0.99} for _ in range(epochs - epochs_at_bar)]
    return below + [{"train_acc": final_acc} for _ in range(epochs_at_bar)]


def config(dataset="mnist", skip="identity", seed=0, depth=16, width=128) -> dict:
    return {"dataset": dataset, "skip": skip, "seed": seed, "depth": depth, "width": width,
            "batch_size": BATCH, "n_train": 0, "epochs": 100}


def trajectory_record(lin, cv, step_mean, *, skip="identity", seed=0, dataset="mnist", width=128,
                      train_acc=1.0, epochs_at_bar=100) -> dict:
    final = train_acc if train_acc < 0.999 else 1.0
    return {"config": config(dataset, skip, seed, len(step_mean) + 1, width),
            "metrics": {"train_acc": train_acc, "test_acc": 0.9},
            "history": history(epochs_at_bar if train_acc >= 0.999 else 0, final_acc=final),
            "arrays": {"lin": list(lin), "cv": list(cv), "step_mean": list(step_mean)},
            "provenance": {"date": "2026-01-01T00:00:00", "git_commit": "abcdef0123", "device": "cpu"}}


def jacobian_record(within, overlap, *, skip="identity", seed=0, dataset="mnist", width=128, classes=10,
                    depth=8, train_acc=1.0, epochs_at_bar=100, energy=0.99, rank=10.0, sigma_ratio=0.5) -> dict:
    """Every block has within-block alignment ``within``; every off-diagonal overlap is ``overlap``."""
    mat = np.full((depth, depth), overlap)
    np.fill_diagonal(mat, 1.0)
    sv = [1.0] + [sigma_ratio] * (classes + 4)
    blocks = [{"within_alignment": within, "top_singular_values": sv, "sigma1": 1.0, "rank": rank,
               "energy_top_c": energy} for _ in range(depth)]
    final = train_acc if train_acc < 0.999 else 1.0
    return {"config": config(dataset, skip, seed, depth, width),
            "metrics": {"train_acc": train_acc, "test_acc": 0.9, "num_classes": classes, "width": width,
                        "energy_top_c_mean": energy, "rank_mean": rank, "random_overlap": classes / width},
            "history": history(epochs_at_bar if train_acc >= 0.999 else 0, final_acc=final),
            "arrays": {"blocks": blocks, "overlap_u": mat.tolist(), "overlap_v": mat.tolist()},
            "provenance": {"date": "2026-01-01T00:00:00", "git_commit": "abcdef0123", "device": "cpu"}}


def spectrum_record(offdiag_share, *, skip="identity", seed=0, dataset="mnist", depth=8, width=128, classes=10,
                    train_acc=1.0, held_steps=5900, align_strong=0.5) -> dict:
    """An ra_spectrum record: every off-diagonal grid has diagonal share ``offdiag_share`` (chance 1/C)."""
    mat = np.full((depth, depth), offdiag_share)
    np.fill_diagonal(mat, 1.0)
    return {"config": config(dataset, skip, seed, depth, width),
            "metrics": {"train_acc": train_acc, "test_acc": 0.9, "terminal_steps_held": held_steps,
                        "diag_share_chance": 1 / classes, "align_strong_mean": align_strong, "width": width,
                        "num_classes": classes},
            "arrays": {"diag_share": [" ".join(f"{x:.4f}" for x in r) for r in mat]},
            "provenance": {"date": "2026-01-02T00:00:00", "git_commit": "abcdef0123", "device": "gpu"}}
