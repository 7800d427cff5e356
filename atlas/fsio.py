"""Atomic file writes: a reader never sees a half-written file.

Every file atlas writes goes through here. The bytes land in a temporary file
beside the target, are flushed to disk, then renamed over it: rename is atomic
on POSIX, so an interrupted build leaves either the old file or the new one.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Write `data` to `path` so that `path` is never seen truncated.

    `durable` also waits until the bytes are on disk before the rename, so not
    even a power cut leaves an empty file. Files that can be remade from others
    (the HTML pages, from the stored results) skip that wait: the rename alone
    keeps an interrupted process from leaving a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path: Path, text: str, durable: bool = True) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), durable)


def write_json_atomic(path: Path, value: Any) -> None:
    """Compact JSON with sorted keys and a trailing newline, so equal data gives equal
    bytes. Compact: records are published beside their images, and indenting doubled
    an examples record (14 KB a unit, against 7 KB)."""
    write_text_atomic(path, json.dumps(value, sort_keys=True, separators=(",", ":"),
                                       allow_nan=False) + "\n")


def read_json(path: Path) -> Any | None:
    """A JSON file's content, None where it is missing, unreadable or broken (a record a
    build may not have written yet)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_png_atomic(path: Path, image: Any) -> None:
    """Save a PIL image as PNG atomically (no timestamps: equal pixels give equal bytes)."""
    write_image_atomic(path, image, "png")


def encode_image(image: Any, image_format: str, quality: int = 90) -> bytes:
    """A PIL image as PNG (lossless), WebP or AVIF (lossy, `quality` 1-100) bytes."""
    buffer = io.BytesIO()
    if image_format == "webp":
        image.save(buffer, format="WEBP", quality=quality, method=6)
    elif image_format == "avif":
        image.save(buffer, format="AVIF", quality=quality, speed=8)
    else:
        image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def write_image_atomic(path: Path, image: Any, image_format: str, quality: int = 90) -> None:
    """Save a PIL image as PNG or WebP (see `encode_image`) atomically."""
    write_bytes_atomic(path, encode_image(image, image_format, quality))
