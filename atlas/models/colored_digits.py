"""The embedded default model: a small CNN for 28x28 Biased Colored Digits."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

WEIGHTS = Path(__file__).parent / "weights" / "colored_digits.pt"
METRICS = WEIGHTS.with_suffix(".json")
LAYERS = ["conv1", "conv2", "conv3", "fc"]
TITLE = "Biased Colored Digits CNN"
DESCRIPTION = (
    "A three-layer CNN trained on scikit-learn's handwritten digits, upscaled to "
    "28x28 and coloured so that in training 95% of digits wear their class's colour. "
    "The network can solve the task by reading colour instead of shape; the gap "
    "between its accuracy on biased and on randomly coloured test digits measures "
    "how much it took that shortcut."
)


class ColoredDigitsCNN(nn.Module):
    """conv1 (3→8, 5x5) → conv2 (8→16) → conv3 (16→32) → fc (10 logits)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, kernel_size=5, padding=2)  # 28x28
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)  # 14x14
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)  # 7x7
        self.conv3 = nn.Conv2d(16, 32, kernel_size=3, padding=1)
        self.relu3 = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.conv3(x))
        return self.fc(self.flatten(x))
