"""A layer's receptive field, measured from the model itself, and the crops it implies.

No table of layer types: the footprint of one output position is the set of
input pixels whose gradient is non-zero, so any architecture a forward pass
can run is measured the same way. Dataset examples use it to cut out the part
of an image that a conv unit actually saw.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from atlas.errors import AtlasError
from atlas.optvis.hooks import capture, frozen

CPU = torch.device("cpu")


@dataclass(frozen=True)
class ReceptiveField:
    size: tuple[int, int]  # (height, width) in input pixels of one output position's footprint
    stride: tuple[float, float]  # input pixels per output position step
    offset: tuple[float, float]  # input-pixel centre of output position (0, 0)
    image_size: int
    whole_image: bool  # an (N, C) layer: every example is the whole image

    def centre(self, position: tuple[int, int]) -> tuple[float, float]:
        """Input-pixel centre of output position (h, w): offset + p * stride."""
        return (self.offset[0] + position[0] * self.stride[0],
                self.offset[1] + position[1] * self.stride[1])


@dataclass(frozen=True)
class _Edges:
    """Bounding rows (or columns) of the footprint at each measured position."""

    positions: list[int]
    low: list[int]
    high: list[int]


def receptive_field(model: nn.Module, preprocess: nn.Module | None, layer: str,
                    image_size: int, device: torch.device = CPU,
                    samples: int = 8, seed: int = 0) -> ReceptiveField:
    """Measures `layer`'s receptive field at `image_size` from gradient footprints.

    The footprint of a position is the union over `samples` seeded random
    images: one image's ReLUs and max-pools zero part of the gradient, so a
    single input under-reports it. Borders truncate footprints (padding), so
    each edge is read where it is not clipped (see `_axis_field`)."""
    images = torch.rand(samples, 3, image_size, image_size,
                        generator=torch.Generator().manual_seed(seed))
    images = images.to(device=device, dtype=_float_dtype(model)).requires_grad_(True)
    with frozen(model), torch.enable_grad(), capture(model, [layer]) as run:
        inputs = preprocess.to(device)(images) if preprocess is not None else images
        output = run(inputs)[layer]
        if output.dim() == 2:
            return _whole_image(image_size)
        if output.dim() != 4:
            raise ValueError(f"layer {layer!r} outputs a {output.dim()}-D tensor; "
                             "a receptive field needs (N, C) or (N, C, H, W)")
        height, width = output.shape[2:]
        positions = list(dict.fromkeys(zip(_probe_positions(height), _probe_positions(width))))
        footprints = {}
        for h, w in positions:
            (gradient,) = torch.autograd.grad(output[:, :, h, w].sum(), images,
                                              retain_graph=True)
            footprint = gradient.detach().abs().sum(dim=(0, 1)) > 0  # (S, S)
            if footprint.any():
                footprints[(h, w)] = footprint.cpu()
    if not footprints:
        raise AtlasError(f"layer {layer!r} does not depend on its input for {samples} random "
                         "images (every gradient is zero); try more samples")
    rows = _edges({h: f.any(dim=1) for (h, _), f in footprints.items()})
    columns = _edges({w: f.any(dim=0) for (_, w), f in footprints.items()})
    size_h, stride_h, offset_h = _axis_field(rows, image_size, height)
    size_w, stride_w, offset_w = _axis_field(columns, image_size, width)
    return ReceptiveField((size_h, size_w), (stride_h, stride_w), (offset_h, offset_w),
                          image_size, whole_image=False)


def _whole_image(image_size: int) -> ReceptiveField:
    middle = (image_size - 1) / 2
    return ReceptiveField((image_size, image_size), (float(image_size), float(image_size)),
                          (middle, middle), image_size, whole_image=True)


def _float_dtype(model: nn.Module) -> torch.dtype:
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def _probe_positions(length: int) -> list[int]:
    """Both ends, one step in from each, and the middle two: edges far from a
    border are unclipped on that side, and neighbours give the stride."""
    middle = (length - 1) // 2
    wanted = [0, 1, middle, middle + 1, length - 2, length - 1]
    return [min(max(p, 0), length - 1) for p in wanted]


def _edges(lines: dict[int, torch.Tensor]) -> _Edges:
    """`lines` maps a position to a (S,) mask of touched rows (or columns)."""
    positions = sorted(lines)
    hits = [lines[p].nonzero().flatten() for p in positions]
    return _Edges(positions, [int(h[0]) for h in hits], [int(h[-1]) for h in hits])


def _axis_field(edges: _Edges, image_size: int, length: int) -> tuple[int, float, float]:
    """(size, stride, offset) along one axis.

    A clipped edge sits exactly on the border, so an edge strictly inside the
    image is a true one. The stride is the slope between the two farthest
    positions whose low (or high) edges are both true; without such a pair the
    field covers the image everywhere, and the average step S / length stands in.
    The low edge is read at the last position and the high edge at the first,
    where each is least likely clipped (and, if clipped, still a bound)."""
    true_low = [(p, e) for p, e in zip(edges.positions, edges.low) if e > 0]
    true_high = [(p, e) for p, e in zip(edges.positions, edges.high) if e < image_size - 1]
    pairs = [(side[-1], side[0]) for side in (true_low, true_high) if len(side) >= 2]
    if pairs:
        (p1, e1), (p0, e0) = max(pairs, key=lambda pair: pair[0][0] - pair[1][0])
        stride = (e1 - e0) / (p1 - p0)
    else:
        stride = image_size / length
    low = edges.low[-1] - edges.positions[-1] * stride
    high = edges.high[0] - edges.positions[0] * stride
    return round(high - low + 1), stride, (low + high) / 2


def crop_box(field: ReceptiveField,
             position: tuple[int, int] | None) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the input crop that output `position` saw.

    Centred on the position's centre, at most the image; a box that would
    overhang a border is shifted inside, never shrunk, so every crop of a
    layer has the same size."""
    size = field.image_size
    if position is None or field.whole_image:
        return 0, 0, size, size
    height, width = (min(extent, size) for extent in field.size)
    centre_h, centre_w = field.centre(position)
    top = _start(centre_h, height, size)
    left = _start(centre_w, width, size)
    return top, left, height, width


def _start(centre: float, extent: int, size: int) -> int:
    start = math.floor(centre - (extent - 1) / 2 + 0.5)  # round half up, not to even
    return min(max(start, 0), size - extent)


def crop(images: torch.Tensor, field: ReceptiveField,
         positions: Sequence[tuple[int, int] | None]) -> list[torch.Tensor]:
    """The crop of each image (n, 3, S, S) at its position: n tensors (3, h, w).

    Copies, so keeping a crop does not keep the whole batch alive."""
    crops = []
    for image, position in zip(images, positions, strict=True):
        top, left, height, width = crop_box(field, position)
        crops.append(image[:, top:top + height, left:left + width].clone())
    return crops
