"""Scoped forward hooks that capture named layers and stop the forward early.

Hooks live only inside `capture(...)`: they are removed in `finally`, so no
call leaves hooks behind. Once every requested layer has produced its output,
the forward pass is cut short: deeper layers are never computed. A name made
by `models.floors.pre_name` captures that layer's pre-activation instead, one made
by `models.concept_reads.concept_layer` its concepts (the projections of its values).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from atlas.models.concept_reads import concept_base, lens_of
from atlas.models.floors import PreRecorder, split_pre


class _StopForward(Exception):
    """Raised from a hook once all requested layers are captured."""


class LayerCapture:
    """Holds the activations of one forward pass; call it to run the model."""

    def __init__(self, model: nn.Module, layers: list[str]) -> None:
        self.model, self.layers = model, layers
        self.activations: dict[str, torch.Tensor] = {}

    def keep(self, name: str, tensor: torch.Tensor) -> None:
        self.activations[name] = tensor
        if len(self.activations) == len(self.layers):
            raise _StopForward

    def deliver(self, source: str):
        """Keeps the tensor read under `source` as each requested name that reads it."""
        def record(tensor: torch.Tensor) -> None:
            for name, lens in self.readers[source]:
                self.keep(name, tensor if lens is None else lens(tensor))
        return record

    def install(self) -> list[RemovableHandle]:
        # What each requested name reads: its own tensor, or (a concept layer) the
        # values of its layer, projected.
        self.readers: dict[str, list] = {}
        for name in self.layers:
            lens = lens_of(self.model, name) if concept_base(name) is not None else None
            self.readers.setdefault(name if lens is None else lens.read, []).append(
                (name, lens))
        layers = {source: split_pre(source) for source in self.readers}
        modules = find_modules(self.model, [layer for layer, _ in layers.values()])
        handles = []
        for source, (layer, pre) in layers.items():
            deliver = self.deliver(source)
            if pre:
                handles.extend(PreRecorder(self.model, layer, deliver).install())
            else:
                handles.append(modules[layer].register_forward_hook(
                    lambda module, inputs, output, layer=layer, deliver=deliver:
                    deliver(tensor_output(layer, output))))
        return handles

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
def capture(model: nn.Module, layers: Iterable[str]) -> Iterator[LayerCapture]:
    """`with capture(model, ["conv2"]) as run: acts = run(x)`; hooks removed on exit.
    `pre_name("conv2")` among the layers captures its pre-activation (`models.floors`);
    a layer without one raises `NoPreActivation` on the forward pass."""
    recorder = LayerCapture(model, list(dict.fromkeys(layers)))
    handles = recorder.install()
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
