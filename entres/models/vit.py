"""A small Vision Transformer with entangled residuals (pre-norm; both residuals per block use E).

patches 4x4 on 32x32 -> 64 tokens of width d (+ learned positions)
block:  h <- E h + Attn(LN(h));   h <- E h + MLP(LN(h))      (E acts on each token's d features)
head:   LN -> mean over tokens -> Linear(d, C)
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from .. import mappings
from . import register


# Under bf16 autocast on a CPU, the fused attention's backward is slow at 64 tokens; the unfused (math) path
# makes a whole training step 1.26x faster (benchmarks/training_speed.py, "bf16" vs "bf16-fused-attention").
# In float32 the fused kernel is the faster one and stays. Set False to always use the fused kernel.
UNFUSED_ATTENTION_UNDER_CPU_BF16 = True


class ViTBlock(nn.Module):
    def __init__(self, width: int, heads: int, mlp_ratio: int, skip: str, seed: int, **skip_params):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width))
        self.skip = mappings.build(skip, width, seed, **skip_params)
        self.skip2 = mappings.build(skip, width, seed + 500, **skip_params)

    def attend(self, h: torch.Tensor) -> torch.Tensor:
        z = self.ln1(h)
        unfused = UNFUSED_ATTENTION_UNDER_CPU_BF16 and h.device.type == "cpu" and torch.is_autocast_enabled("cpu")
        with sdpa_kernel(SDPBackend.MATH) if unfused else contextlib.nullcontext():
            return self.attn(z, z, z, need_weights=False)[0]

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, T, d) -> (B, T, d)
        h = self.skip(h) + self.attend(h)
        return self.skip2(h) + self.mlp(self.ln2(h))


@register("vit")
class ViT(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], num_classes: int, depth: int = 6, width: int = 192,
                 skip: str = "identity", skip_seed: int = 0, skip_params: dict | None = None,
                 patch: int = 4, heads: int = 3, mlp_ratio: int = 2):
        super().__init__()
        c, hgt, wid = in_shape
        if hgt % patch or wid % patch:
            raise ValueError(f"image size {hgt}x{wid} is not a multiple of the patch size {patch}")
        if depth < 1 or width < 1 or width % heads:
            raise ValueError(f"ViT needs depth >= 1 and width divisible by heads={heads}, got {depth}, {width}")
        tokens = (hgt // patch) * (wid // patch)
        self.embed = nn.Conv2d(c, width, patch, stride=patch)
        self.pos = nn.Parameter(torch.zeros(1, tokens, width))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(ViTBlock(width, heads, mlp_ratio, skip, skip_seed * 1000 + i,
                                             **(skip_params or {})) for i in range(depth))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x).flatten(2).transpose(1, 2) + self.pos  # (B, T, d)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.norm(h)  # (B, T, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x).mean(dim=1))

    def trajectory(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L+1, T*d): token embeddings and each block's output, flattened."""
        hs = [self.stem(x)]
        for block in self.blocks:
            hs.append(block(hs[-1]))
        return torch.stack([h.flatten(1) for h in hs], dim=1)
