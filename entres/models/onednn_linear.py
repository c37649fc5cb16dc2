"""Linear layers whose training products run through oneDNN's 1x1 convolution on CPU.

At the ResMLP's sizes (a batch of 1024 by 128 features) MKL's matmul reaches ~190 GFLOP/s on an AMD CPU
while it runs its AVX2 kernels, and oneDNN's 1x1 convolution does the same product at ~300
(benchmarks/training_speed.py). A (M, K) batch is laid out, without a copy, as a channels_last image of
M pixels and K channels; the forward product x Wᵀ and the input gradient g W are then 1x1 convolutions.
The weight gradient gᵀ x reduces over the batch, which as a convolution needs two transposed copies and
ran slower, so it stays a matmul. With MKL's AVX-512 kernels (``entres.mkl_dispatch``, the ``entres``
command's default on AMD CPUs with AVX-512) MKL is the faster one and this path loses (1.3x slower).

Only training uses this path (module in train mode, float32 CPU tensors, autograd on, no autocast); eval,
Jacobians and anything under torch.func see the plain ``F.linear``. The numbers differ from MKL's in the
last bits, which is why it is a switch (``TrainConfig.onednn_linear``) and not the default: committed
results keep reproducing exactly.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_matmul(a: torch.Tensor, w_nk: torch.Tensor) -> torch.Tensor:
    """a @ w_nkᵀ for a (M, K) and w_nk (N, K), both contiguous, as a oneDNN 1x1 convolution: (M, N)."""
    m, k = a.shape
    width = next(d for d in (32, 16, 8, 4, 2, 1) if m % d == 0)  # a (M, 1) image is several times slower
    image = a.view(1, m // width, width, k).permute(0, 3, 1, 2)  # (1, K, M/width, width), channels_last
    return F.conv2d(image, w_nk[:, :, None, None]).permute(0, 2, 3, 1).reshape(m, -1)


class _OneDNNLinearFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight):  # x (M, K), weight (N, K)
        ctx.save_for_backward(x, weight)
        return conv_matmul(x.contiguous(), weight.contiguous())

    @staticmethod
    def backward(ctx, grad):  # grad (M, N)
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = conv_matmul(grad, weight.t().contiguous()) if ctx.needs_input_grad[0] else None
        grad_w = grad.t() @ x if ctx.needs_input_grad[1] else None
        return grad_x, grad_w


class OneDNNLinear(nn.Linear):
    """``nn.Linear`` with the same parameters; in training its products run through oneDNN."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and x.dim() == 2 and x.dtype == torch.float32 and x.device.type == "cpu"
                and torch.is_grad_enabled() and not torch.is_autocast_enabled("cpu")):
            return super().forward(x)
        out = _OneDNNLinearFn.apply(x, self.weight)
        return out if self.bias is None else out + self.bias


def use_onednn_linears(model: nn.Module, enable: bool = True) -> int:
    """Turn every ``nn.Linear`` of ``model`` into a :class:`OneDNNLinear` (or back); returns how many.

    The class is swapped in place: parameters, state_dict keys and the optimiser's references stay the same.
    """
    old, new = (nn.Linear, OneDNNLinear) if enable else (OneDNNLinear, nn.Linear)
    changed = 0
    for module in model.modules():
        if type(module) is old:
            module.__class__ = new
            changed += 1
    return changed
