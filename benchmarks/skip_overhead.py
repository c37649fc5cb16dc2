"""Per-step training time of each skip family relative to the identity skip (ResMLP).

Ratios are measured in one run, interleaving the families round by round so that
machine noise hits all of them alike. Target (ERM issue): every family <= 1.10x identity.

    .venv/bin/python benchmarks/skip_overhead.py [--depth 16 --width 128 --batch 1024 --rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from entres import mappings, models


def step_timer(skip: str, depth: int, width: int, batch: int):
    torch.manual_seed(0)
    model = models.create("resmlp", in_shape=(784,), num_classes=10, depth=depth, width=width, skip=skip)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(batch, 784), torch.randint(0, 10, (batch,))

    def run(steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return (time.perf_counter() - start) / steps

    run(3)  # warm-up
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    timers = {s: step_timer(s, args.depth, args.width, args.batch) for s in mappings.names()}
    times = {s: [] for s in timers}
    for _ in range(args.rounds):
        for s, run in timers.items():
            times[s].append(run(args.steps))
    base = statistics.median(times["identity"])
    print(f"ResMLP depth {args.depth} width {args.width} batch {args.batch}, "
          f"{torch.get_num_threads()} threads; median of {args.rounds} rounds x {args.steps} steps")
    print(f"{'skip':<12} {'ms/step':>8} {'x identity':>10}")
    for s, t in times.items():
        med = statistics.median(t)
        print(f"{s:<12} {1000 * med:8.2f} {med / base:10.3f}")


if __name__ == "__main__":
    main()
