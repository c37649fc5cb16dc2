"""The convolutional ResNet of the Residual Alignment authors (no downsampling inside the residual stack).

stem:  Conv5x5(stride 2) -> BN -> ReLU                         (B, 3, 32, 32) -> (B, c, 16, 16)
block: h <- ReLU(E h + BN(Conv3x3(ReLU(BN(Conv3x3(h))))))     E: fixed 1x1 channel mixing
head:  global average pool -> Linear(c, C)
"""
from __future__ import annotations

import torch
from torch import nn

from . import register
from .rescnn import BasicBlock


@register("resconv")
class ResConv(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], num_classes: int, depth: int = 8, width: int = 64,
                 skip: str = "identity", skip_seed: int = 0, skip_params: dict | None = None):
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError(f"ResConv needs depth >= 1 and width >= 1, got depth={depth}, width={width}")
        self.stem = nn.Sequential(nn.Conv2d(in_shape[0], width, 5, stride=2, padding=2, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        self.blocks = nn.ModuleList(
            BasicBlock(width, width, 1, skip, skip_seed * 1000 + i, **(skip_params or {})) for i in range(depth))
        self.head = nn.Linear(width, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return h  # (B, c, H/2, W/2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x).mean(dim=(2, 3)))

    def trajectory(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L+1, c*H*W): h_0 (stem output) and each block's output, flattened."""
        hs = [self.stem(x)]
        for block in self.blocks:
            hs.append(block(hs[-1]))
        return torch.stack([h.flatten(1) for h in hs], dim=1)
