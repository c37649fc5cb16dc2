"""Per-step training time of each skip family relative to the identity skip, per architecture.

Ratios are measured in one run, interleaving the families round by round so that machine noise hits all
of them alike. Book-profile sizes: ResMLP d16 w128 batch 1024 (RA), ResCNN-20 w16 batch 128 on 32x32
(channels_last, the default), ViT d6 w192 batch 128, ResRNN w64 over 28 steps batch 128.
Target (ERM issue): every family <= 1.10x identity for the CNN and the ViT. An MLP block has only two
matmuls, so a dense E adds about half of its FLOPs; the RNN's E is one of its two state matmuls.

    .venv/bin/python benchmarks/skip_overhead.py [--archs resmlp rescnn vit resrnn --rounds 5 --steps 5]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from entres import mappings, models

SIZES = {  # arch -> (model kwargs, input shape, batch)
    "resmlp": (dict(depth=16, width=128), (784,), 1024),
    "rescnn": (dict(depth=20, width=16), (3, 32, 32), 128),
    "vit": (dict(depth=6, width=192), (3, 32, 32), 128),
    "resrnn": (dict(depth=1, width=64), (28, 28), 128),
}


def step_timer(arch: str, skip: str):
    kwargs, shape, batch = SIZES[arch]
    torch.manual_seed(0)
    model = models.create(arch, in_shape=shape, num_classes=10, skip=skip, **kwargs)
    x, y = torch.randn(batch, *shape), torch.randint(0, 10, (batch,))
    if arch == "rescnn":
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def run(steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return (time.perf_counter() - start) / steps

    run(2)  # warm-up
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    skips = [s for s in mappings.names() if s != "none"]  # "none" removes the skip: not an entangled family
    print(f"{torch.get_num_threads()} threads; median of {args.rounds} rounds x {args.steps} steps, families interleaved")
    for arch in args.archs:
        timers = {s: step_timer(arch, s) for s in skips}
        times = {s: [] for s in timers}
        for _ in range(args.rounds):
            for s, run in timers.items():
                times[s].append(run(args.steps))
        base = statistics.median(times["identity"])
        kwargs, _, batch = SIZES[arch]
        print(f"\n{arch} {kwargs} batch {batch}")
        print(f"{'skip':<12} {'ms/step':>8} {'x identity':>10}")
        for s, t in times.items():
            med = statistics.median(t)
            print(f"{s:<12} {1000 * med:8.2f} {med / base:10.3f}")


if __name__ == "__main__":
    main()
