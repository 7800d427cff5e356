"""Shared pieces for the engine tests: one seed, one tiny hand-built CPU model.

Every random draw in the engine tests starts from `SEED` (through `generator`,
`image_seeds` or `step_draws`), so a failure reproduces exactly. The tiny model has
weights set by hand, so activations can be checked against numbers worked
out on paper.
"""

from __future__ import annotations

from collections import OrderedDict

from typing import Sequence

import torch
from torch import nn

from atlas.optvis.transforms import Draws, StepDraws

SEED = 0
IMAGE_SIZE = 8  # the tiny model's input is (N, 3, 8, 8)


def generator(offset: int = 0) -> torch.Generator:
    """A CPU generator seeded from the one test seed."""
    return torch.Generator().manual_seed(SEED + offset)


def step_draws(seeds: Sequence[int], step: int = 0, steps: int = 1) -> StepDraws:
    """Step `step` of the per-image transform draws for `seeds`."""
    return Draws(list(seeds), steps).at(step)


def image_seeds(count: int, offset: int = 0) -> list[int]:
    """`count` distinct per-image initialization seeds."""
    return [SEED + offset + 101 * i for i in range(count)]


def conv_weights() -> torch.Tensor:
    """(2, 3, 3, 3) hand-set filters.

    channel 0: a 3x3 box filter on red minus one on blue (a "red, not blue" detector);
    channel 1: a vertical edge detector on green (right column minus left column).
    """
    weight = torch.zeros(2, 3, 3, 3)
    weight[0, 0] = 1.0 / 9.0
    weight[0, 2] = -1.0 / 9.0
    weight[1, 1, :, 0] = -1.0
    weight[1, 1, :, 2] = 1.0
    return weight


def tiny_model() -> nn.Sequential:
    """conv (3->2, 3x3, pad 1) -> relu -> pool (to 2x2) -> flatten -> fc (8->3).

    Layer names are the dotted names of `named_modules()`: conv, relu, pool,
    flatten, fc. Biases are zero except fc's; fc's weights are a fixed ramp.
    """
    model = nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(3, 2, kernel_size=3, padding=1),
            relu=nn.ReLU(),
            pool=nn.AdaptiveAvgPool2d(2),
            flatten=nn.Flatten(),
            fc=nn.Linear(8, 3),
        )
    )
    with torch.no_grad():
        model.conv.weight.copy_(conv_weights())
        model.conv.bias.zero_()
        ramp = torch.linspace(-1.0, 1.0, 24).view(3, 8)
        model.fc.weight.copy_(ramp)
        model.fc.bias.copy_(torch.tensor([0.1, 0.0, -0.1]))
    return model.eval()


def no_hooks_left(model: nn.Module) -> bool:
    """True when no module of `model` holds a forward (pre-)hook."""
    return all(
        not module._forward_hooks and not module._forward_pre_hooks
        for module in model.modules()
    )
