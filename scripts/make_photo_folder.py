"""Writes a folder of real photographs for benches and slow tests on a trained
network: square crops of the photographs scikit-image (`skimage.data`) and
scikit-learn ship, at random sizes and places, half of them mirrored, 256 px JPEGs.
Everything comes from installed packages; nothing is downloaded.

    python scripts/make_photo_folder.py OUT [COUNT] [--imagenet-labels]

Without `--imagenet-labels` each crop goes into a folder named after its photograph
(`OUT/coffee/00002.jpg`). With it, the crops of photographs that show one ImageNet
class go into a folder named by that class, as `atlas` reads labels
(`OUT/tabby/chelsea-00001.jpg`), and the others stay unlabelled at the top. The
same COUNT gives the same crops on every machine (a fixed seed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

# The photographs, in the order crops cycle through them.
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
                  "immunohistochemistry", "retina", "cat", "colorwheel", "logo")
# Photographs that show one ImageNet class, and the folder name that class reads as.
IMAGENET_LABELS = {"chelsea": "tabby", "cat": "tabby", "coffee": "espresso",
                   "sample0": "palace"}
CROP_SIZE = 256


def photographs() -> list[tuple[str, np.ndarray]]:
    """Each photograph's name and its RGB pixels (uint8, H x W x 3)."""
    try:
        from skimage import data
    except ImportError:
        raise SystemExit("scikit-image is needed: pip install scikit-image") from None
    from sklearn.datasets import load_sample_images

    found = [(name, getattr(data, name)()) for name in SKIMAGE_PHOTOS]
    found += [(f"sample{i}", image) for i, image in enumerate(load_sample_images().images)]
    rgb = []
    for name, pixels in found:
        if pixels.ndim == 2:
            pixels = np.stack([pixels] * 3, -1)
        rgb.append((name, np.asarray(Image.fromarray(pixels[..., :3].astype(np.uint8))
                                     .convert("RGB"))))
    return rgb


def write(out: Path, count: int, imagenet_labels: bool) -> int:
    sources = photographs()
    rng = np.random.default_rng(0)
    for i in range(count):
        name, pixels = sources[i % len(sources)]
        height, width = pixels.shape[:2]
        side = int(rng.integers(min(height, width) // 4, min(height, width)))
        top = int(rng.integers(0, height - side + 1))
        left = int(rng.integers(0, width - side + 1))
        crop = Image.fromarray(pixels[top:top + side, left:left + side])
        crop = crop.resize((CROP_SIZE, CROP_SIZE), Image.BICUBIC)
        if rng.random() < 0.5:
            crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
        if imagenet_labels:
            folder = out / IMAGENET_LABELS[name] if name in IMAGENET_LABELS else out
            path = folder / f"{name}-{i:05d}.jpg"
        else:
            path = out / name / f"{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        crop.save(path, quality=90)
    return count


if __name__ == "__main__":
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    if not args:
        raise SystemExit(__doc__)
    written = write(Path(args[0]), int(args[1]) if len(args) > 1 else 1000,
                    "--imagenet-labels" in sys.argv)
    print(f"{written} crops in {args[0]}")
