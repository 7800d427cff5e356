"""A fitted dictionary: its directions and how they were fitted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Dictionary:
    """`count` directions in a layer's channel space and how they were fitted."""

    method: str  # "nmf" or "sae"
    directions: np.ndarray  # (count, channels) float32, each of unit length
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)  # the fit's own settings
    # The SAE's encoder (weights (channels, count), bias (count,)) and its input bias
    # (channels,), None for NMF, whose codes are found by non-negative least squares.
    encoder: dict[str, np.ndarray] | None = None

    @property
    def count(self) -> int:
        return int(self.directions.shape[0])
