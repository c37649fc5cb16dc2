"""Exact residual Jacobians of ResMLP blocks: closed form (entres) vs a Python loop of autograd.

The loop of ``torch.autograd.functional.jacobian`` (one call per sample) stands for the dense approach
the RA authors used. Both are timed in one run on the same block and inputs; the ratio is printed.
Target (RA issue): closed form >= 25x faster.

    .venv/bin/python benchmarks/jacobian_engine.py [--width 128 --samples 100]
"""
from __future__ import annotations

import argparse
import time

import torch

from entres import jacobians, models


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = models.create("resmlp", in_shape=(784,), num_classes=10, depth=2, width=args.width).eval()
    block = model.blocks[0]
    h = torch.relu(torch.randn(args.samples, args.width))

    def best(fn):
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - start)
        return min(times), out

    t_fast, fast = best(lambda: jacobians.mlp_jacobians(block, h))
    t_loop, loop = best(lambda: jacobians.jacobians_autograd(block, h))
    err = (fast - loop).abs().max().item()
    print(f"ResMLP block, width {args.width}, {args.samples} samples, {torch.get_num_threads()} threads")
    print(f"closed form      {1000 * t_fast:9.2f} ms")
    print(f"autograd loop    {1000 * t_loop:9.2f} ms")
    print(f"speed-up         {t_loop / t_fast:9.1f} x   (max abs difference {err:.2e})")


if __name__ == "__main__":
    main()
