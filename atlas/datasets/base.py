"""The dataset contract: a fixed, ordered list of images, each with a source and text labels.

A dataset is chosen once (which items, in which order) when it is opened, and
that choice is summed up in `fingerprint`, so a build can tell whether stored
results still match the data. Pixels are read on demand by `load`, which skips
files it cannot decode and records them in `skipped` rather than failing a
long build on one bad file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from atlas.datasets.decode import DECODE_ERRORS, short_reason
from atlas.errors import AtlasError

# Pillow releases the GIL while decoding, so a few threads speed up big batches.
_DECODE_THREADS = min(8, os.cpu_count() or 1)
_SERIAL_BELOW = 4  # a pool costs more than it saves on a handful of images


class Dataset:
    """Images of one size, (3, image_size, image_size) in [0, 1], addressed by index."""

    spec: str  # its published name: a built-in name, or a folder's own name ("photos/")
    root: Path | None  # the folder, resolved (never published); None for a built-in set
    image_size: int
    label_keys: tuple[str, ...]  # the label names an item may carry, e.g. ("class", "colour")
    fingerprint: str  # 16 hex chars over the selection, file sizes/mtimes and options
    skipped: list[tuple[str, str]]  # (source, reason) per undecodable file, once, in order met
    notes: list[str]  # one line each on what opening it left out (the build report says them)

    def __init__(
        self,
        spec: str,
        root: Path | None,
        image_size: int,
        label_keys: tuple[str, ...],
        fingerprint: str,
    ) -> None:
        self.spec = spec
        self.root = root
        self.image_size = image_size
        self.label_keys = label_keys
        self.fingerprint = fingerprint
        self.skipped = []
        self.notes = []
        self._skipped_sources: set[str] = set()

    def __len__(self) -> int:
        raise NotImplementedError

    def source(self, index: int) -> str:
        """Where item `index` comes from, as text to show (untrusted: escape it when rendering)."""
        raise NotImplementedError

    # Files are decoded in threads; a dataset already in memory skips the pool.
    decodes_files = True

    def labels(self, index: int) -> dict[str, str]:
        """Item `index`'s labels, keyed by some of `label_keys`."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line for the build report and the pages."""
        raise NotImplementedError

    def _read(self, index: int) -> np.ndarray:
        """Item `index` as (S, S, 3) float32 in [0, 1]; may raise one of DECODE_ERRORS."""
        raise NotImplementedError

    def load(self, indices: Sequence[int]) -> tuple[torch.Tensor, list[int]]:
        """The readable images among `indices` as (n, 3, S, S) float32, and which indices they are.

        Order follows `indices`. Unreadable files are left out and recorded in
        `skipped` (once each), never raised.
        """
        wanted = [self._checked(index) for index in indices]
        if len(wanted) < _SERIAL_BELOW or not self.decodes_files:
            outcomes = [self._attempt(index) for index in wanted]
        else:
            with ThreadPoolExecutor(max_workers=_DECODE_THREADS) as pool:
                outcomes = list(pool.map(self._attempt, wanted))
        pixels, kept = [], []
        for index, outcome in zip(wanted, outcomes):
            if isinstance(outcome, str):
                self._record_skip(self.source(index), outcome)
            else:
                pixels.append(outcome)
                kept.append(index)
        size = self.image_size
        if not pixels:
            return torch.zeros((0, 3, size, size), dtype=torch.float32), []
        batch = torch.from_numpy(np.stack(pixels).astype(np.float32, copy=False))
        return batch.permute(0, 3, 1, 2).contiguous(), kept

    def reload(self, indices: Sequence[int], purpose: str) -> torch.Tensor:
        """The images at `indices`, read again after the dataset pass (for `purpose`,
        e.g. "the accent view"); a clear error where one cannot be read any more."""
        pixels, kept = self.load(indices)
        if len(kept) != len(indices):
            raise AtlasError(f"a dataset image could not be read again for {purpose}; check "
                             "that the dataset folder did not change since the dataset pass")
        return pixels

    def skipped_names(self, count: int = 3) -> str:
        """The first skipped files and why, files of one reason together:
        'a.png, b.png (not an image Pillow can read); item 7 (NaN or Inf pixels)'."""
        groups: dict[str, list[str]] = {}
        for source, reason in self.skipped[:count]:
            groups.setdefault(reason, []).append(source)
        return "; ".join(f"{', '.join(sources)} ({reason})" for reason, sources in groups.items())

    def _attempt(self, index: int) -> np.ndarray | str:
        """The pixels, or the reason they could not be read."""
        try:
            return self._read(index)
        except DECODE_ERRORS as error:
            return short_reason(error)

    def _record_skip(self, source: str, reason: str) -> None:
        if source not in self._skipped_sources:
            self._skipped_sources.add(source)
            self.skipped.append((source, reason))

    def _checked(self, index: int) -> int:
        # No negative indices: -1 silently meaning "the last" would hide bugs.
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"dataset index {index} out of range 0..{len(self) - 1}")
        return index


def sample_indices(total: int, limit: int | None, seed: int) -> np.ndarray:
    """Which of `total` items to keep: all, or a seeded sample of `limit`, in ascending order."""
    if limit is None or limit >= total:
        return np.arange(total)
    chosen = np.random.default_rng(seed).choice(total, size=limit, replace=False)
    return np.sort(chosen)


def fingerprint_of(parts: list) -> str:
    """16 hex chars of sha256 over a JSON-able description of the selection."""
    text = json.dumps(parts, separators=(",", ":"))  # ensure_ascii: odd file names are safe
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:16]


def plural(count: int, word: str, words: str | None = None) -> str:
    """'1 image', '1,234 images'; `words` for irregular plurals ('classes')."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {words or word + 's'}"
