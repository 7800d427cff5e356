"""Colour in optimized images: the decorrelated colour space Lucid and Lucent
optimize in (ImageNet's colour correlation, square-rooted), and the mean colour."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

# Square root of the colour correlation of ImageNet, as used by Lucid/Lucent:
# optimizing in this decorrelated space gives natural colour statistics.
COLOR_CORRELATION_SVD_SQRT = np.asarray(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
COLOR_MEAN = (0.48, 0.46, 0.41)


class ColorDecorrelation(nn.Module):
    """Maps decorrelated colour coordinates to RGB (a fixed 3x3 linear map)."""

    matrix: torch.Tensor  # a buffer (register_buffer)

    def __init__(self) -> None:
        super().__init__()
        matrix = COLOR_CORRELATION_SVD_SQRT / np.max(
            np.linalg.norm(COLOR_CORRELATION_SVD_SQRT, axis=0)
        )
        self.register_buffer("matrix", torch.tensor(matrix))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        # out[:, i] = sum_j matrix[i, j] * image[:, j]: one batched product over
        # the flattened pixels (the einsum's numbers to rounding, ten times faster on CPU)
        return torch.matmul(self.matrix, image.flatten(2)).view_as(image)
