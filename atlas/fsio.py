"""Atomic file writes: a reader never sees a half-written file.

Every file atlas writes goes through here. The bytes land in a temporary file
beside the target, are flushed to disk, then renamed over it: rename is atomic
on POSIX, so an interrupted build leaves either the old file or the new one.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from atlas.errors import AtlasError
from atlas.sizes import format_size

# A half-written file is named `.<name>.<8 random characters>.atlas-tmp`: only names of
# that shape are atlas's leftovers (control/ownership.py removes them, nothing else).
TMP_SUFFIX = ".atlas-tmp"
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def write_bytes_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Write `data` to `path` so that `path` is never seen truncated.

    `durable` also waits until the bytes are on disk before the rename, so not
    even a power cut leaves an empty file. Files that can be remade from others
    (the HTML pages, from the stored results) skip that wait: the rename alone
    keeps an interrupted process from leaving a half-written file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                        suffix=TMP_SUFFIX)
    except OSError as error:
        raise_if_disk_full(error, path.parent)
        raise
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; outputs are meant to be shared
        os.replace(tmp_name, path)
    except BaseException as error:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        if isinstance(error, OSError):
            raise_if_disk_full(error, path.parent, len(data))
        raise


def is_partial_write(name: str) -> bool:
    """Whether a file name is one `write_bytes_atomic` gives a file it has not finished."""
    stem = name[1:-len(TMP_SUFFIX)] if name.endswith(TMP_SUFFIX) else ""
    return name.startswith(".") and len(stem.rpartition(".")[2]) == 8 and "." in stem


def raise_if_disk_full(error: OSError, folder: Path, needed: int | None = None) -> None:
    """Turns a full disk into one line (see `disk_full_line`); any other error is left
    to the caller."""
    line = disk_full_line(error, folder, needed)
    if line:
        raise AtlasError(line) from None


def disk_full_line(error: OSError, folder: Path, needed: int | None = None) -> str | None:
    """What to tell the user when `error` is a full disk while writing into `folder`:
    the folder, its free space and what the file needed (finished work is kept, so the
    same command resumes once there is room); None for any other error."""
    if error.errno not in DISK_FULL:
        return None
    try:
        free = f"{format_size(shutil.disk_usage(folder).free)} free"
    except OSError:
        free = "free space unknown"
    wanted = f", {format_size(needed)} more for the file being written" if needed else ""
    return (f"the disk holding {folder} is full ({free}{wanted}); free some space "
            "(`atlas plan` says how much the whole site takes), then run the same "
            "command: finished work is kept")
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
