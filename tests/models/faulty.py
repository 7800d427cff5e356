"""A user model for the fault tests. Layer `odd` has three channels:
0 is always NaN (its views fail), 1 is always 0 (a dead unit), 2 is healthy."""

import torch
from torch import nn


class Odd(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Adding NaN and multiplying by 0 keep the backward of the healthy
        # channel clean: only images that target channel 0 see NaN.
        offset = torch.tensor([float("nan"), 0.0, 0.0], device=x.device).view(1, 3, 1, 1)
        scale = torch.tensor([1.0, 0.0, 1.0], device=x.device).view(1, 3, 1, 1)
        return x * scale + offset


class Faulty(nn.Module):
    input_size = 16

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.odd = Odd()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.odd(self.conv(x))


def build() -> nn.Module:
    torch.manual_seed(0)
    return Faulty()
