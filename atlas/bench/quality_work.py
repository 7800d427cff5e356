"""What one `atlas bench --quality` run measures: the model, data, layers, units,
steps and views every candidate is built with."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from atlas.config import BuildConfig, make_config

VIEWS = ["positive", "diversity", "seeds", "examples"]  # the views built by default


@dataclass
class QualityWork:
    model: Optional[str] = None  # None: the default model
    weights: Optional[str] = None
    dataset: Optional[str] = None  # None: the model's own
    layers: Optional[list[str]] = None
    channels: Optional[str] = None  # e.g. "0-3"; None: all
    steps: Optional[int] = None  # None: the build default
    image_size: Optional[int] = None
    device: str = "auto"
    dataset_limit: Optional[int] = None
    views: list[str] = dataclasses.field(default_factory=lambda: list(VIEWS))

    def config(self, out: Path, overrides: dict[str, Any]) -> BuildConfig:
        chosen = {key: value for key, value in dataclasses.asdict(self).items()}
        return make_config({}, {**chosen, "out": str(out), **overrides})
