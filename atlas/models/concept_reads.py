"""A layer's concepts read as a layer of their own, so that every view a channel has
works on a concept unchanged.

A concept's value at a position is the projection of the layer's values there on the
concept's direction (unit length): `d_k · a`. That is lucid's direction objective, and
the one quantity every view of a concept reads: the optimized images maximize (and
minimize) it, the dataset pass ranks the examples by it, the labels and faithfulness
measure it. Why the projection and not the dictionary's coefficient: it is linear, so
it has a gradient everywhere from a random start and a negative side; an NMF
coefficient is a solve and a TopK coefficient is zero for most concepts at most
inputs, flat for an optimizer. Where the layer's values are the concept and little
else, the two agree.

A capture asks for a layer's concepts by name, `concept_layer("conv3")`, once the
dictionary's directions are attached to the model (`attach`); the directions travel
with the model (to the workers of a cluster, in copies) as an attribute, not a module,
so the model's forward and its module names stay as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

CONCEPTS = "#concepts"  # a capture name's suffix (no module name has '#')
_ATTRIBUTE = "_atlas_concepts"


def concept_layer(layer: str) -> str:
    """The name the concepts of `layer` are read under, as a layer."""
    return layer + CONCEPTS


def concept_base(name: str) -> str | None:
    """The layer whose concepts `name` reads, None where `name` is not a concept layer."""
    return name[: -len(CONCEPTS)] if name.endswith(CONCEPTS) else None


@dataclass(frozen=True)
class Lens:
    """Projects a layer's values (N, C, ...) on `directions` (K, C), each of unit length."""

    read: str  # the capture name of the values the dictionary was fitted on
    directions: torch.Tensor

    def __call__(self, values: torch.Tensor) -> torch.Tensor:
        directions = self.directions.to(values.device, values.dtype)
        if values.dim() == 4:
            return torch.einsum("nchw,kc->nkhw", values, directions)
        return values.reshape(len(values), -1) @ directions.T


def attach(model: nn.Module, layer: str, directions: torch.Tensor) -> None:
    """Makes `concept_layer(layer)` readable on `model`: the projections on `directions`
    (K, C) of the layer's output (normalized here to unit length)."""
    directions = directions.detach().float().cpu()
    unit = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
    model.__dict__.setdefault(_ATTRIBUTE, {})[layer] = Lens(layer, unit)


def lens_of(model: nn.Module, name: str) -> Lens:
    """The lens of the concept layer `name`; a KeyError where none is attached."""
    base = concept_base(name)
    lenses = model.__dict__.get(_ATTRIBUTE, {})
    if base is None or base not in lenses:
        raise KeyError(f"no concepts are attached for {name!r}")
    return lenses[base]
