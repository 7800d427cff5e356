"""A user model for the tests: a 16x16 CNN whose forward returns a tuple, with a
submodule whose own output is a tuple too. Loaded as `two_heads.py:build`."""

import torch
from torch import nn


class Pair(nn.Module):
    """Returns two tensors: not visualizable itself."""

    def forward(self, x: torch.Tensor) -> tuple:
        return x, x * 2


class TwoHeads(nn.Module):
    input_size = 16  # atlas reads this as the default image size

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.pair = Pair()
        self.head = nn.Linear(4 * 8 * 8, 5)
        self.aux = nn.Linear(4 * 8 * 8, 2)

    def forward(self, x: torch.Tensor) -> tuple:
        features, _ = self.pair(self.features(x))
        flat = features.flatten(1)
        return self.head(flat), self.aux(flat)


def build() -> nn.Module:
    return TwoHeads()


NOT_A_FACTORY = 42


def not_a_module() -> str:
    return "hello"


class DictOutput(TwoHeads):
    """The same network, returning a dict as detection-style models do."""

    def forward(self, x: torch.Tensor) -> dict:
        logits, aux = super().forward(x)
        return {"logits": logits, "aux": aux}


def build_dict() -> nn.Module:
    return DictOutput()
