"""What the concepts phase will fit: one `ConceptPlan` per layer of the `concepts`
setting, with the settings its key hashes (the model and its weights, the image size,
the preprocessing, the dataset's fingerprint, the dictionary and the sample)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from atlas.config import BuildConfig
from atlas.dictionaries import parse_spec
from atlas.errors import AtlasError
from atlas.models.layers import LayerInfo
from atlas.sizes import format_size
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


def fit_bytes(count: int, channels: int) -> int:
    """The most a fit of `count` concepts on `channels` takes: HALS's float64 data,
    codes and their cross products, its grams and directions (the SAE holds less)."""
    return 8 * (MOST_VECTORS * channels + 2 * MOST_VECTORS * count + 2 * count * count
                + 2 * count * channels)


def most_concepts(channels: int, room: int) -> int:
    """The largest count whose `fit_bytes` is within `room` (the quadratic's root)."""
    a, b, c = 16, 16 * (MOST_VECTORS + channels), 8 * MOST_VECTORS * channels - room
    return max(0, int((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a))) if c < 0 else 0


def check_count(layer: LayerInfo, spec: str, count: int, room: int | None) -> None:
    """A dictionary's count within the vectors it is fitted on and the memory `room`."""
    if count > MOST_VECTORS:
        raise AtlasError(f"concepts of layer {layer.name!r}: {spec} asks for more concepts "
                         f"than the {MOST_VECTORS} activation vectors a dictionary is fitted "
                         f"on; use at most {MOST_VECTORS}")
    needed = fit_bytes(count, layer.channels)
    if room is not None and needed > room:
        raise AtlasError(f"concepts of layer {layer.name!r}: fitting {spec} takes about "
                         f"{format_size(needed)}, more than the {format_size(room)} a batch "
                         f"may take; use at most {most_concepts(layer.channels, room)} "
                         f"concepts")


def concept_plans(config: BuildConfig, infos: Sequence[LayerInfo],
                  data_settings: dict[str, Any] | None,
                  room: int | None = None) -> list[ConceptPlan]:
    """The plans of `config.concepts`, each checked against the build's layers
    (`infos`) and the memory `room` (bytes; None: unknown); `data_settings` say what
    the dataset pass's results depend on (None: no dataset)."""
    if not config.concepts:
        return []
    layers = [info.name for info in infos]
    unknown = [layer for layer in config.concepts if layer not in layers]
    if unknown:
        raise AtlasError(f"concepts name layer {unknown[0]!r}, which this build does not "
                         f"visualize; its layers are: {', '.join(layers)}")
    if data_settings is None:
        raise AtlasError("concepts are fitted on the dataset's activations, and this build "
                         "has none; give it one with --dataset (a folder of images)")
    plans = []
    for info in infos:
        layer = info.name
        if layer in config.concepts:
            method, count = parse_spec(config.concepts[layer])
            check_count(info, config.concepts[layer], count, room)
            plans.append(ConceptPlan(layer, method, count, {
                **data_settings, "layer": layer, "view": "concepts", "method": method,
                "count": count, "per_image": PER_IMAGE, "most": MOST_VECTORS,
                "seed": config.seed}))
    return plans
