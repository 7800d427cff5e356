"""Which branch of a concatenating layer each channel comes from.

InceptionV1's mixed layers concatenate four branches along the channels:
1x1 convolutions, 3x3, 5x5 and a pool projection. In torch-lucent's model the
branch convolutions are named `<layer>_1x1_pre_relu_conv` and so on, so their
output counts give each branch's channel range.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

# (suffix of the branch's last convolution, label), in concatenation order
INCEPTION_BRANCHES = (
    ("_1x1_pre_relu_conv", "1x1"),
    ("_3x3_pre_relu_conv", "3x3"),
    ("_5x5_pre_relu_conv", "5x5"),
    ("_pool_reduce_pre_relu_conv", "pool projection"),
)


def inception_branches(model: nn.Module, layer: str) -> list[dict] | None:
    """[{"label", "start", "stop"}, …] for a mixed layer, or None for other layers."""
    modules = dict(model.named_modules())
    ranges, start = [], 0
    for suffix, label in INCEPTION_BRANCHES:
        conv = modules.get(layer + suffix)
        if not isinstance(conv, nn.Conv2d):
            return None
        ranges.append({"label": label, "start": start, "stop": start + conv.out_channels})
        start += conv.out_channels
    return ranges


def branch_of(branches: Sequence[Mapping[str, Any]] | None, unit: int) -> str | None:
    for branch in branches or []:
        if branch["start"] <= unit < branch["stop"]:
            return branch["label"]
    return None
