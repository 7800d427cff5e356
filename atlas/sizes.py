"""Sizes in bytes as people write them ("12GB", "512 MiB") and as pages print them."""

from __future__ import annotations

import re

from atlas.errors import AtlasError

UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_size(text: str, setting: str) -> int:
    """'12GB' -> 12_000_000_000, '1.5GiB' -> 1_610_612_736; an AtlasError naming
    `setting` for anything else."""
    match = _SIZE.match(str(text))
    unit = match.group(2).upper() if match else ""
    if not match or unit not in UNITS:
        raise AtlasError(f"{setting} must be a size such as \"8GB\", \"512MB\" or \"2GiB\", "
                         f"not {text!r}")
    size = int(float(match.group(1)) * UNITS[unit])
    if size < 1:
        raise AtlasError(f"{setting} must be more than zero bytes, not {text!r}")
    return size


def format_size(size: float) -> str:
    """Bytes in the largest decimal unit that keeps the number at least 1."""
    for unit in ("TB", "GB", "MB", "KB"):
        if abs(size) >= UNITS[unit]:
            return f"{size / UNITS[unit]:,.1f} {unit}"
    return f"{size:,.0f} B"
