"""A user model for the example-size tests: a convolution, then a pooled linear head,
so `conv` units have small receptive-field crops and `fc` units whole images.
Loaded as `pooled_head.py:build`."""

import torch
from torch import nn


class PooledHead(nn.Module):
    input_size = 160  # above the size pages show examples at, so whole images shrink

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(torch.relu(self.conv(x))).flatten(1))


def build() -> nn.Module:
    torch.manual_seed(0)
    return PooledHead()
