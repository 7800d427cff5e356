"""Streaming per-unit extremes and unit summaries, on values whose answers are known."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from atlas.pipeline.dataset.extremes import (
    RunningExtremes,
    histogram,
    near_threshold,
    spatial_extremes,
    value_stats,
)


def stream(acts: torch.Tensor, batch_sizes: list[int], k: int) -> RunningExtremes:
    """Feeds `acts` (N, C, ...) in consecutive batches of the given sizes."""
    running = RunningExtremes(acts.shape[1], k)
    start = 0
    for size in batch_sizes:
        indices = torch.arange(start, start + size)
        running.update(spatial_extremes(acts[indices]), indices)
        start += size
    assert start == len(acts)
    return running


def modular_units(count: int) -> torch.Tensor:
    """(count, 2): unit 0 is index mod 7, unit 1 is -(index mod 5)."""
    index = torch.arange(count)
    return torch.stack([index % 7, -(index % 5)], dim=1).float()


def test_spatial_extremes_positions() -> None:
    acts = torch.zeros(2, 3, 4, 5)
    acts[0, 1, 2, 3] = 5.0
    acts[1, 2, 3, 4] = -1.0
    extremes = spatial_extremes(acts)
    assert extremes.max_values[0, 1] == 5.0
    assert extremes.max_positions[0, 1] == 2 * 5 + 3
    assert extremes.min_values[1, 2] == -1.0
    assert extremes.min_positions[1, 2] == 3 * 5 + 4
    assert extremes.max_positions[1, 0] == 0  # all equal: the first position
    assert extremes.means[0, 1] == pytest.approx(5.0 / 20)
    assert extremes.max_positions.dtype == torch.int64


def test_spatial_extremes_of_linear_output() -> None:
    acts = torch.tensor([[1.0, -2.0], [3.0, 0.5]], dtype=torch.float16)
    extremes = spatial_extremes(acts)
    for values in (extremes.max_values, extremes.min_values, extremes.means):
        assert values.dtype == torch.float32
        assert torch.equal(values, acts.float())
    assert torch.equal(extremes.max_positions, torch.full((2, 2), -1))
    assert torch.equal(extremes.min_positions, torch.full((2, 2), -1))


def test_top_and_bottom_with_ties_to_smaller_index() -> None:
    result = stream(modular_units(30), [30], k=5).result()
    assert result.top_images[0].tolist() == [6, 13, 20, 27, 5]  # four 6s, then the first 5
    assert result.top_values[0].tolist() == [6, 6, 6, 6, 5]
    assert result.bottom_images[0].tolist() == [0, 7, 14, 21, 28]
    assert result.top_images[1].tolist() == [0, 5, 10, 15, 20]  # value 0, the largest
    assert result.bottom_images[1].tolist() == [4, 9, 14, 19, 24]
    assert result.bottom_values[1].tolist() == [-4] * 5
    assert torch.equal(result.top_positions, torch.full((2, 5), -1))
    assert result.count == 30
    assert result.value_max.tolist() == [6, 0]
    assert result.mean_max.tolist() == [6, 0]


def test_batch_sizes_do_not_change_the_result() -> None:
    acts = torch.randn(50, 4, 3, 3).round(decimals=1)  # rounding makes ties common
    whole = stream(acts, [50], k=6).result()
    for sizes in ([1] * 50, [7, 3, 20, 1, 19], [6, 6, 38]):
        pieces = stream(acts, sizes, k=6).result()
        for name in ("top_values", "top_images", "top_positions",
                     "bottom_values", "bottom_images", "bottom_positions",
                     "value_max", "mean_max"):
            assert torch.equal(getattr(pieces, name), getattr(whole, name)), (sizes, name)


def test_batches_out_of_index_order_still_break_ties_by_index() -> None:
    acts = modular_units(30)
    running = RunningExtremes(2, 5)
    for indices in (torch.arange(20, 30), torch.arange(9, -1, -1), torch.arange(10, 20)):
        running.update(spatial_extremes(acts[indices]), indices)
    assert running.result().top_images[0].tolist() == [6, 13, 20, 27, 5]


def test_k_larger_than_the_images_seen() -> None:
    result = stream(modular_units(4), [3, 1], k=10).result()
    assert result.top_images.shape == (2, 4)
    assert result.top_images[0].tolist() == [3, 2, 1, 0]
    assert result.bottom_images[0].tolist() == [0, 1, 2, 3]


def test_positions_follow_their_images() -> None:
    acts = torch.zeros(3, 1, 4, 4)
    acts[0, 0, 1, 2] = 1.0
    acts[1, 0, 3, 0] = 3.0
    acts[2, 0, 0, 1] = -2.0
    result = stream(acts, [2, 1], k=2).result()
    assert result.top_images[0].tolist() == [1, 0]
    assert result.top_positions[0].tolist() == [3 * 4 + 0, 1 * 4 + 2]
    assert result.bottom_images[0].tolist() == [2, 0]
    assert result.bottom_positions[0].tolist() == [0 * 4 + 1, 0]


def test_reddest_solid_colours_rank_first() -> None:
    colours = torch.rand(40, 3)
    images = colours.view(40, 3, 1, 1).expand(40, 3, 8, 8)
    red = nn.Conv2d(3, 1, 1, bias=False)  # the unit is the red channel
    with torch.no_grad():
        red.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
        acts = red(images)
    result = stream(acts, [16, 16, 8], k=5).result()
    by_red = torch.argsort(colours[:, 0], descending=True)
    assert result.top_images[0].tolist() == by_red[:5].tolist()
    assert result.bottom_images[0].tolist() == by_red.flip(0)[:5].tolist()
    assert result.mean_max[0] == colours[:, 0].max()


def test_update_checks_shapes() -> None:
    running = RunningExtremes(3, 2)
    with pytest.raises(ValueError):
        running.update(spatial_extremes(torch.zeros(2, 4)), torch.arange(2))
    with pytest.raises(ValueError):
        running.update(spatial_extremes(torch.zeros(2, 3)), torch.arange(3))


def test_near_threshold_of_a_positive_unit_is_the_median() -> None:
    values = np.array([3, 1, 4, 1, 5, 9, 2, 6], dtype=float)
    threshold, below, above = near_threshold(values, 3)
    assert threshold == 3.5
    assert below.tolist() == [0, 6, 1]  # 3, 2, then the first of the two 1s
    assert above.tolist() == [2, 4, 7]  # 4, 5, 6


def test_near_threshold_of_a_two_signed_unit_is_zero() -> None:
    values = np.array([-1, 2, -0.5, 0, 3, -0.5])
    threshold, below, above = near_threshold(values, 3)
    assert threshold == 0.0
    assert below.tolist() == [2, 5, 0]
    assert above.tolist() == [3, 1, 4]  # 0 counts as at-or-above


def test_near_threshold_needs_k_images_on_each_side_of_zero() -> None:
    values = np.array([-1, 2, -0.5, 0, 3, -0.5])  # 3 below 0: too few for k = 4
    threshold, below, above = near_threshold(values, 4)
    assert threshold == -0.25  # the median
    assert below.tolist() == [2, 5, 0]
    assert above.tolist() == [3, 1, 4]


def test_near_threshold_of_a_constant_unit() -> None:
    threshold, below, above = near_threshold(np.array([2.0, 2.0, 2.0]), 2)
    assert threshold == 2.0
    assert below.tolist() == []
    assert above.tolist() == [0, 1]


def test_histogram_counts_every_value() -> None:
    values = np.arange(10, dtype=float)
    result = histogram(values, bins=5)
    assert result["counts"] == [2, 2, 2, 2, 2]
    assert result["edges"] == [0.0, 1.8, 3.6, 5.4, 7.2, 9.0]
    wide = histogram(np.random.randn(1000))
    assert sum(wide["counts"]) == 1000 and len(wide["edges"]) == 33


def test_histogram_of_a_constant_unit_is_one_bin() -> None:
    result = histogram(np.full(7, 4.0))
    assert result["counts"] == [7]
    assert result["edges"][0] < 4.0 < result["edges"][1]


def test_summaries_round_to_six_digits_and_skip_non_finite() -> None:
    result = histogram(np.array([0.0, 1 / 3, 1.0, np.nan]), bins=2)
    assert result == {"edges": [0.0, 0.5, 1.0], "counts": [2, 1]}
    assert value_stats(np.array([1 / 3, np.inf]))["mean"] == 0.333333


def test_value_stats_exact() -> None:
    stats = value_stats(np.array([4.0, 0.0, 3.0, 1.0, 2.0]))
    assert stats == {
        "mean": 2.0, "min": 0.0, "max": 4.0,
        "quantiles": {"0.01": 0.04, "0.1": 0.4, "0.25": 1.0, "0.5": 2.0,
                      "0.75": 3.0, "0.9": 3.6, "0.99": 3.96},
    }
    json.dumps(stats, allow_nan=False)
