"""What one `atlas bench --quality` run measures: the model, data, layers, units,
steps and views every candidate is built with."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlas.config import BuildConfig, make_config

VIEWS = ["positive", "diversity", "seeds", "examples"]  # the views built by default


@dataclass
class QualityWork:
    model: str | None = None  # None: the default model
    weights: str | None = None
    dataset: str | None = None  # None: the model's own
    layers: list[str] | None = None
    channels: str | None = None  # e.g. "0-3"; None: all
    steps: int | None = None  # None: the build default
    image_size: int | None = None
    device: str = "auto"
    dataset_limit: int | None = None
    views: list[str] = dataclasses.field(default_factory=lambda: list(VIEWS))

    def config(self, out: Path, overrides: dict[str, Any]) -> BuildConfig:
        chosen = dataclasses.asdict(self)
        return make_config({}, {**chosen, "out": str(out), **overrides})
