"""Top-k singular values of a convolutional residual Jacobian: matrix-free (entres) vs dense.

Dense = one backward pass per output coordinate to build the full (c·H·W)² Jacobian, then an SVD.
At 64 channels x 16x16 that is 16,384 backward passes; we time a sample of them and extrapolate
(the SVD of the 16,384² matrix is left out, which favours the dense side). Ratio in one run, from
interleaved rounds.
Target (RA issue): matrix-free >= 100x faster.

Matrix-free runs both methods of ``entres.jacobians.topk_matrix_free`` (block Krylov, the default, and the
subspace iteration the committed conv results used) and prints each one's largest relative error in the
top-k singular values against a float64 block-Krylov answer with 40 iterations, so speed is compared at a
stated accuracy. The block here is freshly initialised: its top singular values lie close together,
the hard case for both methods.

    .venv/bin/python benchmarks/conv_jacobian.py [--channels 64 --size 16 --k 10]
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from entres import jacobians, models


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--dense-rows", type=int, default=64, help="backward passes timed for the extrapolation")
    ap.add_argument("--krylov-iters", type=int, default=10, help="block-Krylov iterations")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the fastest of each kind is kept")
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

    _, reference, _ = jacobians.conv_top_singular(copy.deepcopy(block).double(), h.double(), args.k, iters=40)
    x = h.clone().requires_grad_(True)
    out = jacobians.masked_branch(block, x).reshape(-1)

    def dense_seconds() -> float:
        start = time.perf_counter()
        for i in range(args.dense_rows):
            torch.autograd.grad(out[i], x, retain_graph=True)
        return (time.perf_counter() - start) / args.dense_rows * n

    # Interleaved rounds, the fastest of each kind kept: load from elsewhere on the machine slows the long
    # dense loop more than the short matrix-free calls, and would otherwise inflate the ratio.
    methods = {"krylov": args.krylov_iters, "subspace": 30}
    times = {name: [] for name in ["dense", *methods]}
    errors = {}
    for _ in range(args.rounds):
        for method, iters in methods.items():
            start = time.perf_counter()
            _, s, _ = jacobians.conv_top_singular(block, h, args.k, method=method, iters=iters)
            times[method].append(time.perf_counter() - start)
            errors[method] = ((s.double() - reference) / reference).abs().max().item()
        times["dense"].append(dense_seconds())
    t_dense = min(times["dense"])
    free = {f"{method} ({iters} iterations)": (min(times[method]), errors[method]) for method, iters in methods.items()}

    print(f"conv block {args.channels} channels x {args.size}x{args.size} (n = {n}), top-{args.k}, "
          f"{torch.get_num_threads()} threads")
    print(f"dense (extrapolated)        {t_dense:10.3f} s   ({n} backward passes, SVD not counted; "
          f"fastest of {args.rounds} rounds of {args.dense_rows})")
    for name, (t, err) in free.items():
        print(f"{name:27s} {t:10.3f} s   speed-up {t_dense / t:7.1f} x   max rel. error of top-{args.k} {err:.1e}")


if __name__ == "__main__":
    main()
