"""Random transformations applied to the images before each forward pass.

Robustness to small shifts, scalings and rotations keeps the optimizer from
finding pixel-exact tricks. Every image draws its own transformations from
its own seed (see `Draws`), so an image's result does not depend on which
other images share its batch, and different seeds explore differently.
Transforms take their device and dtype from their input.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

# Lucid's standard transforms were tuned for 128x128 images; sizes here are
# scaled from that reference so a 28x28 model gets proportionate jitter.
REFERENCE_SIZE = 128
SLOTS = 8  # random numbers each image may use per step (Jitter takes 2, scale and rotate 1)


class StepDraws:
    """One step's uniform random numbers, a column of them per image; each
    random transform takes the next column."""

    def __init__(self, values: torch.Tensor) -> None:
        self.values, self.used = values, 0  # values: (N, SLOTS) in [0, 1)

    def uniform(self) -> torch.Tensor:
        if self.used >= self.values.shape[1]:
            raise RuntimeError(f"the transforms draw more than {SLOTS} random numbers a step")
        column = self.values[:, self.used]
        self.used += 1
        return column

    def integers(self, high: int) -> torch.Tensor:
        """(N,) integers in [0, high)."""
        return (self.uniform() * high).long().clamp(max=high - 1)

    def choice(self, options: Sequence[float]) -> torch.Tensor:
        """(N,) values picked from `options`."""
        return torch.tensor(list(options), dtype=torch.float64)[self.integers(len(options))]


class Draws:
    """All random numbers of a run, drawn up front: one generator per image."""

    def __init__(self, seeds: Sequence[int], steps: int) -> None:
        tables = [torch.rand(steps, SLOTS, generator=torch.Generator().manual_seed(int(seed)))
                  for seed in seeds]
        self.table = torch.stack(tables, dim=1) if tables else torch.zeros(steps, 0, SLOTS)

    def at(self, step: int, rows: torch.Tensor | None = None) -> StepDraws:
        """Step `step`'s numbers, for the images at `rows` only when given."""
        values = self.table[step]
        return StepDraws(values if rows is None else values.index_select(0, rows))


class Pad(nn.Module):
    """Pads every side by `width` pixels of a constant grey."""

    def __init__(self, width: int, value: float = 0.5) -> None:
        super().__init__()
        self.width, self.value = width, value

    def forward(self, image: torch.Tensor, draws: StepDraws) -> torch.Tensor:
        if self.width == 0:
            return image
        return F.pad(image, [self.width] * 4, mode="constant", value=self.value)

    def extra_repr(self) -> str:
        return f"pad {self.width}"


class _Crops(torch.autograd.Function):
    """Each image's own window, `height` x `width` from (top, left): slices
    forward, and backward each image's gradient put back in its window (a crop
    never takes a pixel twice, so nothing adds up). Indexing with per-image
    index tensors gives the same numbers, but its backward scatters pixel by
    pixel: several times slower on CPU. The crops come out in channels-last
    memory, as that indexing returned them."""

    @staticmethod
    def forward(ctx, image: torch.Tensor, corners: list, height: int,
                width: int) -> torch.Tensor:
        batch, channels = image.shape[:2]
        crops = torch.empty((batch, channels, height, width), dtype=image.dtype,
                            device=image.device, memory_format=torch.channels_last)
        for index, (top, left) in enumerate(corners):
            crops[index] = image[index, :, top:top + height, left:left + width]
        ctx.shape, ctx.corners = image.shape, corners
        return crops

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        whole = grad.new_zeros(ctx.shape)
        height, width = grad.shape[-2:]
        for index, (top, left) in enumerate(ctx.corners):
            whole[index, :, top:top + height, left:left + width] = grad[index]
        return whole, None, None, None


class Jitter(nn.Module):
    """Random crop removing `distance` pixels per axis: a shift of 0..distance."""

    def __init__(self, distance: int) -> None:
        super().__init__()
        self.distance = distance

    def forward(self, image: torch.Tensor, draws: StepDraws) -> torch.Tensor:
        if self.distance < 1:
            return image
        height, width = image.shape[-2:]
        dy = draws.integers(self.distance + 1).tolist()
        dx = draws.integers(self.distance + 1).tolist()
        return _Crops.apply(image, list(zip(dy, dx)), height - self.distance,
                            width - self.distance)

    def extra_repr(self) -> str:
        return f"jitter {self.distance}"


def _affine(image: torch.Tensor, matrix: torch.Tensor, fill: float) -> torch.Tensor:
    """Resamples each image by its own 2x2 `matrix` about the centre, size kept."""
    theta = torch.zeros(image.shape[0], 2, 3, dtype=image.dtype, device=image.device)
    theta[:, :, :2] = matrix.to(image.dtype)
    grid = F.affine_grid(theta, list(image.shape), align_corners=False)
    # grid_sample fills with zeros; shift so the fill is `fill` instead.
    return F.grid_sample(image - fill, grid, mode="bilinear", align_corners=False) + fill


class RandomScale(nn.Module):
    """Zoom about the centre by a factor chosen from `scales` (size kept)."""

    def __init__(self, scales: Sequence[float], fill: float = 0.5) -> None:
        super().__init__()
        self.scales, self.fill = list(scales), fill

    def forward(self, image: torch.Tensor, draws: StepDraws) -> torch.Tensor:
        scale = draws.choice(self.scales).to(image.device)
        if bool((scale == 1).all()):
            return image
        eye = torch.eye(2, dtype=torch.float64, device=image.device)
        return _affine(image, eye / scale[:, None, None], self.fill)

    def extra_repr(self) -> str:
        return f"scale {min(self.scales):g}–{max(self.scales):g}"


class RandomRotate(nn.Module):
    """Rotation about the centre by an angle in degrees chosen from `angles`."""

    def __init__(self, angles: Sequence[float], fill: float = 0.5) -> None:
        super().__init__()
        self.angles, self.fill = list(angles), fill

    def forward(self, image: torch.Tensor, draws: StepDraws) -> torch.Tensor:
        radians = torch.deg2rad(draws.choice(self.angles)).to(image.device)
        if bool((radians == 0).all()):
            return image
        cos, sin = torch.cos(radians), torch.sin(radians)
        matrix = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
        return _affine(image, matrix, self.fill)

    def extra_repr(self) -> str:
        return f"rotate ±{max(abs(a) for a in self.angles):g}°"


class FitSize(nn.Module):
    """Centre-crops or grey-pads to exactly `size`: the model's input size."""

    def __init__(self, size: int, value: float = 0.5) -> None:
        super().__init__()
        self.size, self.value = size, value

    def forward(self, image: torch.Tensor, draws: StepDraws) -> torch.Tensor:
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
    """Applies transforms in order; random ones each take one column of draws."""

    def __init__(self, transforms: Sequence[nn.Module]) -> None:
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    def forward(self, image: torch.Tensor, draws: StepDraws) -> torch.Tensor:
        for transform in self.transforms:
            image = transform(image, draws)
        return image

    def describe(self) -> str:
        return ", ".join(t.extra_repr() for t in self.transforms) or "none"


# Lucid's standard amounts: jitter in pixels at REFERENCE_SIZE (after a pad half as wide
# again, and a second jitter of half), the largest relative scaling, the largest rotation.
JITTER, SCALE, ROTATE = 8, 0.1, 10


def standard_transforms(image_size: int, jitter: int = JITTER, scale: float = SCALE,
                        rotate: int = ROTATE) -> Compose:
    """Lucid's standard robustness transforms, scaled to `image_size`, ending at
    exactly `image_size` so models with a fixed input (a linear head) still run.
    An amount of 0 leaves its transforms out."""
    ratio = image_size / REFERENCE_SIZE * jitter / JITTER
    steps = [] if jitter <= 0 else [Pad(max(1, round(12 * ratio))),
                                     Jitter(max(1, round(8 * ratio)))]
    if scale > 0:  # 11 scales from 1 - scale to 1 + scale
        steps.append(RandomScale([1 + (i - 5) / (5 / scale) for i in range(11)]))
    if rotate > 0:  # every whole degree, and 0 a quarter of the time more
        steps.append(RandomRotate(list(range(-rotate, rotate + 1)) + (rotate // 2) * [0]))
    if jitter > 0:
        steps.append(Jitter(max(1, round(4 * ratio))))
    return Compose(steps + [FitSize(image_size)])


def no_transforms(image_size: int) -> Compose:
    return Compose([FitSize(image_size)])
