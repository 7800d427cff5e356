"""Layers whose output is clamped at a floor, and their pre-activation.

A unit after a ReLU (or ReLU6, or a Hardtanh from 0) cannot go below 0 and has
no gradient there: its negative view ends at a grey image and its minimum
examples are ties at 0. Such a layer's pre-activation, the tensor its final
clamp receives, still carries the signal (lucid's `*_pre_relu` layers).

A capture asks for it by name, `pre_name(layer)`. Where it comes from is found
on each capture's first forward pass, in this order:
- a clamp module inside the layer (its last call) whose output is the layer's
  output, the very tensor: torchvision's Conv2dNormActivation (MobileNetV2's
  expansions), ResNet's blocks (`relu(out + identity)`), or the clamp itself
  chosen as the layer; its input is the pre-activation, copied before an
  in-place clamp overwrites it;
- InceptionV1's mixed layers (a functional relu on each branch, then a
  concatenation): the four branch convolutions, concatenated in order;
- a layer that computes exactly a clamp of its input with functional code
  (torch-lucent's `ReluLayer`): its input.
A layer that is none of these has no pre-activation and stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from atlas.models.branches import INCEPTION_BRANCHES, inception_branches
from atlas.models.fast_relu import RedirectedReLU

PRE = "#pre"  # a capture name's suffix: the layer's pre-activation (no module name has '#')


def pre_name(layer: str) -> str:
    return layer + PRE


def split_pre(name: str) -> tuple[str, bool]:
    """(layer, whether `name` asks for its pre-activation)."""
    return (name[: -len(PRE)], True) if name.endswith(PRE) else (name, False)


class NoPreActivation(LookupError):
    """The layer's output is not a clamp of a tensor a hook can see."""


@dataclass(frozen=True)
class Floor:
    """Where a clamped layer's pre-activation comes from, and the value it floors at."""

    value: float
    source: str  # in words, for pages: "the input of ReLU6 features.13.conv.0.2"


def _floor_of(module: nn.Module) -> float | None:
    """The floor a clamp module puts on its output, None for other modules."""
    if isinstance(module, (nn.ReLU, nn.ReLU6, RedirectedReLU)):
        return 0.0
    if isinstance(module, nn.Hardtanh) and module.min_val >= 0:
        return float(module.min_val)
    return None


def _same_tensor(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (a.data_ptr() == b.data_ptr() and a.shape == b.shape and a.stride() == b.stride()
            and a.dtype == b.dtype)


def _is_clamp_of(output: torch.Tensor, given: torch.Tensor) -> bool:
    """Whether `output` is `given` clamped from 0 (a ReLU or a ReLU6) and not `given` itself."""
    if output.shape != given.shape or not bool((given < 0).any()):
        return False
    floored = given.clamp(min=0)
    return torch.equal(output, floored) or torch.equal(output, floored.clamp(max=6))


class PreRecorder:
    """Hooks that hand `deliver` the pre-activation of `layer` once per forward pass,
    when the layer's output (or, for branches, its last branch) has been computed.
    `floor` says what was found, after the first forward."""

    def __init__(self, model: nn.Module, layer: str,
                 deliver: Callable[[torch.Tensor], None]) -> None:
        self.model, self.layer, self.deliver = model, layer, deliver
        # by name, not get_submodule: a module name may hold a '.' (one put in _modules)
        self.modules = modules = dict(model.named_modules())
        self.module = modules[layer]
        self.floor: Floor | None = None
        self.branches: list[str] | None = None
        if inception_branches(model, layer) is not None:
            self.branches = [layer + suffix for suffix, _ in INCEPTION_BRANCHES]
        prefix = f"{layer}." if layer else ""
        self.clamps = {name: module for name, module in modules.items()
                       if (name == layer or name.startswith(prefix))
                       and _floor_of(module) is not None}
        self._inputs: dict[str, torch.Tensor] = {}
        self._outputs: dict[str, torch.Tensor] = {}
        self._parts: dict[str, torch.Tensor] = {}
        self._layer_input: torch.Tensor | None = None
        self._functional = False  # found: the layer clamps its own input

    def install(self) -> list[RemovableHandle]:
        if self.branches is not None:
            self.floor = Floor(0.0, "its four branch convolutions, before their ReLUs")
            return [self.modules[name].register_forward_hook(self._branch(name))
                    for name in self.branches]
        handles = []
        for name, clamp in self.clamps.items():
            handles.append(clamp.register_forward_pre_hook(self._clamp_input(name)))
            handles.append(clamp.register_forward_hook(self._clamp_output(name)))
        if not self.clamps:  # only then can the layer be a functional clamp
            handles.append(self.module.register_forward_pre_hook(self._before_layer))
        handles.append(self.module.register_forward_hook(self._after_layer))
        return handles

    def _branch(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            self._parts[name] = output
            assert self.branches is not None  # installed only for a layer with branches
            if len(self._parts) == len(self.branches):
                parts, self._parts = self._parts, {}
                self.deliver(torch.cat([parts[branch] for branch in self.branches], dim=1))
        return hook

    def _clamp_input(self, name: str):
        def hook(module: nn.Module, inputs: tuple) -> None:
            given = inputs[0]
            # an in-place clamp overwrites its input: keep a copy (gradients flow through it)
            self._inputs[name] = given.clone() if getattr(module, "inplace", False) else given
        return hook

    def _clamp_output(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            self._outputs[name] = output
        return hook

    def _before_layer(self, module: nn.Module, inputs: tuple) -> None:
        given = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
        self._layer_input = given.clone() if given is not None else None

    def _after_layer(self, module: nn.Module, inputs: tuple, output: object) -> None:
        if not isinstance(output, torch.Tensor):
            raise NoPreActivation(f"layer {self.layer!r} does not output one tensor")
        found = self._found(output)
        self._inputs, self._outputs, self._layer_input = {}, {}, None
        self.deliver(found)

    def _found(self, output: torch.Tensor) -> torch.Tensor:
        for name, clamp_output in self._outputs.items():
            if _same_tensor(clamp_output, output):
                module = self.clamps[name]
                if self.floor is None:
                    # clamps holds only modules with a floor
                    self.floor = Floor(cast(float, _floor_of(module)),
                                       f"the input of {type(module).__name__} {name}")
                return self._inputs[name]
        given = self._layer_input
        if given is not None and (self._functional or (self.floor is None
                                                       and _is_clamp_of(output, given))):
            if self.floor is None:
                self._functional = True
                self.floor = Floor(0.0, f"the input of {self.layer}, which clamps it at 0")
            return given
        raise NoPreActivation(f"layer {self.layer!r} is not a clamp of a tensor atlas can see")


def find_floor(model: nn.Module, layer: str, example: torch.Tensor) -> Floor | None:
    """The floor of `layer` and where its pre-activation comes from, found by one
    forward pass of `example` (the model's input, a batch); None where there is none."""
    recorder = PreRecorder(model, layer, _stop)
    handles = recorder.install()
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example)
    except _Found:
        return recorder.floor
    except NoPreActivation:
        return None
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    return None  # the forward never reached the layer


class _Found(Exception):
    pass


def _stop(tensor: torch.Tensor) -> None:
    raise _Found
