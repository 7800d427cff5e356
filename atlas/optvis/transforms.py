"""Random transformations applied to the image before each forward pass.

Robustness to small shifts, scalings and rotations keeps the optimizer from
finding pixel-exact tricks. Every transform takes its device and dtype from
its input and draws its randomness from the `torch.Generator` passed in, so a
run is reproducible from one seed. One draw is shared by the whole batch.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

# Lucid's standard transforms were tuned for 128x128 images; sizes here are
# scaled from that reference so a 28x28 model gets proportionate jitter.
REFERENCE_SIZE = 128


def _choice(options: Sequence, generator: torch.Generator):
    return options[int(torch.randint(len(options), (1,), generator=generator))]


class Pad(nn.Module):
    """Pads every side by `width` pixels of a constant grey."""

    def __init__(self, width: int, value: float = 0.5) -> None:
        super().__init__()
        self.width, self.value = width, value

    def forward(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.width == 0:
            return image
        return F.pad(image, [self.width] * 4, mode="constant", value=self.value)

    def extra_repr(self) -> str:
        return f"pad {self.width}"


class Jitter(nn.Module):
    """Random crop that removes up to `distance` pixels: a random shift."""

    def __init__(self, distance: int) -> None:
        super().__init__()
        self.distance = distance

    def forward(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.distance < 1:
            return image
        height, width = image.shape[-2:]
        dy = int(torch.randint(self.distance + 1, (1,), generator=generator))
        dx = int(torch.randint(self.distance + 1, (1,), generator=generator))
        return image[..., dy : height - self.distance + dy, dx : width - self.distance + dx]

    def extra_repr(self) -> str:
        return f"jitter {self.distance}"


class RandomScale(nn.Module):
    """Bilinear resize by a factor chosen from `scales`."""

    def __init__(self, scales: Sequence[float]) -> None:
        super().__init__()
        self.scales = list(scales)

    def forward(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        scale = _choice(self.scales, generator)
        height, width = image.shape[-2:]
        size = (max(1, math.ceil(scale * height)), max(1, math.ceil(scale * width)))
        if size == (height, width):
            return image
        return F.interpolate(image, size=size, mode="bilinear", align_corners=False)

    def extra_repr(self) -> str:
        return f"scale {min(self.scales):g}–{max(self.scales):g}"


class RandomRotate(nn.Module):
    """Rotation about the centre by an angle (degrees) chosen from `angles`."""

    def __init__(self, angles: Sequence[float], fill: float = 0.5) -> None:
        super().__init__()
        self.angles = list(angles)
        self.fill = fill

    def forward(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        angle = _choice(self.angles, generator)
        if angle == 0:
            return image
        radians = math.radians(angle)
        cos, sin = math.cos(radians), math.sin(radians)
        theta = torch.tensor(
            [[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=image.dtype, device=image.device
        ).expand(image.shape[0], 2, 3)
        grid = F.affine_grid(theta, list(image.shape), align_corners=False)
        # grid_sample fills with zeros; shift so the fill is `self.fill` instead.
        rotated = F.grid_sample(image - self.fill, grid, mode="bilinear", align_corners=False)
        return rotated + self.fill

    def extra_repr(self) -> str:
        return f"rotate ±{max(abs(a) for a in self.angles):g}°"


class FitSize(nn.Module):
    """Centre-crops or grey-pads to exactly `size`: the model's input size."""

    def __init__(self, size: int, value: float = 0.5) -> None:
        super().__init__()
        self.size, self.value = size, value

    def forward(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        height, width = image.shape[-2:]
        pad_h, pad_w = max(0, self.size - height), max(0, self.size - width)
        if pad_h or pad_w:
            image = F.pad(
                image,
                [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2],
                value=self.value,
            )
            height, width = image.shape[-2:]
        top, left = (height - self.size) // 2, (width - self.size) // 2
        return image[..., top : top + self.size, left : left + self.size]

    def extra_repr(self) -> str:
        return f"fit {self.size}"


class Compose(nn.Module):
    """Applies transforms in order, threading one generator through them."""

    def __init__(self, transforms: Sequence[nn.Module]) -> None:
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    def forward(self, image: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for transform in self.transforms:
            image = transform(image, generator)
        return image

    def describe(self) -> str:
        return ", ".join(t.extra_repr() for t in self.transforms) or "none"


def standard_transforms(image_size: int) -> Compose:
    """Lucid's standard robustness transforms, scaled to `image_size`, ending at
    exactly `image_size` so models with a fixed input (a linear head) still run."""
    ratio = image_size / REFERENCE_SIZE
    return Compose(
        [
            Pad(max(1, round(12 * ratio))),
            Jitter(max(1, round(8 * ratio))),
            RandomScale([1 + (i - 5) / 50.0 for i in range(11)]),
            RandomRotate(list(range(-10, 11)) + 5 * [0]),
            Jitter(max(1, round(4 * ratio))),
            FitSize(image_size),
        ]
    )


def no_transforms(image_size: int) -> Compose:
    return Compose([FitSize(image_size)])
