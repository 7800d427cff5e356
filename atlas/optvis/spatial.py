"""The spatial bases an image is optimized in: raw pixels, or an rfft2 spectrum
scaled by 1/frequency. Each image is drawn from its own seed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

# Lucid's constant: dividing the Fourier image keeps initial saturation low.
FOURIER_MAGIC = 4.0


def seeded_normal(shape: Sequence[int], seeds: Sequence[int], sd: float) -> torch.Tensor:
    """One standard-normal draw per image, each from its own generator."""
    draws = []
    for seed in seeds:
        generator = torch.Generator().manual_seed(int(seed))
        draws.append(torch.randn(*shape, generator=generator) * sd)
    return torch.stack(draws)


def fourier_frequencies(height: int, width: int) -> np.ndarray:
    """Spatial frequency magnitude of each coefficient of an rfft2 of (height, width)."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fx * fx + fy * fy)


class PixelImage(nn.Module):
    """Raw pixels: (N, 3, H, W) values optimized directly."""

    def __init__(self, size: int, seeds: Sequence[int], sd: float = 0.01) -> None:
        super().__init__()
        self.pixels = nn.Parameter(seeded_normal((3, size, size), seeds, sd))

    def forward(self) -> torch.Tensor:
        return self.pixels


class FourierImage(nn.Module):
    """Image as an rfft2 spectrum scaled by 1/frequency (a prior for natural images).

    The spectrum is stored as real pairs (..., 2) so it is an ordinary float
    parameter; the scale is a buffer, so `.to(device)` carries it along.
    """

    scale: torch.Tensor  # a buffer (register_buffer)

    def __init__(
        self, size: int, seeds: Sequence[int], sd: float = 0.01, decay_power: float = 1.0
    ) -> None:
        super().__init__()
        self.size = size
        freqs = fourier_frequencies(size, size)
        self.spectrum = nn.Parameter(seeded_normal((3, *freqs.shape, 2), seeds, sd))
        scale = 1.0 / np.maximum(freqs, 1.0 / size) ** decay_power
        self.register_buffer("scale",
                             torch.tensor(scale, dtype=torch.float32)[None, None, ..., None])

    def forward(self) -> torch.Tensor:
        spectrum = torch.view_as_complex((self.scale * self.spectrum).contiguous())
        image = torch.fft.irfftn(spectrum, s=(self.size, self.size), norm="ortho")
        return image / FOURIER_MAGIC
