"""How a model wants its input: atlas optimizes images in [0, 1] and hands the
model `(image - mean) / std`. Every common convention is a mean and a std."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from atlas.errors import AtlasError

# name -> (mean, std, description)
PRESETS: dict[str, tuple[tuple[float, ...], tuple[float, ...], str]] = {
    "none": ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "none: the model takes [0, 1]"),
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "imagenet mean/std"),
    # Lucid's InceptionV1 takes x * 255 - 117, i.e. the range [-117, 138].
    "inceptionv1": ((117 / 255,) * 3, (1 / 255,) * 3, "inceptionv1: x·255 − 117"),
}


class Normalize(nn.Module):
    """(image - mean) / std per channel, with mean and std as buffers."""

    mean: torch.Tensor  # buffers (register_buffer)
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float], description: str) -> None:
        super().__init__()
        self.register_buffer("mean",
                             torch.tensor(list(mean), dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, -1, 1, 1))
        self.description = description

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean) / self.std


def make_preprocess(
    preset: str, mean: Sequence[float] | None = None, std: Sequence[float] | None = None
) -> Normalize:
    """A named preset, or explicit `mean` and `std` (three numbers each)."""
    if mean is not None or std is not None:
        mean = list(mean) if mean is not None else [0.0, 0.0, 0.0]
        std = list(std) if std is not None else [1.0, 1.0, 1.0]
        if len(mean) != 3 or len(std) != 3 or any(s == 0 for s in std):
            raise AtlasError("mean and std need three numbers each (one per RGB channel), std "
                             "non-zero")
        return Normalize(mean, std, f"mean {mean}, std {std}")
    if preset not in PRESETS:
        raise AtlasError(f"unknown preprocess {preset!r}; presets: {', '.join(PRESETS)}, "
                         "or give mean and std")
    mean_p, std_p, description = PRESETS[preset]
    return Normalize(mean_p, std_p, description)
