"""What the classes phase will measure: `ClassPlan`, made where the build has a class
output, a dataset and a chosen layer before the class output (the last such layer is
the one read), with the settings its key hashes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from atlas.pipeline.concepts.plan import ConceptPlan
from atlas.store import settings_key

MOST_IMAGES = 4096  # images read in all (the dataset's first, in its order)
PER_CLASS = 128  # images of one class read at most, where the dataset's labels serve
TOP = 8  # channels and concepts a class lists
# An NMF's codes at every position of every image are the measure's largest cost: 20
# sweeps instead of 100 reconstruct MobileNetV2's features.13.conv.0 with nmf:576 as well
# (R² 0.9969 against 0.9973 on 1,960 vectors) in a fifth of the time (3.6 s against 17.6 s).
CODE_SWEEPS = 20


@dataclass(frozen=True)
class ClassPlan:
    layer: str  # the channel layer whose units' contributions are measured
    logits: str  # the class output
    class_names: list[str]
    concepts: ConceptPlan | None  # the layer's dictionary, where it has one
    settings: dict[str, Any]

    @property
    def key(self) -> str:
        return settings_key(self.settings)


def class_plan(wanted: bool, logits: str | None, layers: list[str], class_count: int | None,
               class_names: list[str] | None, concepts: list[ConceptPlan],
               data_settings: dict[str, Any] | None) -> ClassPlan | None:
    """The plan, or None where the build has no class output, no dataset, no chosen layer
    before the class output, or does not want class pages. `layers`: the chosen channel
    layers in the order the forward pass reaches them."""
    if not wanted or logits is None or data_settings is None or not class_count:
        return None
    if logits in layers:
        layers = layers[:layers.index(logits)]
    if not layers:
        return None
    layer = layers[-1]
    dictionary = next((plan for plan in concepts if plan.layer == layer), None)
    names = [class_names[i] if class_names and i < len(class_names) else str(i)
             for i in range(class_count)]
    return ClassPlan(layer, logits, names, dictionary, {
        **data_settings, "view": "classes", "layer": layer, "logits": logits,
        "dictionary": dictionary.key if dictionary else None, "most": MOST_IMAGES,
        "per_class": PER_CLASS, "top": TOP, "class_names": names,
        **({"code_sweeps": CODE_SWEEPS} if dictionary and dictionary.method == "nmf" else {})})
