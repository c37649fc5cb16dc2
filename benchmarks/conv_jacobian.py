"""Top-k singular values of a convolutional residual Jacobian: matrix-free (entres) vs dense.

Dense = one backward pass per output coordinate to build the full (c·H·W)² Jacobian, then an SVD.
At 64 channels x 16x16 that is 16,384 backward passes; we time a sample of them and extrapolate
(the SVD of the 16,384² matrix is left out of that figure, which favours the dense side). The authors'
route also takes the SVD of that matrix (their figures show whole spectra and singular vectors): a second
figure adds its time, extrapolated from SVDs of smaller random matrices by the exponent the two largest of
them show, at most 3 (a 16,384² SVD would take many minutes). Ratios in one run, from interleaved rounds.
Target (RA issue): matrix-free >= 100x faster.

A third figure adds to the construction the cheapest way to the top-k once the matrix exists: the same
block Krylov with products by the dense matrix (a randomised SVD, as the authors used, needs several times
more products at this accuracy).

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
import math
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
    ap.add_argument("--svd-sizes", default="1024,2048,4096",
                    help="sizes of the SVDs timed to extrapolate the dense SVD; empty to skip")
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
    t_topk, err_topk = _dense_topk_seconds(block, h, args.k, args.krylov_iters, reference, args.rounds)
    sizes = [int(x) for x in args.svd_sizes.split(",") if x]
    svd_seconds = [_svd_seconds(size) for size in sizes]
    free = {f"{method} ({iters} iterations)": (min(times[method]), errors[method]) for method, iters in methods.items()}

    print(f"conv block {args.channels} channels x {args.size}x{args.size} (n = {n}), top-{args.k}, "
          f"{torch.get_num_threads()} threads")
    print(f"dense (extrapolated)        {t_dense:10.3f} s   ({n} backward passes, SVD not counted; "
          f"fastest of {args.rounds} rounds of {args.dense_rows})")
    for name, (t, err) in free.items():
        print(f"{name:27s} {t:10.3f} s   speed-up {t_dense / t:7.1f} x   max rel. error of top-{args.k} {err:.1e}")
    print(f"top-{args.k} of the built dense matrix by the same block Krylov ({args.krylov_iters} iterations, dense "
          f"products): {t_topk:.3f} s, max rel. error {err_topk:.1e}")
    print(f"dense + top-{args.k} on it      {t_dense + t_topk:10.3f} s")
    for name, (t, _) in free.items():
        print(f"{name:27s} speed-up over dense + top-{args.k} {(t_dense + t_topk) / t:7.1f} x")
    if len(sizes) >= 2:
        exponent = math.log(svd_seconds[-1] / svd_seconds[-2]) / math.log(sizes[-1] / sizes[-2])
        # at most the n³ of the SVD's operation count: a measured exponent above it (caches) is not extrapolated
        t_svd = svd_seconds[-1] * (n / sizes[-1]) ** min(exponent, 3.0)
        print("SVD of the dense matrix (float32, singular vectors too): "
              + ", ".join(f"n={size}: {t:.2f} s" for size, t in zip(sizes, svd_seconds))
              + f"; measured exponent {exponent:.2f}, extrapolated with {min(exponent, 3.0):.2f}: n={n} {t_svd:.0f} s")
        print(f"dense + SVD (the authors' route) {t_dense + t_svd:10.1f} s")
        for name, (t, _) in free.items():
            print(f"{name:27s} speed-up over dense + SVD {(t_dense + t_svd) / t:9.0f} x")


def _dense_topk_seconds(block, h, k: int, iters: int, reference, rounds: int) -> tuple[float, float]:
    """Seconds (fastest of ``rounds``) and top-k error of the cheapest decomposition the dense route can take
    once the matrix is built: the library's block Krylov with products by the dense (n, n) matrix, which
    needs far fewer products than a randomised SVD at this accuracy. The matrix is built here by batched
    Jacobian-vector products (not timed: the backward-pass loop above is the construction's time)."""
    op = jacobians.conv_operator(block, h[0])
    eye = torch.eye(op.n)
    dense = torch.cat([op.jvp(eye[:, i:i + 512]) for i in range(0, op.n, 512)], dim=1)  # (n, n)
    dense_t = dense.T.contiguous()
    g = torch.Generator()
    best, err = float("inf"), float("nan")
    for _ in range(rounds):
        g.manual_seed(0)
        start = time.perf_counter()
        _, s, _ = jacobians.topk_matrix_free(lambda v: dense @ v, lambda u: dense_t @ u, op.n, k, iters=iters,
                                             generator=g, dtype=dense.dtype)
        best = min(best, time.perf_counter() - start)
        err = ((s.double() - reference[0]) / reference[0]).abs().max().item()
    return best, err


def _svd_seconds(size: int) -> float:
    a = torch.randn(size, size, generator=torch.Generator().manual_seed(0))
    start = time.perf_counter()
    torch.linalg.svd(a, full_matrices=False)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
