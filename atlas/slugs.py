"""File-system-safe, collision-free names for layers and other untrusted text."""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_LENGTH = 60  # well under any file system's name limit, with room for a suffix


def slugify(name: str) -> str:
    """A slug made only of [A-Za-z0-9_.-] that never starts with '.' or '_', so
    it cannot climb out of its folder or meet atlas's own '_' folders. Names
    that needed changing or shortening get a short hash suffix, so two different
    names never share a slug."""
    slug = _UNSAFE.sub("_", name).strip("._") or "unnamed"
    if slug != name or len(slug) > MAX_LENGTH:
        slug = f"{slug[:MAX_LENGTH]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return slug
