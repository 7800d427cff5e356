"""File-system-safe, collision-free names for layers and other untrusted text."""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_KEEPABLE = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_HASHED = re.compile(r"-[0-9a-f]{8}$")
MAX_LENGTH = 60  # well under any file system's name limit, with room for a suffix


def slugify(name: str) -> str:
    """A slug made only of [A-Za-z0-9_.-] that never starts with '.' or '_', so
    it cannot climb out of its folder or meet atlas's own '_' folders.

    Only a short lowercase name of safe characters is kept as it is; every other
    name (changed, shortened, with capitals, or itself ending like a hash suffix)
    gets "-" and 8 hex digits of its hash. So two different names never share a
    slug, not even on a case-insensitive file system."""
    if _KEEPABLE.fullmatch(name) and len(name) <= MAX_LENGTH and not _HASHED.search(name):
        return name
    slug = _UNSAFE.sub("_", name).strip("._") or "unnamed"
    return f"{slug[:MAX_LENGTH]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
