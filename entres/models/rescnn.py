"""CIFAR-style ResNet (He et al. 2016): 3 stages of BasicBlocks, depth = 6n + 2 (20, 32, 44, 56, 110).

block: h <- ReLU(S(h) + BN(Conv3x3(ReLU(BN(Conv3x3(h))))))
S = E (a fixed 1x1 channel mixing, the entangled skip) where the shape is kept; where a stage
changes resolution and width, the usual learned projection (1x1 conv, stride 2, BN) and no E.
"""
from __future__ import annotations

import torch
from torch import nn

from .. import mappings
from . import register


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, skip: str, seed: int, **skip_params):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        if stride != 1 or c_in != c_out:
            self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        else:
            self.skip = mappings.build(skip, c_out, seed, channel_dim=1, **skip_params)

    def branch(self, h: torch.Tensor) -> torch.Tensor:
        return self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(h)))))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.skip(h) + self.branch(h))


@register("rescnn")
class ResCNN(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], num_classes: int, depth: int = 20, width: int = 16,
                 skip: str = "identity", skip_seed: int = 0, skip_params: dict | None = None):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"ResCNN depth must be 6n + 2 with n >= 1 (8, 14, 20, 32, 44, 56, 110), got {depth}")
        if width < 1:
            raise ValueError(f"ResCNN width must be >= 1, got {width}")
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(in_shape[0], width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU())
        blocks, c_in = [], width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(BasicBlock(c_in, c_out, stride, skip, skip_seed * 1000 + len(blocks),
                                         **(skip_params or {})))
                c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(c_in, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return h  # (B, 4w, H/4, W/4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x).mean(dim=(2, 3)))

    def representations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """h_0 and every block's output (shapes change between stages)."""
        hs = [self.stem(x)]
        for block in self.blocks:
            hs.append(block(hs[-1]))
        return hs
