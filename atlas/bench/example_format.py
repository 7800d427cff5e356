"""`atlas bench --example-format`: which format and quality stores dataset examples
most compactly while keeping them faithful, measured on real photographs.

Crops of real images (a folder, or crops of scikit-learn's sample photographs)
are cut at a receptive field's size, scaled to the size pages show them at
(`EXAMPLE_PIXELS`) and encoded as PNG, WebP and AVIF at several qualities.
Each encoding is decoded again and compared with the crop: its PSNR and its
worst 1% of pixel differences. The smallest encoding whose PSNR reaches
`FAITHFUL_PSNR` wins; the table shows every candidate.
"""

from __future__ import annotations

import io
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from atlas.fsio import encode_image
from atlas.pipeline.dataset.examples import (
    EXAMPLE_PIXELS,
    EXAMPLE_QUALITY,
    FAITHFUL_PSNR,
    shown_size,
)

CANDIDATES = [("png", 100)] + [("webp", q) for q in (80, 85, 86, 87, 88, 90, 95)] + [
    ("avif", q) for q in (70, 72, 75, 80, 85)]
CROP_SIDES = (59, 107, 171, 224)  # InceptionV1's receptive fields at 224 px: mixed3a to whole


@dataclass
class Encoding:
    image_format: str
    quality: int
    bytes: float  # mean per image
    psnr: float  # mean over images, dB
    worst: float  # mean over images of the 99th percentile |difference|, 0-255
    seconds: float  # to encode one image


def _crops(folder: Path | None, count: int, seed: int = 0) -> list[Image.Image]:
    """`count` crops of real photographs at the sides InceptionV1's layers cut."""
    from atlas.bench.dataset_pass import sample_photos

    if folder is None:
        folder = sample_photos(Path(tempfile.mkdtemp(prefix="atlas-photos-")), count, seed)
    generator = np.random.default_rng(seed)
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    files = [files[i] for i in generator.permutation(len(files))[:count]]  # a seeded sample
    crops = []
    for index, path in enumerate(files):
        with Image.open(path) as opened:
            photo = opened.convert("RGB").resize((224, 224), Image.BICUBIC)  # type: ignore[attr-defined]
        side = CROP_SIDES[index % len(CROP_SIDES)]
        top, left = (int(generator.integers(0, 224 - side + 1)) for _ in range(2))
        crop = photo.crop((left, top, left + side, top + side))
        size = shown_size(side)
        crops.append(crop.resize((size, size), Image.LANCZOS)  # type: ignore[attr-defined]
                     if size != side else crop)
    return crops


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if error == 0 else 10 * np.log10(255.0 ** 2 / error)


def measure(crops: list[Image.Image]) -> list[Encoding]:
    results = []
    for image_format, quality in CANDIDATES:
        sizes, psnrs, worst = [], [], []
        started = time.perf_counter()
        encoded = [encode_image(crop, image_format, quality) for crop in crops]
        seconds = (time.perf_counter() - started) / len(crops)
        for crop, data in zip(crops, encoded):
            with Image.open(io.BytesIO(data)) as decoded:
                back = np.asarray(decoded.convert("RGB"))
            original = np.asarray(crop)
            sizes.append(len(data))
            psnrs.append(_psnr(original, back))
            worst.append(float(np.percentile(np.abs(original.astype(int) - back.astype(int)),
                                             99)))
        results.append(Encoding(image_format, quality, float(np.mean(sizes)),
                                float(np.mean(psnrs)), float(np.mean(worst)), seconds))
    return results


def report(folder: Path | None, count: int) -> list[str]:
    results = measure(_crops(folder, count))
    faithful = [r for r in results if r.psnr >= FAITHFUL_PSNR]
    best = min(faithful, key=lambda r: r.bytes) if faithful else None
    png = next(r for r in results if r.image_format == "png")
    lines = [f"atlas bench --example-format: {count} crops of real photographs "
             f"({', '.join(map(str, CROP_SIDES))} px), scaled to at most {EXAMPLE_PIXELS} px "
             f"as pages show them; faithful: PSNR >= {FAITHFUL_PSNR:g} dB",
             "", f"{'format':<8}{'quality':>8}{'bytes/image':>13}{'÷ png':>8}{'PSNR dB':>9}"
                 f"{'99th pct |diff|':>17}{'ms/image':>10}  faithful"]
    for r in results:
        marks = ["yes" if r.psnr >= FAITHFUL_PSNR else "no"]
        if r is best:
            marks.append("<- smallest faithful")
        if (r.image_format, r.quality) == ("webp", EXAMPLE_QUALITY):
            marks.append("<- what atlas stores")
        mark = " ".join(marks)
        lines.append(f"{r.image_format:<8}{r.quality:>8}{r.bytes:>13,.0f}"
                     f"{r.bytes / png.bytes:>8.2f}{r.psnr:>9.1f}{r.worst:>17.1f}"
                     f"{r.seconds * 1e3:>10.1f}  {mark}")
    return lines
