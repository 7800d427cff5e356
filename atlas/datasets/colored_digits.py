"""The default model's held-out data: Biased Colored Digits' unbiased_test split.

Every digit in this split is coloured at random, so a unit that responds to a
colour and one that responds to a digit's shape can be told apart.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from atlas.datasets.base import Dataset, fingerprint_of, plural, sample_indices
from atlas.datasets.resize import fit_array
from atlas.models import digits_data

NAME = "colored-digits"
SPLIT = "unbiased_test"
SPLIT_SEED = 0  # the seed load_splits() uses by default, as the model was trained with
# Bump when digits_data changes how it draws or colours its images.
DATA_VERSION = 1


@lru_cache(maxsize=1)
def _split() -> digits_data.ColoredSplit:
    # Building the splits takes seconds (scikit-learn import), and they never change.
    return digits_data.load_splits(SPLIT_SEED)[SPLIT]


class ColoredDigits(Dataset):
    """The unbiased_test split, optionally a seeded sample of it, at any image size."""

    decodes_files = False  # the digits are tensors in memory already

    def __init__(self, image_size: int, limit: int | None, seed: int, resize: str) -> None:
        split = _split()
        self._total = len(split.labels)
        self._positions = [int(i) for i in sample_indices(self._total, limit, seed)]
        chosen = split.images[self._positions]  # (n, 3, 28, 28)
        self._pixels = chosen.permute(0, 2, 3, 1).numpy().astype(np.float32)  # (n, 28, 28, 3)
        self._classes = [str(int(split.labels[i])) for i in self._positions]
        self._colours = [digits_data.COLOUR_NAMES[int(split.colours[i])] for i in self._positions]
        # The images are square, so "crop" and "stretch" give the same result:
        # `resize` is kept for the rule but left out of the fingerprint.
        self._resize = resize
        fingerprint = fingerprint_of(
            [
                NAME, SPLIT, SPLIT_SEED, DATA_VERSION,
                [digits_data.IMAGE_SIZE, digits_data.DIGIT_BOX, digits_data.BIAS,
                 digits_data.TRAIN_FRACTION],
                image_size, limit, seed,
            ]
        )
        super().__init__(NAME, None, image_size, ("class", "colour"), fingerprint)

    def __len__(self) -> int:
        return len(self._positions)

    def source(self, index: int) -> str:
        # The position in the split, so a sampled item still names the same digit.
        return f"{SPLIT}/{self._positions[self._checked(index)]}"

    def labels(self, index: int) -> dict[str, str]:
        index = self._checked(index)
        return {"class": self._classes[index], "colour": self._colours[index]}

    def describe(self) -> str:
        digits = plural(len(self), "held-out digit")
        if len(self) < self._total:
            digits = f"{len(self):,} of {self._total:,} held-out digits (seeded sample)"
        text = f"{NAME}: {digits}, coloured at random"
        if self.image_size != digits_data.IMAGE_SIZE:
            text += f", resized to {self.image_size} px"
        return text

    def _read(self, index: int) -> np.ndarray:
        return fit_array(self._pixels[index], self.image_size, self._resize)
