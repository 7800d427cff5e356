"""A model whose units are known by construction, for exact dataset-example tests
(loaded as `colour_probe.py:build`, 8x8 inputs):

- `red`: 1x1 conv; unit 0 = the red channel, unit 1 = green − blue.
- `box`: 3x3 box filter (mean over the 3x3 window, padding 1) of `red`'s unit 0,
  so its receptive field is 3x3 pixels.
- `head`: a linear layer over `box`; unit 0 = the sum of `box`, unit 1 = minus it.
"""

import torch
from torch import nn

SIZE = 8


class ColourProbe(nn.Module):
    input_size = SIZE

    def __init__(self) -> None:
        super().__init__()
        self.red = nn.Conv2d(3, 2, 1, bias=False)
        self.box = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        self.head = nn.Linear(SIZE * SIZE, 2, bias=False)
        with torch.no_grad():
            self.red.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]])[:, :, None, None])
            self.box.weight.fill_(1.0 / 9.0)
            self.head.weight.copy_(torch.stack([torch.ones(SIZE * SIZE), -torch.ones(SIZE * SIZE)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        red = self.red(x)
        box = self.box(red[:, :1])
        return self.head(box.flatten(1))


def build() -> nn.Module:
    return ColourProbe()
