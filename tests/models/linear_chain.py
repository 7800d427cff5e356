"""A model with every kind of path circuits must expand, small enough that the
expanded weights of each layer pair can be written down by hand (tests/test_circuits.py).

8x8 input: conv1 (3→2, 3x3) → ReLU (in place) → conv2 (2→3, 3x3) → F.relu →
mix (3→2, 1x1) → max-pool 2 (4x4) → conv3 (2→2, 3x3) → block (x + conv(relu x))
→ relu → flatten → fc (32→3). Every conv keeps its size (padding 1).
Loaded as `linear_chain.py:build`."""

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SIZE = 8


class Residual(nn.Module):
    """x + conv(relu(x)): a skip connection around a 3x3 conv."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(F.relu(x))


class LinearChain(nn.Module):
    input_size = IMAGE_SIZE

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 2, 3, padding=1)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(2, 3, 3, padding=1)
        self.mix = nn.Conv2d(3, 2, 1)
        self.pool = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(2, 2, 3, padding=1)
        self.block = Residual(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.relu1(self.conv1(x)))
        x = self.conv3(self.pool(self.mix(F.relu(x))))
        return self.fc(self.flatten(torch.relu(self.block(x))))


def build() -> nn.Module:
    return LinearChain()
