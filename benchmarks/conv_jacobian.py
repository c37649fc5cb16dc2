"""Top-k singular values of a convolutional residual Jacobian: matrix-free (entres) vs dense.

Dense = one backward pass per output coordinate to build the full (c·H·W)² Jacobian, then an SVD.
At 64 channels x 16x16 that is 16,384 backward passes; we time a sample of them and extrapolate
(the SVD of the 16,384² matrix is left out, which favours the dense side). Ratio in one run.
Target (RA issue): matrix-free >= 100x faster.

    .venv/bin/python benchmarks/conv_jacobian.py [--channels 64 --size 16 --k 10]
"""
from __future__ import annotations

import argparse
import time

import torch

from entres import jacobians, models


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--dense-rows", type=int, default=64, help="backward passes timed for the extrapolation")
    args = ap.parse_args()
    torch.manual_seed(0)
    model = models.create("resconv", in_shape=(3, 2 * args.size, 2 * args.size), num_classes=10, depth=1,
                          width=args.channels)
    model.train()
    model(torch.randn(16, 3, 2 * args.size, 2 * args.size))
    model.eval()
    block = model.blocks[0]
    h = model.stem(torch.randn(1, 3, 2 * args.size, 2 * args.size)).detach()
    n = h[0].numel()

    start = time.perf_counter()
    _, s, _ = jacobians.conv_top_singular(block, h, args.k)
    t_free = time.perf_counter() - start

    x = h.clone().requires_grad_(True)
    out = jacobians.masked_branch(block, x).reshape(-1)
    start = time.perf_counter()
    for i in range(args.dense_rows):
        torch.autograd.grad(out[i], x, retain_graph=True)
    t_dense = (time.perf_counter() - start) / args.dense_rows * n

    print(f"conv block {args.channels} channels x {args.size}x{args.size} (n = {n}), top-{args.k}, "
          f"{torch.get_num_threads()} threads")
    print(f"matrix-free             {t_free:10.3f} s   (sigma_1 = {s[0, 0]:.4f})")
    print(f"dense (extrapolated)    {t_dense:10.3f} s   ({n} backward passes, SVD not counted)")
    print(f"speed-up                {t_dense / t_free:10.1f} x")


if __name__ == "__main__":
    main()
