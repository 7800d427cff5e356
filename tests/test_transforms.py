"""Random transforms: exact shapes and values, reproducible from per-image seeds."""

from __future__ import annotations

import pytest
import torch
from engine_helpers import SEED, generator, step_draws
from torch.testing import assert_close

from atlas.optvis.transforms import (
    SLOTS,
    Compose,
    Draws,
    FitSize,
    Jitter,
    Pad,
    RandomRotate,
    RandomScale,
    no_transforms,
    standard_transforms,
)

def _ramp(height: int, width: int, batch: int = 1, channels: int = 1) -> torch.Tensor:
    """Pixel value = 100 * channel + row * width + column: every pixel is distinct."""
    grid = torch.arange(height * width, dtype=torch.float32).view(1, 1, height, width)
    offsets = 100.0 * torch.arange(channels, dtype=torch.float32).view(1, channels, 1, 1)
    return (grid + offsets).expand(batch, channels, height, width).clone()


def _column_ramp(size: int) -> torch.Tensor:
    """(1, 1, size, size): each pixel holds its column index."""
    return torch.arange(float(size)).expand(1, 1, size, size).clone()


def _uniforms(seed: int, step: int = 0, steps: int = 1) -> torch.Tensor:
    """The (SLOTS,) uniforms image `seed` gets at `step`, drawn by hand."""
    return torch.rand(steps, SLOTS, generator=torch.Generator().manual_seed(seed))[step]


# --- Draws ---------------------------------------------------------------------------


def test_draws_are_the_per_image_generators_numbers() -> None:
    draws = Draws([SEED + 3, SEED + 4], steps=5)
    assert draws.table.shape == (5, 2, SLOTS)
    for step in (0, 4):
        values = draws.at(step).values
        assert torch.equal(values[0], _uniforms(SEED + 3, step, 5))
        assert torch.equal(values[1], _uniforms(SEED + 4, step, 5))


def test_an_images_draws_do_not_depend_on_its_batch() -> None:
    together = Draws([11, 22, 33], steps=4).table
    alone = Draws([22], steps=4).table
    assert torch.equal(together[:, 1], alone[:, 0])
    assert not torch.equal(together[:, 0], together[:, 1])


def test_step_draws_hand_out_columns_in_order() -> None:
    draws = step_draws([SEED])
    expected = _uniforms(SEED)
    assert torch.equal(draws.uniform(), expected[0:1])
    assert torch.equal(draws.integers(4), (expected[1:2] * 4).long())
    assert draws.used == 2


def test_more_random_numbers_than_slots_raise() -> None:
    draws = step_draws([SEED])
    for _ in range(SLOTS):
        draws.uniform()
    with pytest.raises(RuntimeError, match=f"more than {SLOTS}"):
        draws.uniform()


def test_integers_and_choice_stay_in_range() -> None:
    draws = step_draws(range(200))
    ints = draws.integers(3)
    assert ints.shape == (200,)
    assert set(ints.tolist()) == {0, 1, 2}
    picks = draws.choice([-1.5, 2.0])
    assert set(picks.tolist()) == {-1.5, 2.0}


# --- Pad -----------------------------------------------------------------------------


def test_pad_size_and_values() -> None:
    image = torch.ones(2, 3, 4, 5)
    padded = Pad(2, value=0.25)(image, step_draws([0, 1]))
    assert padded.shape == (2, 3, 8, 9)
    assert torch.equal(padded[..., 2:6, 2:7], image)
    border = torch.ones(8, 9, dtype=torch.bool)
    border[2:6, 2:7] = False
    assert torch.equal(padded[..., border], torch.full((2, 3, int(border.sum())), 0.25))


def test_pad_default_is_grey_and_zero_width_is_identity() -> None:
    image = torch.zeros(1, 3, 2, 2)
    assert float(Pad(1)(image, step_draws([SEED]))[0, 0, 0, 0]) == 0.5
    assert Pad(0)(image, step_draws([SEED])) is image


# --- Jitter --------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_jitter_offsets_reproducible_from_the_seed(seed: int) -> None:
    image = _ramp(10, 10, channels=3)
    out = Jitter(3)(image, step_draws([seed]))
    assert out.shape == (1, 3, 7, 7)
    uniforms = _uniforms(seed)
    dy, dx = int(uniforms[0] * 4), int(uniforms[1] * 4)
    assert torch.equal(out, image[..., dy : dy + 7, dx : dx + 7])
    assert float(out[0, 0, 0, 0]) == dy * 10 + dx


def test_jitter_crops_each_image_by_its_own_offset() -> None:
    seeds = list(range(SEED, SEED + 5))
    image = _ramp(10, 10, batch=5, channels=2)
    out = Jitter(3)(image, step_draws(seeds))
    assert out.shape == (5, 2, 7, 7)
    for i, seed in enumerate(seeds):
        uniforms = _uniforms(seed)
        dy, dx = int(uniforms[0] * 4), int(uniforms[1] * 4)
        assert torch.equal(out[i], image[i, :, dy : dy + 7, dx : dx + 7])


def test_jitter_reaches_every_offset() -> None:
    image = _ramp(6, 6, batch=60)
    out = Jitter(2)(image, step_draws(range(60)))
    corners = set(out[:, 0, 0, 0].tolist())
    # top-left value dy * 6 + dx for every dy, dx in {0, 1, 2}
    assert corners == {float(dy * 6 + dx) for dy in range(3) for dx in range(3)}


def test_jitter_gradient_lands_in_each_images_window_only() -> None:
    seeds = list(range(SEED, SEED + 4))
    image = _ramp(9, 8, batch=4, channels=3).requires_grad_()
    out = Jitter(3)(image, step_draws(seeds))
    weights = torch.randn(out.shape, generator=generator())
    (out * weights).sum().backward()
    for i, seed in enumerate(seeds):
        uniforms = _uniforms(seed)
        dy, dx = int(uniforms[0] * 4), int(uniforms[1] * 4)
        expected = torch.zeros(3, 9, 8)
        expected[:, dy : dy + 6, dx : dx + 5] = weights[i]
        assert torch.equal(image.grad[i], expected)
    # the crops keep the channels-last memory that indexing gave them, so what
    # follows (and its rounding) is unchanged
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_jitter_zero_is_identity() -> None:
    image = _ramp(4, 4)
    assert Jitter(0)(image, step_draws([SEED])) is image


# --- RandomScale ---------------------------------------------------------------------


def test_random_scale_keeps_the_size_and_zooms_about_the_centre() -> None:
    out = RandomScale([2.0])(_column_ramp(4), step_draws([SEED]))
    assert out.shape == (1, 1, 4, 4)
    # output columns sample input columns 0.75, 1.25, 1.75, 2.25 (bilinear)
    assert_close(out, torch.tensor([0.75, 1.25, 1.75, 2.25]).expand(1, 1, 4, 4))


def test_random_scale_down_fills_the_border() -> None:
    out = RandomScale([0.5], fill=0.25)(torch.ones(1, 3, 8, 8), step_draws([SEED]))
    assert_close(out[..., 0, 0], torch.full((1, 3), 0.25))
    assert_close(out[..., 3:5, 3:5], torch.ones(1, 3, 2, 2))


def test_random_scale_of_one_is_identity() -> None:
    image = _ramp(5, 5)
    assert RandomScale([1.0])(image, step_draws([SEED])) is image


def test_random_scale_of_a_constant_image_is_constant() -> None:
    image = torch.full((2, 3, 6, 6), 0.7)
    out = RandomScale([1.2, 1.5])(image, step_draws([SEED, SEED + 1]))
    assert_close(out, image)


# --- RandomRotate --------------------------------------------------------------------


def test_rotate_by_zero_is_identity() -> None:
    image = _ramp(5, 5, channels=3)
    for seed in range(10):
        assert RandomRotate([0])(image, step_draws([seed])) is image


def test_rotate_by_90_is_rot90() -> None:
    image = _ramp(4, 4, batch=2, channels=3)
    out = RandomRotate([90], fill=0.0)(image, step_draws([SEED, SEED + 1]))
    assert_close(out, torch.rot90(image, 1, dims=(2, 3)), rtol=0, atol=1e-4)


def test_rotate_angle_is_per_image() -> None:
    image = _ramp(4, 4, batch=40)
    out = RandomRotate([0, 90], fill=0.0)(image, step_draws(range(40)))
    rotated = [torch.allclose(o, torch.rot90(i, 1, dims=(1, 2)), atol=1e-4)
               for o, i in zip(out, image)]
    unchanged = [torch.allclose(o, i, atol=1e-4) for o, i in zip(out, image)]
    assert all(r != u for r, u in zip(rotated, unchanged))
    assert any(rotated) and any(unchanged)


def test_rotate_fills_corners_with_fill_value() -> None:
    out = RandomRotate([45], fill=0.5)(torch.ones(1, 3, 8, 8), step_draws([SEED]))
    assert out.shape == (1, 3, 8, 8)
    assert_close(out[..., 0, 0], torch.full((1, 3), 0.5))
    assert_close(out[..., 3:5, 3:5], torch.ones(1, 3, 2, 2))
    # a constant image of the fill colour is unchanged by any rotation
    grey = torch.full((1, 3, 8, 8), 0.5)
    assert_close(RandomRotate([30])(grey, step_draws([SEED])), grey)


# --- FitSize -------------------------------------------------------------------------


def test_fit_size_centre_crops() -> None:
    image = _ramp(9, 8)
    out = FitSize(6)(image, step_draws([SEED]))
    # top = (9 - 6) // 2 = 1, left = (8 - 6) // 2 = 1
    assert torch.equal(out, image[..., 1:7, 1:7])


def test_fit_size_pads_with_value() -> None:
    image = torch.ones(1, 2, 5, 8)
    out = FitSize(8, value=0.25)(image, step_draws([SEED]))
    assert out.shape == (1, 2, 8, 8)
    # pad_h = 3: one row on top, two below; width untouched
    assert torch.equal(out[..., 1:6, :], image)
    assert torch.equal(out[..., 0, :], torch.full((1, 2, 8), 0.25))
    assert torch.equal(out[..., 6:, :], torch.full((1, 2, 2, 8), 0.25))


def test_fit_size_pads_one_side_and_crops_the_other() -> None:
    image = _ramp(4, 10)
    out = FitSize(6, value=-1.0)(image, step_draws([SEED]))
    assert out.shape == (1, 1, 6, 6)
    assert torch.equal(out[..., 1:5, :], image[..., :, 2:8])
    assert torch.equal(out[..., 0, :], torch.full((1, 1, 6), -1.0))
    assert torch.equal(out[..., 5, :], torch.full((1, 1, 6), -1.0))


def test_fit_size_exact_size_is_unchanged() -> None:
    image = _ramp(7, 7)
    assert torch.equal(FitSize(7)(image, step_draws([SEED])), image)


# --- standard_transforms -------------------------------------------------------------


def test_standard_transforms_describe() -> None:
    assert standard_transforms(28).describe() == (
        "pad 3, jitter 2, scale 0.9–1.1, rotate ±10°, jitter 1, fit 28"
    )
    assert standard_transforms(128).describe() == (
        "pad 12, jitter 8, scale 0.9–1.1, rotate ±10°, jitter 4, fit 128"
    )
    assert no_transforms(28).describe() == "fit 28"
    assert Compose([]).describe() == "none"


@pytest.mark.parametrize(("size", "batch", "steps"), [(28, 16, 10), (128, 8, 4)])
def test_standard_transforms_always_output_the_image_size(
    size: int, batch: int, steps: int
) -> None:
    transforms = standard_transforms(size)
    image = torch.rand(batch, 3, size, size, generator=generator())
    draws = Draws(range(SEED, SEED + batch), steps)
    shapes = {tuple(transforms(image, draws.at(step)).shape) for step in range(steps)}
    assert shapes == {(batch, 3, size, size)}


def test_standard_transforms_fit_odd_input_sizes() -> None:
    transforms = standard_transforms(28)
    for size in (20, 27, 29, 40):
        image = torch.rand(1, 3, size, size, generator=generator())
        assert transforms(image, step_draws([SEED])).shape == (1, 3, 28, 28)


def test_standard_transforms_follow_input_dtype() -> None:
    image = torch.rand(2, 3, 28, 28, generator=generator(), dtype=torch.float64)
    transforms = standard_transforms(28)
    draws = Draws([SEED, SEED + 1], 10)
    for step in range(10):
        out = transforms(image, draws.at(step))
        assert out.dtype == torch.float64
        assert out.device == image.device


@pytest.mark.parametrize("transform", [RandomRotate([10]), RandomScale([1.1]), Jitter(2)])
def test_random_transforms_follow_input_dtype(transform) -> None:
    image = torch.ones(1, 3, 8, 8, dtype=torch.float64)
    assert transform(image, step_draws([SEED])).dtype == torch.float64


def test_same_seed_gives_identical_output() -> None:
    transforms = standard_transforms(28)
    image = torch.rand(2, 3, 28, 28, generator=generator())
    first = transforms(image, step_draws([5, 6]))
    second = transforms(image, step_draws([5, 6]))
    assert torch.equal(first, second)
    others = [transforms(image, step_draws([seed, seed + 1])) for seed in range(7, 13)]
    assert all(not torch.equal(first, other) for other in others)


def test_steps_draw_differently() -> None:
    transforms = standard_transforms(28)
    image = torch.rand(1, 3, 28, 28, generator=generator())
    draws = Draws([SEED], 4)
    outs = [transforms(image, draws.at(step)) for step in range(4)]
    assert all(not torch.equal(outs[0], out) for out in outs[1:])


def test_an_image_transforms_the_same_alone_or_in_a_batch() -> None:
    """Packing independence: each image draws from its own seed."""
    transforms = standard_transforms(28)
    batch = torch.rand(3, 3, 28, 28, generator=generator())
    seeds = [SEED + 10, SEED + 20, SEED + 30]
    together, alone = Draws(seeds, 5), Draws(seeds[1:2], 5)
    for step in range(5):
        packed = transforms(batch, together.at(step))
        single = transforms(batch[1:2], alone.at(step))
        assert_close(packed[1:2], single, rtol=0, atol=1e-6)


def test_images_with_different_seeds_transform_differently() -> None:
    transforms = standard_transforms(28)
    same = torch.rand(1, 3, 28, 28, generator=generator()).expand(2, 3, 28, 28)
    out = transforms(same, step_draws([SEED, SEED + 1]))
    assert not torch.equal(out[0], out[1])
    twin = transforms(same, step_draws([SEED, SEED]))
    assert torch.equal(twin[0], twin[1])


def test_transforms_are_differentiable() -> None:
    image = torch.rand(1, 3, 28, 28, generator=generator()).requires_grad_(True)
    standard_transforms(28)(image, step_draws([SEED + 3])).sum().backward()
    assert image.grad is not None
    assert float(image.grad.abs().sum()) > 0


def test_the_default_amounts_describe_the_transforms_as_before() -> None:
    # the description joins every cache key: defaults must keep stored results' keys
    from atlas.optvis.transforms import standard_transforms

    assert standard_transforms(224).describe() == (
        "pad 21, jitter 14, scale 0.9–1.1, rotate ±10°, jitter 7, fit 224")
    assert standard_transforms(28, 8, 0.1, 10).describe() == (
        "pad 3, jitter 2, scale 0.9–1.1, rotate ±10°, jitter 1, fit 28")


def test_transform_amounts_scale_each_transform_and_zero_leaves_it_out() -> None:
    from atlas.optvis.transforms import standard_transforms

    assert standard_transforms(224, jitter=16, scale=0.2, rotate=20).describe() == (
        "pad 42, jitter 28, scale 0.8–1.2, rotate ±20°, jitter 14, fit 224")
    assert standard_transforms(224, jitter=0, scale=0.1, rotate=0).describe() == (
        "scale 0.9–1.1, fit 224")
    assert standard_transforms(224, 0, 0.0, 0).describe() == "fit 224"
