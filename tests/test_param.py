"""Image parameterizations, checked against torch-lucent as the reference.

The same initial spectrum (or pixels) goes into lucent's functions and into
ours; the images, and the gradients flowing back, must match.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_helpers import SEED, image_seeds
from lucent.optvis.param import color as lucent_color
from lucent.optvis.param import spatial as lucent_spatial
from torch.testing import assert_close

from atlas.optvis.color import COLOR_MEAN, ColorDecorrelation
from atlas.optvis.param import ImageParam, describe_param
from atlas.optvis.spatial import FourierImage, PixelImage, fourier_frequencies

SIZES = [8, 16, 28]
# lucent keeps a module-level device (cuda:0 when there is a GPU); the
# comparisons run ours there too, so they pass on CPU-only and GPU machines.
LUCENT_DEVICE = lucent_spatial.device


def _lucent_fft(ours: torch.Tensor):
    """lucent's fft_image loaded with our spectrum; returns (its tensor, image fn)."""
    batch, channels, height = ours.shape[:3]
    params, image_f = lucent_spatial.fft_image((batch, channels, height, height))
    assert params[0].shape == ours.shape
    params[0].data = ours.detach().clone().to(LUCENT_DEVICE)
    return params[0], image_f


def _lucent_pixels(ours: torch.Tensor):
    params, image_f = lucent_spatial.pixel_image(tuple(ours.shape))
    params[0].data = ours.detach().clone().to(LUCENT_DEVICE)
    return params[0], image_f


def _probe(images: torch.Tensor) -> torch.Tensor:
    """A fixed, non-uniform scalar of the images, to compare gradients."""
    weights = torch.linspace(-1.0, 2.0, images[0].numel(), device=images.device)
    weights = weights.view_as(images[0])
    return (images * weights).sum()


@pytest.mark.parametrize("size", SIZES)
def test_fourier_frequencies_match_lucent_for_even_sizes(size: int) -> None:
    ours = fourier_frequencies(size, size)
    assert ours.shape == (size, size // 2 + 1)
    np.testing.assert_allclose(ours, lucent_spatial.rfft2d_freqs(size, size), rtol=0, atol=0)


def test_fourier_frequencies_exact_values() -> None:
    # fy = fftfreq(4) = [0, .25, -.5, -.25]; fx = rfftfreq(4) = [0, .25, .5]
    expected = np.array(
        [
            [0.0, 0.25, 0.5],
            [0.25, np.sqrt(0.125), np.sqrt(0.3125)],
            [0.5, np.sqrt(0.3125), np.sqrt(0.5)],
            [0.25, np.sqrt(0.125), np.sqrt(0.3125)],
        ]
    )
    np.testing.assert_allclose(fourier_frequencies(4, 4), expected, rtol=1e-12)


@pytest.mark.parametrize("size", SIZES)
def test_fourier_image_matches_lucent(size: int) -> None:
    ours = FourierImage(size, image_seeds(2), sd=0.5).to(LUCENT_DEVICE)
    assert ours.spectrum.shape == (2, 3, size, size // 2 + 1, 2)
    reference, reference_f = _lucent_fft(ours.spectrum)

    image, expected = ours(), reference_f()
    assert image.shape == (2, 3, size, size)
    assert image.abs().max() > 0.01  # not trivially zero
    assert_close(image, expected)

    _probe(image).backward()
    _probe(expected).backward()
    assert_close(ours.spectrum.grad, reference.grad)


@pytest.mark.parametrize("decorrelate", [True, False])
@pytest.mark.parametrize("size", SIZES)
def test_fft_image_param_matches_lucent_to_valid_rgb(size: int, decorrelate: bool) -> None:
    ours = ImageParam(size, image_seeds(2), param="fourier", decorrelate=decorrelate, sd=0.5)
    ours = ours.to(LUCENT_DEVICE)
    reference, reference_f = _lucent_fft(ours.spatial.spectrum)
    expected_f = lucent_color.to_valid_rgb(reference_f, decorrelate=decorrelate)

    image, expected = ours(), expected_f()
    assert image.detach().std() > 1e-3
    assert_close(image, expected)

    _probe(image).backward()
    _probe(expected).backward()
    assert_close(ours.spatial.spectrum.grad, reference.grad)


@pytest.mark.parametrize("decorrelate", [True, False])
def test_pixel_image_param_matches_lucent_to_valid_rgb(decorrelate: bool) -> None:
    ours = ImageParam(8, image_seeds(3), param="pixel", decorrelate=decorrelate, sd=1.0)
    ours = ours.to(LUCENT_DEVICE)
    assert ours.spatial.pixels.shape == (3, 3, 8, 8)
    reference, reference_f = _lucent_pixels(ours.spatial.pixels)
    expected_f = lucent_color.to_valid_rgb(reference_f, decorrelate=decorrelate)

    image, expected = ours(), expected_f()
    assert_close(image, expected)

    _probe(image).backward()
    _probe(expected).backward()
    assert_close(ours.spatial.pixels.grad, reference.grad)


def test_color_decorrelation_matrix_is_lucents() -> None:
    matrix = ColorDecorrelation().matrix
    assert matrix.shape == (3, 3)
    assert_close(matrix, torch.from_numpy(lucent_color.color_correlation_normalized))
    # normalized: the largest column norm is exactly 1
    assert_close(matrix.norm(dim=0).max(), torch.tensor(1.0))


def test_color_decorrelation_maps_a_pure_channel_to_a_matrix_column() -> None:
    decorrelate = ColorDecorrelation()
    image = torch.zeros(1, 3, 2, 2)
    image[:, 1] = 1.0  # only the second decorrelated coordinate
    rgb = decorrelate(image)
    expected = decorrelate.matrix[:, 1].view(1, 3, 1, 1).expand(1, 3, 2, 2)
    assert_close(rgb, expected)


def test_pixel_image_init_scale() -> None:
    pixels = PixelImage(16, image_seeds(4), sd=0.01).pixels.detach()
    assert pixels.shape == (4, 3, 16, 16)
    assert 0.008 < float(pixels.std()) < 0.012


@pytest.mark.parametrize("param", ["fourier", "pixel", "maco"])
def test_each_image_depends_only_on_its_own_seed(param: str) -> None:
    pair = ImageParam(8, [SEED + 1, SEED + 2], param=param)
    alone = ImageParam(8, [SEED + 2], param=param)
    pair_tensor, alone_tensor = (next(p.spatial.parameters()) for p in (pair, alone))
    assert torch.equal(pair_tensor[1], alone_tensor[0])
    assert not torch.equal(pair_tensor[0], pair_tensor[1])
    assert_close(pair()[1], alone()[0], rtol=0, atol=1e-7)


def test_same_seeds_give_the_same_images_regardless_of_global_rng() -> None:
    torch.manual_seed(123)
    first = ImageParam(8, image_seeds(2))()
    torch.manual_seed(456)
    second = ImageParam(8, image_seeds(2))()
    assert torch.equal(first, second)


@pytest.mark.parametrize("valid", ["sigmoid", "clamp"])
@pytest.mark.parametrize("param", ["fourier", "pixel", "maco"])
def test_output_is_in_unit_range(param: str, valid: str) -> None:
    # a large sd drives many values beyond the valid range before squashing
    with torch.no_grad():
        image = ImageParam(16, image_seeds(2), param=param, valid=valid, sd=5.0)()
    assert image.shape == (2, 3, 16, 16)
    assert float(image.min()) >= 0.0
    assert float(image.max()) <= 1.0
    assert float(image.std()) > 0.1


def test_sigmoid_of_zero_is_grey() -> None:
    param = ImageParam(4, [SEED], param="pixel", decorrelate=True, valid="sigmoid")
    with torch.no_grad():
        param.spatial.pixels.zero_()
    assert torch.equal(param(), torch.full((1, 3, 4, 4), 0.5))


def test_clamp_adds_the_mean_colour_and_clips() -> None:
    param = ImageParam(2, [SEED], param="pixel", decorrelate=False, valid="clamp")
    with torch.no_grad():
        param.spatial.pixels.zero_()
        param.spatial.pixels[0, :, 0, 0] = 1.0  # -> clipped to 1
        param.spatial.pixels[0, :, 0, 1] = -1.0  # -> clipped to 0
        param.spatial.pixels[0, :, 1, 0] = 0.1  # -> mean + 0.1
    image = param()[0]
    assert torch.equal(image[:, 0, 0], torch.ones(3))
    assert torch.equal(image[:, 0, 1], torch.zeros(3))
    assert_close(image[:, 1, 0], torch.tensor(COLOR_MEAN) + 0.1)
    assert_close(image[:, 1, 1], torch.tensor(COLOR_MEAN))


def test_clamp_passes_no_gradient_where_clipped() -> None:
    param = ImageParam(2, [SEED], param="pixel", decorrelate=False, valid="clamp")
    with torch.no_grad():
        param.spatial.pixels.zero_()
        param.spatial.pixels[0, :, 0, 0] = 5.0
    param().sum().backward()
    grad = param.spatial.pixels.grad[0]
    assert torch.equal(grad[:, 0, 0], torch.zeros(3))
    assert torch.equal(grad[:, 1, 1], torch.ones(3))


def test_unknown_valid_mode_raises() -> None:
    with pytest.raises(ValueError, match="tanh"):
        ImageParam(4, [SEED], valid="tanh")


def test_to_dtype_moves_parameters_and_buffers() -> None:
    param = ImageParam(8, image_seeds(2)).to(torch.float64)
    assert param.spatial.spectrum.dtype == torch.float64
    assert param.spatial.scale.dtype == torch.float64
    assert param.color.matrix.dtype == torch.float64
    assert param.color_mean.dtype == torch.float64
    assert param().dtype == torch.float64
    assert {name for name, _ in param.named_buffers()} == {
        "color_mean",
        "spatial.scale",
        "color.matrix",
    }


def test_to_device_moves_buffers() -> None:
    param = ImageParam(8, image_seeds(2)).to("meta")
    tensors = list(param.parameters()) + list(param.buffers())
    assert len(tensors) == 4
    assert all(t.device.type == "meta" for t in tensors)


def test_describe_param() -> None:
    assert describe_param("fourier", True, "sigmoid") == "fft+decorrelate, sigmoid"
    assert describe_param("pixel", False, "clamp") == "pixel, clamp"
