"""A model with clamped layers whose pre-activations are known by construction
(loaded as `clamped.py:build`, 8x8 inputs):

- `block`: a 1x1 conv then an in-place ReLU, as torchvision's Conv2dNormActivation
  ends; before the ReLU unit 0 = red - 0.5, unit 1 = green - blue.
- `silent`: a 1x1 conv then a ReLU; before it unit 0 = -1 - red everywhere, so the
  unit never fires on any image; unit 1 = red.
- `head`: a linear layer over `block` (no clamp).
"""

import torch
from torch import nn

SIZE = 8


class Clamped(nn.Module):
    input_size = SIZE

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU(inplace=True))
        self.silent = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU())
        self.head = nn.Linear(2 * SIZE * SIZE, 2, bias=False)
        with torch.no_grad():
            self.block[0].weight.copy_(
                torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]])[:, :, None, None])
            self.block[0].bias.copy_(torch.tensor([-0.5, 0.0]))
            self.silent[0].weight.copy_(
                torch.tensor([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])[:, :, None, None])
            self.silent[0].bias.copy_(torch.tensor([-1.0, 0.0]))
            self.head.weight.fill_(0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        block = self.block(x)
        silent = self.silent(x)
        return self.head(block.flatten(1)) + 0 * silent.sum()


def build() -> nn.Module:
    return Clamped()
