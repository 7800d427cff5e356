"""What the concepts phase will fit: one `ConceptPlan` per layer of the `concepts`
setting, with the settings its key hashes (the model and its weights, the image size,
the preprocessing, the dataset's fingerprint, the dictionary and the sample)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from atlas.config import BuildConfig
from atlas.dictionaries import parse_spec
from atlas.errors import AtlasError
from atlas.store import settings_key

# Activation vectors sampled per image (positions drawn with the build's seed) and in
# all: enough for a dictionary of a few hundred concepts, few enough to fit on a CPU.
PER_IMAGE = 8
MOST_VECTORS = 20_000


def sampled_rows(images: int) -> int:
    """The dataset images the sampling pass reads (its first), of `images`: enough for
    MOST_VECTORS at PER_IMAGE each."""
    return min(images, -(-MOST_VECTORS // PER_IMAGE))


@dataclass(frozen=True)
class ConceptPlan:
    layer: str
    method: str  # "nmf" or "sae"
    count: int
    settings: dict[str, Any]

    @property
    def key(self) -> str:
        return settings_key(self.settings)


def concept_plans(config: BuildConfig, layers: Sequence[str],
                  data_settings: dict[str, Any] | None) -> list[ConceptPlan]:
    """The plans of `config.concepts`, each checked against the build's `layers`;
    `data_settings` say what the dataset pass's results depend on (None: no dataset)."""
    if not config.concepts:
        return []
    unknown = [layer for layer in config.concepts if layer not in layers]
    if unknown:
        raise AtlasError(f"concepts name layer {unknown[0]!r}, which this build does not "
                         f"visualize; its layers are: {', '.join(layers)}")
    if data_settings is None:
        raise AtlasError("concepts are fitted on the dataset's activations, and this build "
                         "has none; give it one with --dataset (a folder of images)")
    plans = []
    for layer in layers:
        if layer in config.concepts:
            method, count = parse_spec(config.concepts[layer])
            plans.append(ConceptPlan(layer, method, count, {
                **data_settings, "layer": layer, "view": "concepts", "method": method,
                "count": count, "per_image": PER_IMAGE, "most": MOST_VECTORS,
                "seed": config.seed}))
    return plans
