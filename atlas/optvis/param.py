"""Image parameterizations as `nn.Module`s: `.to(device)` moves everything.

An `ImageParam` owns the optimized tensor (pixels or a Fourier spectrum) and
maps it to a batch of RGB images in [0, 1]. Each image is initialized from its
own seed, so an image does not depend on which other images share its batch.
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from atlas.optvis import PARAMS

# Square root of the colour correlation of ImageNet, as used by Lucid/Lucent:
# optimizing in this decorrelated space gives natural colour statistics.
COLOR_CORRELATION_SVD_SQRT = np.asarray(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
COLOR_MEAN = (0.48, 0.46, 0.41)

# Lucid's constant: dividing the Fourier image keeps initial saturation low.
FOURIER_MAGIC = 4.0


def seeded_normal(shape: Sequence[int], seeds: Sequence[int], sd: float) -> torch.Tensor:
    """One standard-normal draw per image, each from its own generator."""
    draws = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(int(seed))
        draws.append(torch.randn(*shape, generator=generator) * sd)
    return torch.stack(draws)


def fourier_frequencies(height: int, width: int) -> np.ndarray:
    """Spatial frequency magnitude of each coefficient of an rfft2 of (height, width)."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fx * fx + fy * fy)


class PixelImage(nn.Module):
    """Raw pixels: (N, 3, H, W) values optimized directly."""

    def __init__(self, size: int, seeds: Sequence[int], sd: float = 0.01) -> None:
        super().__init__()
        self.pixels = nn.Parameter(seeded_normal((3, size, size), seeds, sd))

    def forward(self) -> torch.Tensor:
        return self.pixels


class FourierImage(nn.Module):
    """Image as an rfft2 spectrum scaled by 1/frequency (a prior for natural images).

    The spectrum is stored as real pairs (..., 2) so it is an ordinary float
    parameter; the scale is a buffer, so `.to(device)` carries it along.
    """

    def __init__(
        self, size: int, seeds: Sequence[int], sd: float = 0.01, decay_power: float = 1.0
    ) -> None:
        super().__init__()
        self.size = size
        freqs = fourier_frequencies(size, size)
        self.spectrum = nn.Parameter(seeded_normal((3, *freqs.shape, 2), seeds, sd))
        scale = 1.0 / np.maximum(freqs, 1.0 / size) ** decay_power
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32)[None, None, ..., None])

    def forward(self) -> torch.Tensor:
        spectrum = torch.view_as_complex((self.scale * self.spectrum).contiguous())
        image = torch.fft.irfftn(spectrum, s=(self.size, self.size), norm="ortho")
        return image / FOURIER_MAGIC


class ColorDecorrelation(nn.Module):
    """Maps decorrelated colour coordinates to RGB (a fixed 3x3 linear map)."""

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


def spatial_image(param: str, size: int, seeds: Sequence[int], sd: float,
                  magnitude: Optional[torch.Tensor]) -> nn.Module:
    if param == "pixel":
        return PixelImage(size, seeds, sd)
    if param == "fourier":
        return FourierImage(size, seeds, sd)
    if param == "maco":
        from atlas.optvis.maco import MacoImage, power_law_magnitude

        return MacoImage(size, seeds, magnitude if magnitude is not None
                         else power_law_magnitude(size))
    raise ValueError(f"param must be one of {', '.join(PARAMS)}, not {param!r}")


class ImageParam(nn.Module):
    """A batch of optimizable RGB images in [0, 1].

    param: "fourier" (spectrum scaled by 1/frequency), "pixel" (raw pixels) or
    "maco" (fixed `magnitude`, optimized phase; see maco.py).
    decorrelate: optimize in decorrelated colour space.
    valid: "sigmoid" squashes into (0, 1); "clamp" adds the mean colour and clips.
    """

    def __init__(
        self,
        size: int,
        seeds: Sequence[int],
        param: str = "fourier",
        decorrelate: bool = True,
        valid: str = "sigmoid",
        sd: float = 0.01,
        magnitude: Optional[torch.Tensor] = None,
    ) -> None:
        super().__init__()
        if valid not in ("sigmoid", "clamp"):
            raise ValueError(f"valid must be 'sigmoid' or 'clamp', not {valid!r}")
        self.spatial = spatial_image(param, size, seeds, sd, magnitude)
        self.color = ColorDecorrelation() if decorrelate else nn.Identity()
        self.valid = valid
        self.register_buffer("color_mean", torch.tensor(COLOR_MEAN).view(1, 3, 1, 1))

    def forward(self) -> torch.Tensor:
        image = self.color(self.spatial())
        if self.valid == "sigmoid":
            return torch.sigmoid(image)
        return torch.clamp(image + self.color_mean, 0.0, 1.0)


def describe_param(param: str, decorrelate: bool, valid: str) -> str:
    parts = ["fft" if param == "fourier" else param]
    if decorrelate:
        parts.append("decorrelate")
    return "+".join(parts) + f", {valid}"
