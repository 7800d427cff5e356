"""Per-unit dataset statistics kept while streaming a dataset: which images drive
each unit highest and lowest, and where; plus the summaries a unit page shows.

Pure tensor and numpy code: no files, no model. An update costs a few sorts of
a (C, k + B) tensor, so it keeps up with a 50,000-image pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

QUANTILES = (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)
SIGNIFICANT_DIGITS = 6  # enough for a chart, small in JSON


@dataclass(frozen=True)
class Extremes:
    """One batch's value of every unit for every image; each tensor (B, C)."""

    max_values: torch.Tensor  # float32: the spatial maximum
    max_positions: torch.Tensor  # int64: flat index h * W + w of the maximum; -1 for (B, C)
    min_values: torch.Tensor
    min_positions: torch.Tensor
    means: torch.Tensor  # the spatial mean


@dataclass(frozen=True)
class ExtremesResult:
    """Each unit's top and bottom images over the whole stream (CPU tensors)."""

    top_values: torch.Tensor  # (C, k') by max value, descending
    top_images: torch.Tensor  # (C, k') image indices, int64
    top_positions: torch.Tensor  # (C, k') flat positions, int64
    bottom_values: torch.Tensor  # (C, k') by min value, ascending
    bottom_images: torch.Tensor
    bottom_positions: torch.Tensor
    count: int  # images seen
    value_max: torch.Tensor  # (C,) the largest spatial maximum
    mean_max: torch.Tensor  # (C,) the largest spatial mean


def spatial_extremes(acts: torch.Tensor) -> Extremes:
    """Per image and unit: the extremes over positions (first position on ties) and the mean.

    `acts` is (B, C, H, W), or (B, C) for a layer without positions."""
    acts = acts.detach().float()
    if acts.dim() == 2:
        no_position = torch.full(acts.shape, -1, dtype=torch.int64, device=acts.device)
        return Extremes(acts, no_position, acts, no_position.clone(), acts)
    if acts.dim() != 4:
        raise ValueError(f"activations must be (B, C) or (B, C, H, W), not {tuple(acts.shape)}")
    flat = acts.flatten(2)  # (B, C, H * W)
    max_values, max_positions = flat.max(dim=2)
    min_values, min_positions = flat.min(dim=2)
    return Extremes(max_values, max_positions, min_values, min_positions, flat.mean(dim=2))


@dataclass
class _Ranked:
    """The kept images of every unit, best first; each tensor (C, k')."""

    values: torch.Tensor
    images: torch.Tensor
    positions: torch.Tensor

    @staticmethod
    def empty(channels: int) -> _Ranked:
        return _Ranked(torch.empty(channels, 0), torch.empty(channels, 0, dtype=torch.int64),
                       torch.empty(channels, 0, dtype=torch.int64))

    def merged(self, new: _Ranked, k: int, descending: bool) -> _Ranked:
        """The best k of kept and new, ties to the smaller image index.

        Stable-sorting by image index, then stably by value, orders by
        (value, index) without assuming the batches arrive in index order."""
        values = torch.cat([self.values.to(new.values.device), new.values], dim=1)
        images = torch.cat([self.images.to(new.images.device), new.images], dim=1)
        positions = torch.cat([self.positions.to(new.positions.device), new.positions], dim=1)
        by_image = torch.sort(images, dim=1, stable=True).indices
        by_value = torch.sort(values.gather(1, by_image), dim=1, descending=descending,
                              stable=True).indices
        order = by_image.gather(1, by_value)[:, :k]
        return _Ranked(values.gather(1, order), images.gather(1, order),
                       positions.gather(1, order))


class RunningExtremes:
    """Per-unit top-k (by max value) and bottom-k (by min value) over a stream of batches."""

    def __init__(self, channels: int, k: int) -> None:
        self.channels, self.k = channels, k
        self.count = 0
        self._top = _Ranked.empty(channels)
        self._bottom = _Ranked.empty(channels)
        self._value_max = torch.full((channels,), -torch.inf)
        self._mean_max = torch.full((channels,), -torch.inf)

    def update(self, extremes: Extremes, image_indices: torch.Tensor) -> None:
        """Adds one batch; `image_indices` (B,) are the dataset indices of its images."""
        batch, channels = extremes.max_values.shape
        if channels != self.channels or image_indices.shape != (batch,):
            raise ValueError(f"expected {self.channels} units and {batch} image indices, got "
                             f"{channels} units and indices of shape {tuple(image_indices.shape)}")
        images = image_indices.to(extremes.max_values.device, torch.int64).expand(channels, batch)
        top = _Ranked(extremes.max_values.T, images, extremes.max_positions.T)
        bottom = _Ranked(extremes.min_values.T, images, extremes.min_positions.T)
        self._top = self._top.merged(top, self.k, descending=True)
        self._bottom = self._bottom.merged(bottom, self.k, descending=False)
        device = extremes.max_values.device
        self._value_max = torch.maximum(self._value_max.to(device),
                                        extremes.max_values.max(dim=0).values)
        self._mean_max = torch.maximum(self._mean_max.to(device), extremes.means.max(dim=0).values)
        self.count += batch

    def result(self) -> ExtremesResult:
        top, bottom = self._top, self._bottom
        return ExtremesResult(
            top.values.cpu(), top.images.cpu(), top.positions.cpu(),
            bottom.values.cpu(), bottom.images.cpu(), bottom.positions.cpu(),
            self.count, self._value_max.cpu(), self._mean_max.cpu(),
        )


def near_threshold(values: np.ndarray, k: int) -> tuple[float, np.ndarray, np.ndarray]:
    """The k images just below and the k just at or above one unit's threshold.

    `values` (N,) is the unit's value per image. The threshold is 0 when the
    unit takes both signs over the data, at least k images on each side of 0
    (where a ReLU after it would switch it on); else the median, so a unit
    that is negative on all but a handful of images still gets two full
    columns. Closest to the threshold first, ties to the smaller index.
    Returns (threshold, below, above)."""
    values = np.asarray(values, dtype=np.float64)
    finite = _finite(values)
    both_signs = (finite < 0).sum() >= k and (finite >= 0).sum() >= k
    threshold = 0.0 if both_signs else float(np.median(finite))
    below = np.flatnonzero(values < threshold)
    below = below[np.lexsort((below, -values[below]))][:k]
    above = np.flatnonzero(values >= threshold)
    above = above[np.lexsort((above, values[above]))][:k]
    return threshold, below, above


def histogram(values: np.ndarray, bins: int = 32) -> dict:
    """{"edges": bins + 1 floats, "counts": bins ints} over min..max.

    A constant unit gets one narrow bin around its value; non-finite values are left out."""
    values = _finite(values)
    low, high = float(values.min()), float(values.max())
    if low == high:
        half = max(abs(low), 1.0) * 1e-3
        edges, counts = np.array([low - half, low + half]), np.array([values.size])
    else:
        counts, edges = np.histogram(values, bins=bins, range=(low, high))
    return {"edges": [_rounded(edge) for edge in edges], "counts": [int(c) for c in counts]}


def value_stats(values: np.ndarray) -> dict:
    """Mean, min, max and quantiles of one unit's values (non-finite ones left out)."""
    values = _finite(values)
    quantiles = np.quantile(values, QUANTILES)
    return {
        "mean": _rounded(values.mean()),
        "min": _rounded(values.min()),
        "max": _rounded(values.max()),
        "quantiles": {str(q): _rounded(v) for q, v in zip(QUANTILES, quantiles)},
    }


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        raise ValueError("no finite values to summarize")
    return values


def _rounded(value: float) -> float:
    return float(f"{float(value):.{SIGNIFICANT_DIGITS}g}")
