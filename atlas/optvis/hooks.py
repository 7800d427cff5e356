"""Scoped forward hooks that capture named layers and stop the forward early.

Hooks live only inside `capture(...)`: they are removed in `finally`, so no
call leaves hooks behind. Once every requested layer has produced its output,
the forward pass is cut short: deeper layers are never computed.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator

import torch
from torch import nn


class _StopForward(Exception):
    """Raised from a hook once all requested layers are captured."""


class LayerCapture:
    """Holds the activations of one forward pass; call it to run the model."""

    def __init__(self, model: nn.Module, layers: list[str],
                 copied: frozenset[str] = frozenset()) -> None:
        self.model, self.layers, self.copied = model, layers, copied
        self.activations: dict[str, torch.Tensor] = {}

    def hook(self, name: str):
        def record(module: nn.Module, inputs: tuple, output: object) -> None:
            tensor = tensor_output(name, output)
            # a copy where an in-place module after this one would overwrite it
            self.activations[name] = tensor.clone() if name in self.copied else tensor
            if len(self.activations) == len(self.layers):
                raise _StopForward

        return record

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """Runs the model on `image` as far as the deepest requested layer."""
        self.activations = {}
        try:
            self.model(image)
        except _StopForward:
            pass
        missing = [name for name in self.layers if name not in self.activations]
        if missing:
            raise RuntimeError(f"the forward pass never reached layer(s) {missing}")
        return self.activations


def tensor_output(name: str, output: object) -> torch.Tensor:
    """A hooked module's output as one tensor; a tuple works if it holds exactly one."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        tensors = [item for item in output if isinstance(item, torch.Tensor)]
        if len(tensors) == 1:
            return tensors[0]
    raise TypeError(
        f"layer {name!r} outputs {type(output).__name__}, not a tensor; "
        "choose one of its submodules instead"
    )


def find_modules(model: nn.Module, layers: Iterable[str]) -> dict[str, nn.Module]:
    modules = dict(model.named_modules())
    unknown = [name for name in layers if name not in modules]
    if unknown:
        raise KeyError(unknown[0])
    return {name: modules[name] for name in layers}


@contextmanager
def capture(model: nn.Module, layers: Iterable[str],
            copied: Iterable[str] = ()) -> Iterator[LayerCapture]:
    """`with capture(model, ["conv2"]) as run: acts = run(x)`; hooks removed on exit.
    The outputs of `copied` layers are kept as copies (an in-place clamp after them,
    `models.floors`, would overwrite them while the forward runs on)."""
    layers = list(dict.fromkeys(layers))
    recorder = LayerCapture(model, layers, frozenset(copied))
    handles = [
        module.register_forward_hook(recorder.hook(name))
        for name, module in find_modules(model, layers).items()
    ]
    try:
        yield recorder
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no weight gradients for the duration; every module's own
    mode and every parameter's flag are restored afterwards."""
    modes = [(module, module.training) for module in model.modules()]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    model.eval()
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield model
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)
        for module, mode in modes:
            module.training = mode
