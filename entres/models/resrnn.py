"""A residual recurrent network: h_t = E h_{t-1} + F(x_t, h_{t-1}), F = W_o tanh(W_x x_t + W_h h_{t-1} + b).

Input (B, T, features); the classifier reads the last hidden state.
"""
from __future__ import annotations

import torch
from torch import nn

from .. import mappings
from . import register


@register("resrnn")
class ResRNN(nn.Module):
    def __init__(self, in_shape: tuple[int, ...], num_classes: int, depth: int = 1, width: int = 128,
                 skip: str = "identity", skip_seed: int = 0, skip_params: dict | None = None):
        super().__init__()
        if len(in_shape) != 2:
            raise ValueError(f"ResRNN expects inputs shaped (T, features), got {in_shape}")
        if depth != 1 or width < 1:
            raise ValueError(f"ResRNN has one recurrent layer (depth=1) and width >= 1, got {depth}, {width}")
        self.inp = nn.Linear(in_shape[1], width)
        self.rec = nn.Linear(width, width, bias=False)
        self.out = nn.Linear(width, width, bias=False)
        nn.init.orthogonal_(self.rec.weight)
        nn.init.normal_(self.out.weight, std=0.1 / width ** 0.5)
        self.skip = mappings.build(skip, width, skip_seed, **(skip_params or {}))
        self.head = nn.Linear(width, num_classes)
        self.width = width

    def step(self, x_t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:  # (B, f), (B, d) -> (B, d)
        return self.skip(h) + self.out(torch.tanh(self.inp(x_t) + self.rec(h)))

    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d): h_1 .. h_T."""
        h = x.new_zeros(x.shape[0], self.width)
        states = []
        for t in range(x.shape[1]):
            h = self.step(x[:, t], h)
            states.append(h)
        return torch.stack(states, dim=1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.hidden_states(x)[:, -1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))
