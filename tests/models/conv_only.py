"""A user model for the bad-input tests: convolutions only, no padding, so it
needs an input of at least 24x24 pixels to reach `conv3`:
24 -conv5-> 20 -pool-> 10 -conv5-> 6 -pool-> 3 -conv3-> 1.
Loaded as `conv_only.py:build`."""

import torch
from torch import nn

SMALLEST_SIZE = 24


class ConvOnly(nn.Module):
    input_size = 32  # atlas reads this as the default image size

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 5)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 4, 5)
        self.pool2 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(4, 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.pool2(self.conv2(self.pool1(self.conv1(x)))))


def build() -> nn.Module:
    return ConvOnly()
