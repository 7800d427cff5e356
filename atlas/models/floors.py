"""Layers whose output is clamped at a floor, and their pre-activation.

A unit after a ReLU (or ReLU6, or a Hardtanh from 0) cannot go below 0 and has
no gradient there: its negative view ends at a grey image and its minimum
examples are ties at 0. Such a layer's pre-activation, the tensor its final
clamp receives, still carries the signal (lucid's `*_pre_relu` layers).

This module finds the final clamp where it is a module: the layer itself, or
the last child of a `nn.Sequential` layer (torchvision's Conv2dNormActivation,
nested Sequentials), and captures the clamp's input with a forward pre-hook,
copied before an in-place clamp overwrites it. `pre_sources` names the modules
whose outputs make the pre-activation, that module before a Sequential's clamp
or, for InceptionV1's mixed layers (a functional relu on each branch, then a
concatenation), the four branch convolutions in concatenation order.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional

import torch
from torch import nn


@dataclass(frozen=True)
class Floor:
    """A layer's final clamp: the module (by its full name) and the value it floors at."""

    clamp: str  # the clamp module's name in the model
    value: float


def _floor_of(module: nn.Module) -> Optional[float]:
    """The floor a clamp module puts on its output, None for other modules."""
    if isinstance(module, (nn.ReLU, nn.ReLU6)):
        return 0.0
    if isinstance(module, nn.Hardtanh) and module.min_val >= 0:
        return float(module.min_val)
    return None


def final_clamp(model: nn.Module, layer: str) -> Optional[Floor]:
    """The clamp whose output is `layer`'s output, None where there is none
    (or where it is not a module: a functional relu inside a forward)."""
    name, module = layer, model.get_submodule(layer)
    while True:
        value = _floor_of(module)
        if value is not None:
            return Floor(name, value)
        if not isinstance(module, nn.Sequential) or len(module) == 0:
            return None
        last = len(module) - 1
        name, module = f"{name}.{last}" if name else str(last), module[last]


@contextmanager
def pre_activation(model: nn.Module, floor: Floor) -> Iterator[dict[str, torch.Tensor]]:
    """While open, each forward pass leaves the clamp's input under "pre" in the
    yielded dict: the tensor itself, or a copy where the clamp works in place (which
    then overwrites the tensor); gradients flow through both. The model computes
    exactly what it did."""
    clamp = model.get_submodule(floor.clamp)
    found: dict[str, torch.Tensor] = {}

    def record(module: nn.Module, inputs: tuple) -> None:
        tensor = inputs[0]
        found["pre"] = tensor.clone() if getattr(module, "inplace", False) else tensor

    handle = clamp.register_forward_pre_hook(record)
    try:
        yield found
    finally:
        handle.remove()


def pre_layer(model: nn.Module, floor: Floor) -> Optional[str]:
    """The module whose output the clamp receives, where there is one: the module
    before the clamp in its Sequential (a Conv2dNormActivation's batch norm). Its
    output is the pre-activation, a layer like any other; an in-place clamp then
    overwrites it, so a capture that runs on past it must copy it. None where the
    clamp is first in its Sequential or not in one (use `pre_activation`)."""
    parent_name, _, last = floor.clamp.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    if not isinstance(parent, nn.Sequential) or not last.isdigit() or int(last) == 0:
        return None
    before = str(int(last) - 1)
    return f"{parent_name}.{before}" if parent_name else before


@dataclass(frozen=True)
class PreActivation:
    """Where a clamped layer's pre-activation comes from: the outputs of `modules`,
    concatenated along the channels, before a clamp at `floor`; `copy`: an in-place
    clamp overwrites them, so a capture that runs on must copy them."""

    modules: tuple[str, ...]
    floor: float
    copy: bool


def pre_sources(model: nn.Module, layer: str) -> Optional[PreActivation]:
    """The pre-activation of `layer` as modules' outputs, None where the layer has no
    clamp this can see (it behaves as it always did)."""
    from atlas.models.branches import INCEPTION_BRANCHES, inception_branches

    floor = final_clamp(model, layer)
    if floor is not None:
        before = pre_layer(model, floor)
        if before is None:
            return None
        clamp = model.get_submodule(floor.clamp)
        return PreActivation((before,), floor.value, bool(getattr(clamp, "inplace", False)))
    if inception_branches(model, layer) is not None:
        return PreActivation(tuple(layer + suffix for suffix, _ in INCEPTION_BRANCHES), 0.0,
                             False)
    return None


def pre_tensor(activations: dict[str, torch.Tensor], source: PreActivation) -> torch.Tensor:
    """The pre-activation from a capture of `source.modules` (copied where `source.copy`)."""
    return torch.cat([activations[name] for name in source.modules], dim=1)
