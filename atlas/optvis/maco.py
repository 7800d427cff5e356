"""Magnitude-constrained images (MACO, Fel et al. 2023): the Fourier magnitude
of every image is fixed to that of natural images and only the phase is
optimized, so an image can rearrange its structure but never gain the
extreme contrast or high-frequency energy that a free spectrum drifts into.

The magnitude lives in decorrelated colour space (the space the image is
built in, before `ColorDecorrelation`). It is estimated from the build's
dataset when there is one; otherwise a 1/f power law, the average spectrum
of natural photographs, is the documented fallback.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from atlas.optvis.color import COLOR_MEAN, ColorDecorrelation
from atlas.optvis.spatial import fourier_frequencies, seeded_normal

PHASE_SD = float(np.pi)  # initial phases: random angles
MAGNITUDE_IMAGES = 256  # dataset images averaged for the magnitude estimate


def power_law_magnitude(size: int) -> torch.Tensor:
    """(3, size, size // 2 + 1) magnitude falling as 1/frequency, the fallback
    without a dataset (the same prior as the Fourier parameterization)."""
    freqs = fourier_frequencies(size, size)
    magnitude = 1.0 / np.maximum(freqs, 1.0 / size)
    return torch.tensor(np.stack([magnitude] * 3), dtype=torch.float32)


def dataset_magnitude(images: torch.Tensor) -> torch.Tensor:
    """Mean Fourier magnitude (3, H, W // 2 + 1) of `images` (N, 3, H, W) in
    [0, 1], taken in decorrelated colour space after removing the mean colour."""
    matrix = ColorDecorrelation().matrix.to(images.dtype)
    centred = images - torch.tensor(COLOR_MEAN, dtype=images.dtype).view(1, 3, 1, 1)
    decorrelated = torch.einsum("nchw,dc->ndhw", centred, torch.linalg.inv(matrix))
    spectrum = torch.fft.rfftn(decorrelated, dim=(-2, -1), norm="ortho")
    return symmetric(spectrum.abs().mean(0), images.shape[-1])


def _edge_columns(width: int) -> list[int]:
    """rfft columns whose coefficients must be conjugate-symmetric along the
    rows (the zero frequency column, and the Nyquist column of an even width)."""
    return [0, width // 2] if width % 2 == 0 else [0]


def _mirror_rows(height: int) -> torch.Tensor:
    return (-torch.arange(height)) % height


def symmetric(magnitude: torch.Tensor, width: int) -> torch.Tensor:
    """`magnitude` (of an rfft2 over images `width` wide) with its edge columns
    made symmetric in frequency, as the magnitude of a real image's spectrum is."""
    height = magnitude.shape[-2]
    columns = torch.tensor(_edge_columns(width))
    edge = magnitude[..., columns]
    fixed = (edge + edge[..., _mirror_rows(height), :]) / 2
    return magnitude.index_copy(-1, columns, fixed)


class MacoImage(nn.Module):
    """Images whose rfft2 magnitude is `magnitude` and whose phase is optimized.

    The phase of the edge columns is kept antisymmetric in frequency (and zero
    where a coefficient is its own conjugate), so the inverse transform is
    exact and the magnitude holds to float precision at every step. The image
    is then standardized (zero mean, unit deviation per image): the magnitude
    fixes the shape of the spectrum, the standardization its scale.
    """

    magnitude: torch.Tensor  # buffers (register_buffer)
    columns: torch.Tensor
    mirror: torch.Tensor

    def __init__(self, size: int, seeds: Sequence[int], magnitude: torch.Tensor) -> None:
        super().__init__()
        expected = (3, size, size // 2 + 1)
        if tuple(magnitude.shape) != expected:
            raise ValueError(f"magnitude has shape {tuple(magnitude.shape)}, not {expected}")
        self.size = size
        self.phase = nn.Parameter(seeded_normal(expected, seeds, PHASE_SD))
        self.register_buffer("magnitude", symmetric(magnitude.float(), size))
        self.register_buffer("columns", torch.tensor(_edge_columns(size)))
        self.register_buffer("mirror", _mirror_rows(size))

    def spectrum(self) -> torch.Tensor:
        edge = self.phase[..., self.columns]
        antisymmetric = (edge - edge[..., self.mirror, :]) / 2
        phase = self.phase.index_copy(-1, self.columns, antisymmetric)
        return torch.complex(self.magnitude * torch.cos(phase), self.magnitude * torch.sin(phase))

    def raw(self) -> torch.Tensor:
        """The images before standardization: their spectrum is exactly `spectrum()`."""
        return torch.fft.irfftn(self.spectrum(), s=(self.size, self.size), norm="ortho")

    def forward(self) -> torch.Tensor:
        image = self.raw()
        flat = image.flatten(1)
        mean = flat.mean(1).view(-1, 1, 1, 1)
        std = flat.std(1).clamp_min(1e-6).view(-1, 1, 1, 1)
        return (image - mean) / std
