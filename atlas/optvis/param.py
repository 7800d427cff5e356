"""Image parameterizations as `nn.Module`s: `.to(device)` moves everything.

An `ImageParam` owns the optimized tensor (pixels or a Fourier spectrum) and
maps it to a batch of RGB images in [0, 1]. Each image is initialized from its
own seed, so an image does not depend on which other images share its batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from atlas.optvis import PARAMS
from atlas.optvis.color import COLOR_MEAN, ColorDecorrelation
from atlas.optvis.maco import MacoImage, power_law_magnitude
from atlas.optvis.spatial import FourierImage, PixelImage


def spatial_image(param: str, size: int, seeds: Sequence[int], sd: float,
                  magnitude: torch.Tensor | None) -> nn.Module:
    if param == "pixel":
        return PixelImage(size, seeds, sd)
    if param == "fourier":
        return FourierImage(size, seeds, sd)
    if param == "maco":
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
        magnitude: torch.Tensor | None = None,
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
