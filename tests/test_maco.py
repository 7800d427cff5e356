"""MACO: the magnitude stays exactly what it was given while the phase is
optimized; the magnitude estimate from images; the transparency maps."""

from __future__ import annotations

import pytest
import torch
from engine_helpers import SEED, image_seeds
from torch.testing import assert_close

from atlas.optvis import objectives
from atlas.optvis.maco import (MacoImage, dataset_magnitude, power_law_magnitude,
                               symmetric)
from atlas.optvis.param import COLOR_MEAN, ImageParam
from atlas.optvis.render import optimize
from atlas.optvis.transforms import no_transforms


def _magnitude(size: int) -> torch.Tensor:
    """A magnitude that is not a power law: random, but that of a real image."""
    generator = torch.Generator().manual_seed(SEED)
    image = torch.rand(3, size, size, generator=generator)
    return torch.fft.rfftn(image, dim=(-2, -1), norm="ortho").abs()


def _spectrum_magnitude(images: torch.Tensor) -> torch.Tensor:
    return torch.fft.rfftn(images, dim=(-2, -1), norm="ortho").abs()


@pytest.mark.parametrize("size", [8, 9, 28])
def test_magnitude_is_fixed_exactly_through_the_optimization(size: int) -> None:
    magnitude = _magnitude(size)
    image = ImageParam(size, image_seeds(3), param="maco", magnitude=magnitude)
    before = image.spatial.phase.detach().clone()

    # Brighten the left half of every image: any objective will do.
    def brighter_left(acts):
        return acts[objectives.INPUT][..., : size // 2].mean((1, 2, 3))

    objective = objectives.Objective(brighter_left, "left", set())
    result = optimize(torch.nn.Identity(), objective, image, no_transforms(size), steps=30,
                      lr=0.1)
    assert not torch.equal(image.spatial.phase.detach(), before)  # the phase moved
    assert float(result.history[-1].mean()) > float(result.history[0].mean())
    with torch.no_grad():
        measured = _spectrum_magnitude(image.spatial.raw())
    expected = magnitude.expand_as(measured)
    assert_close(measured, expected, rtol=1e-4, atol=1e-5)


def test_images_are_standardized_per_image() -> None:
    spatial = MacoImage(16, image_seeds(2), power_law_magnitude(16))
    with torch.no_grad():
        images = spatial()
    flat = images.flatten(1)
    assert_close(flat.mean(1), torch.zeros(2), atol=1e-5, rtol=0)
    assert_close(flat.std(1), torch.ones(2), atol=1e-5, rtol=0)


def test_a_magnitude_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(3, 8, 5\)"):
        MacoImage(8, [SEED], torch.ones(3, 8, 8))


def test_power_law_falls_as_one_over_frequency() -> None:
    magnitude = power_law_magnitude(8)
    assert magnitude.shape == (3, 8, 5)
    assert float(magnitude[0, 0, 1]) == pytest.approx(8.0)  # frequency 1/8
    assert float(magnitude[0, 0, 4]) == pytest.approx(2.0)  # frequency 1/2
    assert float(magnitude[0, 0, 0]) == pytest.approx(8.0)  # DC clipped to 1/size


def test_dataset_magnitude_of_one_image_is_its_decorrelated_spectrum() -> None:
    generator = torch.Generator().manual_seed(SEED)
    images = torch.rand(1, 3, 8, 8, generator=generator)
    ours = dataset_magnitude(images)
    matrix = ImageParam(8, [SEED]).color.matrix
    centred = images[0] - torch.tensor(COLOR_MEAN).view(3, 1, 1)
    decorrelated = torch.einsum("chw,dc->dhw", centred, torch.linalg.inv(matrix))
    assert_close(ours, _spectrum_magnitude(decorrelated), rtol=1e-5, atol=1e-6)


def test_dataset_magnitude_averages_images() -> None:
    generator = torch.Generator().manual_seed(SEED)
    images = torch.rand(4, 3, 8, 8, generator=generator)
    each = torch.stack([dataset_magnitude(images[i : i + 1]) for i in range(4)])
    assert_close(dataset_magnitude(images), each.mean(0), rtol=1e-5, atol=1e-6)


def test_symmetric_mirrors_only_the_edge_columns() -> None:
    magnitude = torch.arange(3 * 4 * 3, dtype=torch.float32).view(3, 4, 3)
    fixed = symmetric(magnitude, 4)
    assert torch.equal(fixed[..., 1], magnitude[..., 1])  # an inner column is untouched
    for column in (0, 2):  # zero frequency and Nyquist of width 4
        assert torch.equal(fixed[:, 1, column], fixed[:, 3, column])
        assert torch.equal(fixed[:, 0, column], magnitude[:, 0, column])
    odd = symmetric(magnitude, 5)  # width 5 has no Nyquist column
    assert torch.equal(odd[..., 1:], magnitude[..., 1:])


def test_transparency_maps_are_in_unit_range_and_zero_where_pixels_never_count() -> None:
    size = 8
    image = ImageParam(size, image_seeds(2), param="maco")

    def left_only(acts):
        return acts[objectives.INPUT][..., : size // 2].mean((1, 2, 3))

    objective = objectives.Objective(left_only, "left", set())
    result = optimize(torch.nn.Identity(), objective, image, no_transforms(size), steps=5,
                      lr=0.1, transparency=True)
    maps = result.transparency
    assert maps.shape == (2, size, size)
    assert float(maps.min()) >= 0.0
    assert_close(maps.flatten(1).amax(1), torch.ones(2))
    assert torch.equal(maps[..., size // 2 :], torch.zeros(2, size, size // 2))
    assert bool((maps[..., : size // 2] > 0).all())


def test_no_transparency_unless_asked() -> None:
    image = ImageParam(8, image_seeds(1), param="maco")
    objective = objectives.Objective(lambda acts: acts[objectives.INPUT].mean((1, 2, 3)),
                                     "mean", set())
    result = optimize(torch.nn.Identity(), objective, image, no_transforms(8), steps=2)
    assert result.transparency is None
