"""A module's class outputs named by the dataset it was trained on.

A module in memory names none of its classes, so a labelled dataset's names ("cat",
"dog") could not meet the class output's ("0", "1") and the class pages fell back on
the model's predictions. Where the dataset names as many classes as the module's class
output has units, its label i is taken to be output i (as when the module was trained
on it), and the class pages read its labels.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from torch import nn

from atlas.datasets.in_memory import class_names_of
from atlas.models.registry import LoadedModel


def named_by_dataset(loaded: LoadedModel, dataset: Any, logits_layer: str | None) -> LoadedModel:
    """`loaded` with the dataset's class names where it has none of its own and the
    counts agree; else `loaded` as it is."""
    names = class_names_of(dataset)
    if loaded.class_names or not names or len(names) != _class_count(loaded.module,
                                                                     logits_layer):
        return loaded
    return dataclasses.replace(loaded, class_names=[str(name) for name in names])


def _class_count(module: nn.Module, logits_layer: str | None) -> int | None:
    """The units of the class output: `logits_layer`'s, else the last linear layer's
    (the one a build takes when none is named)."""
    modules = dict(module.named_modules())
    chosen = (modules.get(logits_layer) if logits_layer
              else next((m for m in reversed(modules.values()) if isinstance(m, nn.Linear)), None))
    return chosen.out_features if isinstance(chosen, nn.Linear) else None
