"""Images optimized from real images, kept near them: feature accentuation
(Hamblin et al. 2024) starts each image at a dataset image and lets it move only
so far.

`AnchoredImage` is an image parameterization like `ImageParam`: its parameter is
a change to the real image, in the build's spatial basis (Fourier, so the change
is smooth, or pixels) and decorrelated colour, starting at zero. The change is
scaled down whenever its root-mean-square exceeds `radius` (in [0, 1] pixel
units), inside the forward pass, so no step can take an image further than that:
an accentuated image differs from its real image by at most `radius` RMS, on
every image, by construction. `closeness` is the term that also pulls it back
within that ball (the mean squared change, to subtract from an objective).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from atlas.optvis.color import ColorDecorrelation
from atlas.optvis.objectives import INPUT, Activations, Objective
from atlas.optvis.param import spatial_image


class AnchoredImage(nn.Module):
    """A batch of images in [0, 1] that start at `anchors` (N, 3, H, W) and stay
    within RMS distance `radius` of them."""

    anchors: torch.Tensor  # a buffer (register_buffer)

    def __init__(self, anchors: torch.Tensor, radius: float, seeds: Sequence[int],
                 param: str = "fourier", decorrelate: bool = True) -> None:
        super().__init__()
        if anchors.dim() != 4 or anchors.shape[1] != 3 or anchors.shape[2] != anchors.shape[3]:
            raise ValueError(f"anchors must be (N, 3, S, S), not {tuple(anchors.shape)}")
        if radius <= 0:
            raise ValueError(f"radius must be above 0, not {radius}")
        # MACO fixes its magnitude and has no zero image: its changes are Fourier's
        basis = "pixel" if param == "pixel" else "fourier"
        self.spatial = spatial_image(basis, anchors.shape[-1], seeds, 0.0, None)
        self.color = ColorDecorrelation() if decorrelate else nn.Identity()
        self.radius = float(radius)
        self.register_buffer("anchors", anchors.detach().float().clamp(0.0, 1.0))

    def change(self) -> torch.Tensor:
        """The change to each real image, scaled to RMS at most `radius`."""
        change = self.color(self.spatial())
        rms = (change.pow(2).flatten(1).mean(1) + 1e-12).sqrt()  # a gradient at no change too
        scale = (self.radius / rms).clamp(max=1.0)
        return change * scale.view(-1, 1, 1, 1)

    def forward(self) -> torch.Tensor:
        return (self.anchors + self.change()).clamp(0.0, 1.0)


def distance(images: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """(N,) root-mean-square distance of each image from its anchor, in [0, 1] units."""
    return (images.float() - anchors.float()).pow(2).flatten(1).mean(1).sqrt()


def closeness(anchors: torch.Tensor) -> Objective:
    """Each image's mean squared change from its real image (to subtract: a pull back).
    It scores a whole batch of anchored images: not for packing with other images."""
    def fn(acts: Activations) -> torch.Tensor:
        return (acts[INPUT] - anchors.to(acts[INPUT].device)).pow(2).flatten(1).mean(1)

    return Objective(fn, "closeness", frozenset())


def accent(target: Objective, anchors: torch.Tensor, weight: float,
           scale: torch.Tensor | None = None) -> Objective:
    """`target` (each image's unit, divided by `scale`, e.g. the unit's dataset
    maximum, so one weight suits every unit) minus `weight` times the closeness."""
    scaled = target if scale is None else _divided(target, scale)
    return scaled - weight * closeness(anchors)


def _divided(target: Objective, scale: torch.Tensor) -> Objective:
    def fn(acts: Activations) -> torch.Tensor:
        return target(acts) / scale.to(next(iter(acts.values())).device)

    return Objective(fn, f"{target.description} / scale", target.layers)
