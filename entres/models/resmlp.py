"""The fully-connected ResNet of the Residual Alignment paper (Li & Papyan 2023).

flatten -> Linear(in, d, no bias) -> BN -> ReLU -> L x block -> Linear(d, C)
block:  h <- ReLU(E h + BN(W2 ReLU(BN(W1 h))))      (bias-free linears)
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .. import mappings
from . import register


class MLPBlock(nn.Module):
    def __init__(self, width: int, skip: str, seed: int, **skip_params):
        super().__init__()
        self.fc1 = nn.Linear(width, width, bias=False)
        self.bn1 = nn.BatchNorm1d(width)
        self.fc2 = nn.Linear(width, width, bias=False)
        self.bn2 = nn.BatchNorm1d(width)
        self.skip = mappings.build(skip, width, seed, **skip_params)

    def branch(self, h: torch.Tensor) -> torch.Tensor:  # F_l(h): (B, d) -> (B, d)
        return self.bn2(self.fc2(torch.relu(self.bn1(self.fc1(h)))))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.skip(h) + self.branch(h))


@register("resmlp")
class ResMLP(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], num_classes: int, depth: int = 16,
                 width: int = 128, skip: str = "identity", skip_seed: int = 0, skip_params: dict | None = None):
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError(f"ResMLP needs depth >= 1 and width >= 1, got depth={depth}, width={width}")
        in_features = math.prod(in_shape)
        self.stem = nn.Sequential(nn.Flatten(), nn.Linear(in_features, width, bias=False),
                                  nn.BatchNorm1d(width), nn.ReLU())
        # Each block gets its own E (seeded from skip_seed and its index).
        self.blocks = nn.ModuleList(
            MLPBlock(width, skip, skip_seed * 1000 + i, **(skip_params or {})) for i in range(depth))
        self.head = nn.Linear(width, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return h  # (B, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))

    def trajectory(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L+1, d): h_0 (stem output) and the output of each block."""
        hs = [self.stem(x)]
        for block in self.blocks:
            hs.append(block(hs[-1]))
        return torch.stack(hs, dim=1)
