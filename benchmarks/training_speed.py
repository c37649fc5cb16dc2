"""Achieved GFLOP/s of a training step, as a fraction of this CPU's measured peak, per model and variant.

FLOPs of one step (forward + backward) are counted by torch's FlopCounterMode; the peaks are measured
in the same run (a large fp32 matmul through MKL, the same in bf16, and a 1x1 conv in channels_last
through oneDNN), so every figure printed is a ratio of two measurements taken minutes apart on the
same machine (the best fp32 peak is the largest of a matmul, a 1x1 and a 3x3 conv). Variants: plain eager fp32 (the baseline), channels_last (conv nets), bf16 autocast (for the ViT
also with the fused attention kernel, which the library replaces by the unfused one under CPU bf16); with
``--mlp-alternatives`` also the ResMLP's linears as oneDNN 1x1 convolutions through autograd's own backward
and torch.compile alone (neither helps). The ResMLP also runs with the library's switches ``onednn_linear``
(forward and input-gradient products as oneDNN 1x1 convolutions, weight gradients through MKL) and
``torch_compile`` (which fuses the batch norms, ReLUs and additions between the products).
Whether bf16 leaves accuracy unchanged is a separate question (a training run), not answered here.

The ResMLP's ceiling: its step's matrix products (recorded from one eager step, shapes and strides as they
ran) replayed back to back through the same BLAS call, with nothing else in between. That is the rate the
step would reach if batch norm, ReLU, the skip additions and the optimiser cost nothing, so it bounds what
any fusion of the elementwise work can give in fp32.

    .venv/bin/python benchmarks/training_speed.py [--steps 10 --rounds 3 --threads 2]
"""
from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from entres import models
from entres.models import onednn_linear, vit

# Book-profile sizes: the RA ResMLP, the ERM CIFAR ResNet-20 and the ERM ViT.
MODELS = {
    "resmlp": dict(in_shape=(1, 28, 28), depth=16, width=128, batch=1024),
    "rescnn": dict(in_shape=(3, 32, 32), depth=20, width=16, batch=128),
    "vit": dict(in_shape=(3, 32, 32), depth=6, width=192, batch=128),
}


def peak(kind: str, seconds: float = 1.0) -> float:
    """GFLOP/s of the best case for a dtype / engine on this machine."""
    if kind in ("conv1x1-cl", "conv3x3-cl"):
        k = 1 if kind == "conv1x1-cl" else 3
        x = torch.randn(64, 128, 32, 32).to(memory_format=torch.channels_last)
        w = torch.randn(128, 128, k, k).to(memory_format=torch.channels_last)
        fn, flops = (lambda: F.conv2d(x, w, padding=k // 2)), 2 * 64 * 128 * 128 * k * k * 32 * 32
    else:
        dtype = torch.bfloat16 if kind == "bf16" else torch.float32
        a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
        fn, flops = (lambda: a @ b), 2 * 2048 ** 3
    fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return flops * n / (time.perf_counter() - start) / 1e9


class Conv1x1Linear(torch.nn.Linear):
    """Every product a oneDNN 1x1 convolution (``onednn_linear.conv_matmul``), backward by autograd's own
    convolution backward (the library's switch instead takes the weight gradient through MKL)."""

    def forward(self, x):
        if x.dim() != 2:
            return super().forward(x)
        out = onednn_linear.conv_matmul(x.contiguous(), self.weight)
        return out if self.bias is None else out + self.bias


def make_step(name: str, variant: str):
    spec = MODELS[name]
    torch.manual_seed(0)
    model = models.create(name, in_shape=spec["in_shape"], num_classes=10, depth=spec["depth"], width=spec["width"])
    x, y = torch.randn(spec["batch"], *spec["in_shape"]), torch.randint(0, 10, (spec["batch"],))
    if variant == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if variant in ("linear-as-conv1x1", "linear-as-conv1x1+compile"):
        for module in model.modules():
            if type(module) is torch.nn.Linear:
                module.__class__ = Conv1x1Linear
    if variant.startswith("onednn-linear"):  # the library's switch TrainConfig.onednn_linear
        onednn_linear.use_onednn_linears(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    forward = torch.compile(model) if variant.endswith("compile") else model
    bf16 = variant.startswith("bf16")
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    unfused = variant != "bf16-fused-attention"  # the ViT's switch (entres.models.vit)

    def step(forward=forward):
        vit.UNFUSED_ATTENTION_UNDER_CPU_BF16 = unfused
        with autocast():
            loss = F.cross_entropy(forward(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    # Counted on the eager model (the same products): a first compiled call under the counter's dispatch
    # mode compiled a slower graph.
    with FlopCounterMode(display=False) as counter:
        step(model)
    return step, counter.get_total_flops()


class _RecordProducts(TorchDispatchMode):
    """Records every matrix product (aten mm, addmm, convolution) of the code run under it:
    (op, [(shape, stride, dtype) of each tensor argument, or the argument itself])."""

    OPS = (torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.convolution.default)

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in self.OPS:
            self.calls.append((func, [(a.shape, a.stride(), a.dtype) if isinstance(a, torch.Tensor) else a
                                      for a in args]))
        return func(*args, **(kwargs or {}))


def products_ceiling(step, flops: float, rounds: int, steps: int) -> tuple[float, float]:
    """(ms, GFLOP/s) of the step's matrix products alone, replayed back to back (fastest of ``rounds``)."""
    with _RecordProducts() as rec:
        step()
    calls = [(func, [torch.empty_strided(*a[:2], dtype=a[2]).normal_() if isinstance(a, tuple) else a for a in args])
             for func, args in rec.calls]

    def replay():
        for func, args in calls:
            func(*args)  # the result dropped at once, so its memory is reused as in a step

    replay()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            replay()
        best = min(best, (time.perf_counter() - start) / steps)
    return 1000 * best, flops / best / 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--mlp-alternatives", action="store_true",
                    help="also time the ResMLP with its linears as oneDNN 1x1 convolutions and with torch.compile")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    args = ap.parse_args()
    chosen = args.models.split(",")
    if unknown := set(chosen) - set(MODELS):
        ap.error(f"unknown model(s) {sorted(unknown)}; valid: {', '.join(MODELS)}")
    torch.set_num_threads(args.threads)
    peaks = {k: peak(k) for k in ("fp32", "bf16", "conv1x1-cl", "conv3x3-cl")}
    best_fp32 = max(peaks["fp32"], peaks["conv1x1-cl"], peaks["conv3x3-cl"])
    variants = {"resmlp": ["eager", "bf16", "onednn-linear", "onednn-linear+compile"], "rescnn": ["eager", "channels_last", "bf16"], "vit": ["eager", "bf16", "bf16-fused-attention"]}
    if args.mlp_alternatives:
        variants["resmlp"] += ["linear-as-conv1x1", "compile", "linear-as-conv1x1+compile"]
    steps = {(m, v): make_step(m, v) for m, vs in variants.items() if m in chosen for v in vs}
    times = {k: [] for k in steps}
    for _ in range(args.rounds):  # interleaved, so machine noise hits every variant alike
        for k, (step, _) in steps.items():
            step()
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[k].append((time.perf_counter() - start) / args.steps)
    print(f"{args.threads} threads; peaks (GFLOP/s): fp32 matmul {peaks['fp32']:.0f}, bf16 matmul {peaks['bf16']:.0f}, "
          f"fp32 conv channels_last 1x1 {peaks['conv1x1-cl']:.0f}, 3x3 {peaks['conv3x3-cl']:.0f}; "
          f"fractions are of the best fp32 peak ({best_fp32:.0f}) or of the bf16 one")
    print(f"{'model':8s} {'variant':26s} {'ms/step':>8s} {'GFLOP/step':>10s} {'GFLOP/s':>8s} {'of peak':>8s} "
          f"{'speedup':>8s}")
    for (m, v), t in times.items():
        med = statistics.median(t)
        flops = steps[(m, v)][1]
        rate = flops / med / 1e9
        ref = peaks["bf16"] if v.startswith("bf16") else best_fp32
        base = statistics.median(times[(m, "eager")])
        print(f"{m:8s} {v:26s} {1000 * med:8.1f} {flops / 1e9:10.2f} {rate:8.1f} {rate / ref:8.1%} {base / med:8.2f}x")
    for variant in ("eager", "onednn-linear") if "resmlp" in chosen else ():
        step, flops = steps[("resmlp", variant)]
        ms, rate = products_ceiling(step, flops, args.rounds, args.steps)
        print(f"resmlp {variant} ceiling: its {flops / 1e9:.2f} GFLOP of products alone, replayed back to back, take "
              f"{ms:.1f} ms ({rate:.0f} GFLOP/s, {rate / best_fp32:.1%} of the best fp32 peak): what the step would "
              f"reach if everything between the products were free")


if __name__ == "__main__":
    main()
