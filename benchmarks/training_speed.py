"""Achieved GFLOP/s of a training step, as a fraction of this CPU's measured peak, per model and variant.

FLOPs of one step (forward + backward) are counted by torch's FlopCounterMode; the peaks are measured
in the same run (a large fp32 matmul through MKL, the same in bf16, and 1x1 and 3x3 convs in
channels_last through oneDNN; the best fp32 peak is the largest), so every figure printed is a ratio
of measurements taken minutes apart on the same machine. Each step is the library's: its model at the
book-profile size and its optimiser with the book profile's settings (``entres.train.make_optimizer``).

The run is two processes, one without and one with MKL's AVX-512 shim (``entres.mkl_dispatch``; it
has to be loaded before torch, so it cannot be switched inside one process): on an AMD CPU with
AVX-512 it doubles MKL's fp32 matmul, and with it the best fp32 peak. Fractions are of the best peak
either process measured; speed-ups are over plain eager fp32 without the shim. Within a process the
variants are interleaved, so machine noise hits them alike; the two processes run one after the other.

Variants: plain eager fp32 (the baseline), channels_last (conv nets), bf16 autocast (for the ViT also
with the fused attention kernel, which the library replaces by the unfused one under CPU bf16); for the
ResMLP also the library's switches ``torch_compile`` (fuses batch norms, ReLUs and additions between
the products) and ``onednn_linear`` (forward and input-gradient products as oneDNN 1x1 convolutions,
weight gradients through MKL; it pays only while MKL runs its AVX2 kernels), and with
``--mlp-alternatives`` the linears as oneDNN 1x1 convolutions through autograd's own backward.
Whether bf16 leaves accuracy unchanged is a separate question (a training run), not answered here.

The ResMLP's ceiling: its step's matrix products (recorded from one eager step, shapes and strides as they
ran) replayed back to back through the same BLAS call, with nothing else in between. That is the rate the
step would reach if batch norm, ReLU, the skip additions and the optimiser cost nothing, so it bounds what
any fusion of the elementwise work can give in fp32.

    .venv/bin/python benchmarks/training_speed.py [--steps 10 --rounds 3 --threads 2 --mkl-shim both]
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from entres import mkl_dispatch, models, train
from entres.experiments.erm import CNN_DEFAULTS
from entres.models import onednn_linear, vit

# Book-profile sizes and optimisers: the RA ResMLP, the ERM CIFAR ResNet-20 and the ERM ViT.
MODELS = {
    "resmlp": dict(in_shape=(1, 28, 28), depth=16, width=128, batch=1024, train=train.TrainConfig()),
    "rescnn": dict(in_shape=(3, 32, 32), depth=20, width=16, batch=128,
                   train=train.TrainConfig.from_options(CNN_DEFAULTS)),
    "vit": dict(in_shape=(3, 32, 32), depth=4, width=192, batch=128,
                train=train.TrainConfig(arch="vit", dataset="cifar10", optimizer="adamw", lr=1e-3,
                                        weight_decay=0.05)),
}
VARIANTS = {"resmlp": ["eager", "bf16", "compile", "onednn-linear", "onednn-linear+compile"],
            "rescnn": ["eager", "channels_last", "bf16"], "vit": ["eager", "bf16", "bf16-fused-attention"]}


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
    opt = train.make_optimizer(spec["train"], model)
    forward = torch.compile(model, dynamic=False) if variant.endswith("compile") else model  # as train.train
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


def seconds_per_call(fn, calls: int) -> float:
    """Mean seconds of ``calls`` back-to-back calls of ``fn``."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


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
    best = min(seconds_per_call(replay, steps) for _ in range(rounds))
    return 1000 * best, flops / best / 1e9


def measure(args) -> dict:
    """One process's peaks, step times and ceilings (the shim is whatever this process was started with)."""
    torch.set_num_threads(args.threads)
    peaks = {k: peak(k) for k in ("fp32", "bf16", "conv1x1-cl", "conv3x3-cl")}
    variants = {m: list(VARIANTS[m]) for m in args.models.split(",")}
    if args.mlp_alternatives and "resmlp" in variants:
        variants["resmlp"] += ["linear-as-conv1x1", "linear-as-conv1x1+compile"]
    steps = {(m, v): make_step(m, v) for m, vs in variants.items() for v in vs}
    times = {k: [] for k in steps}
    for _ in range(args.rounds):  # interleaved, so machine noise hits every variant alike
        for k, (step, _) in steps.items():
            step()
            times[k].append(seconds_per_call(step, args.steps))
    rows = [dict(model=m, variant=v, seconds=statistics.median(t), flops=steps[(m, v)][1])
            for (m, v), t in times.items()]
    ceilings = []
    for variant in ("eager", "onednn-linear") if "resmlp" in variants else ():
        step, flops = steps[("resmlp", variant)]
        ms, rate = products_ceiling(step, flops, args.rounds, args.steps)
        ceilings.append(dict(variant=variant, ms=ms, rate=rate, flops=flops))
    return dict(shim=mkl_dispatch.active(), peaks=peaks, rows=rows, ceilings=ceilings)


# The library's default variant per model (and the ResMLP's torch_compile switch), timed as a sweep runs
# them on a CPU: one network per core, one thread each (entres.sweep, ENTRES_WORKERS=auto).
SWEEP_VARIANTS = {"resmlp": ["eager", "compile"], "rescnn": ["channels_last"], "vit": ["eager"]}


def measure_alone(args) -> dict:
    """Median seconds per step of one variant in this process, timed from a start time shared with the
    processes running beside it (so all of them are measured while all of them run)."""
    torch.set_num_threads(args.threads)
    step, flops = make_step(*args.alone.split(":"))
    for _ in range(3):
        step()
    late = time.time() > args.start_at  # still warming up when the others began: not measured alongside them
    while time.time() < args.start_at:
        time.sleep(0.001)
    times = [seconds_per_call(step, args.steps) for _ in range(args.rounds)]
    return dict(seconds=statistics.median(times), flops=flops, shim=mkl_dispatch.active(), late=late)


def sweep_throughput(args, on: bool, cores: int) -> list[dict]:
    """Achieved GFLOP/s of ``cores`` networks trained at once, one thread each, per model and variant."""
    rows = []
    for model in args.models.split(","):
        for variant in SWEEP_VARIANTS[model]:
            start_at = time.time() + 40  # after every process has imported, built and warmed up (compiles too)
            cmd = [sys.executable, __file__, "--alone", f"{model}:{variant}", "--start-at", str(start_at),
                   "--steps", str(args.steps), "--rounds", str(args.rounds), "--threads", "1"]
            procs = [subprocess.Popen(cmd, env=mkl_dispatch.env_for(on), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for _ in range(cores)]
            outs = [p.communicate() for p in procs]
            if any(p.returncode for p in procs):
                sys.exit(f"a sweep-throughput process failed:\n{outs[0][1][-3000:]}")
            each = [json.loads(o.strip().splitlines()[-1]) for o, _ in outs]
            if any(e["late"] for e in each):
                sys.exit("a sweep-throughput process was still warming up at the common start: raise the delay")
            rate = sum(e["flops"] / e["seconds"] for e in each) / 1e9
            rows.append(dict(model=model, variant=variant, processes=cores, rate=rate,
                             seconds=[e["seconds"] for e in each], shim=on))
    return rows


def report(runs: list[dict], threads: int, sweeps: list[dict] = ()) -> None:
    best_fp32 = max(max(r["peaks"]["fp32"], r["peaks"]["conv1x1-cl"], r["peaks"]["conv3x3-cl"]) for r in runs)
    best_bf16 = max(r["peaks"]["bf16"] for r in runs)
    for r in runs:
        p = r["peaks"]
        print(f"MKL shim {'on ' if r['shim'] else 'off'}: {threads} threads; peaks (GFLOP/s): fp32 matmul "
              f"{p['fp32']:.0f}, bf16 matmul {p['bf16']:.0f}, fp32 conv channels_last 1x1 {p['conv1x1-cl']:.0f}, "
              f"3x3 {p['conv3x3-cl']:.0f}")
    print(f"fractions are of the best fp32 peak ({best_fp32:.0f}) or of the best bf16 one ({best_bf16:.0f}); "
          f"speed-ups over eager fp32 with the shim off")
    base = {row["model"]: row["seconds"] for r in runs if not r["shim"] for row in r["rows"] if row["variant"] == "eager"}
    print(f"{'shim':4s} {'model':8s} {'variant':26s} {'ms/step':>8s} {'GFLOP/step':>10s} {'GFLOP/s':>8s} "
          f"{'of peak':>8s} {'speedup':>8s}")
    for r in runs:
        for row in r["rows"]:
            rate = row["flops"] / row["seconds"] / 1e9
            ref = best_bf16 if row["variant"].startswith("bf16") else best_fp32
            speedup = f"{base[row['model']] / row['seconds']:7.2f}x" if row["model"] in base else "       -"
            print(f"{'on' if r['shim'] else 'off':4s} {row['model']:8s} {row['variant']:26s} {1000 * row['seconds']:8.1f} "
                  f"{row['flops'] / 1e9:10.2f} {rate:8.1f} {rate / ref:8.1%} {speedup}")
    for r in runs:
        for c in r["ceilings"]:
            print(f"shim {'on' if r['shim'] else 'off'}: resmlp {c['variant']} ceiling: its {c['flops'] / 1e9:.2f} GFLOP "
                  f"of products alone, replayed back to back, take {c['ms']:.1f} ms ({c['rate']:.0f} GFLOP/s, "
                  f"{c['rate'] / best_fp32:.1%} of the best fp32 peak): what the step would reach if everything "
                  f"between the products were free")
    for row in sweeps:
        ref = best_fp32
        print(f"shim {'on' if row['shim'] else 'off'}: sweep of {row['processes']} networks at once, one thread each: "
              f"{row['model']} {row['variant']} {', '.join(f'{1000 * t:.1f}' for t in row['seconds'])} ms/step, "
              f"together {row['rate']:.1f} GFLOP/s, {row['rate'] / ref:.1%} of the best fp32 peak")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--mlp-alternatives", action="store_true",
                    help="also time the ResMLP with its linears as oneDNN 1x1 convolutions through autograd")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    ap.add_argument("--mkl-shim", default="both", choices=("both", "off", "on"),
                    help="run without MKL's AVX-512 shim, with it, or both (two processes)")
    ap.add_argument("--no-sweep", action="store_true",
                    help="skip the sweep figures (one network per core, one thread each, all at once)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # measure in this process, print JSON
    ap.add_argument("--alone", help=argparse.SUPPRESS)  # MODEL:VARIANT, one of a sweep's processes
    ap.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if unknown := set(args.models.split(",")) - set(MODELS):
        ap.error(f"unknown model(s) {sorted(unknown)}; valid: {', '.join(MODELS)}")
    if args.child:
        print(json.dumps(measure(args)))
        return
    if args.alone:
        print(json.dumps(measure_alone(args)))
        return
    runs, sweeps = [], []
    cores = len(os.sched_getaffinity(0))
    for on in {"both": (False, True), "off": (False,), "on": (True,)}[args.mkl_shim]:
        cmd = [sys.executable, __file__, "--child", "--steps", str(args.steps), "--rounds", str(args.rounds),
               "--threads", str(args.threads), "--models", args.models] + ["--mlp-alternatives"] * args.mlp_alternatives
        proc = subprocess.run(cmd, env=mkl_dispatch.env_for(on), capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"the measuring process (MKL shim {'on' if on else 'off'}) failed:\n{proc.stderr[-3000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        if runs[-1]["shim"] != on:
            sys.exit(f"the measuring process should have had the MKL shim {'on' if on else 'off'}, but had not")
        if not args.no_sweep and cores > 1:
            sweeps += sweep_throughput(args, on, cores)
    report(runs, args.threads, sweeps)


if __name__ == "__main__":
    main()
