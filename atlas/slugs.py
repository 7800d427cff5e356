"""File-system-safe, collision-free names for layers and other untrusted text."""

from __future__ import annotations

import hashlib
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def slugify(name: str) -> str:
    """A slug made only of [A-Za-z0-9_.-] that never starts with '.', so it
    cannot climb out of its folder. Names that needed changing get a short hash
    suffix, so two different names never share a slug."""
    slug = _UNSAFE.sub("_", name).strip("._") or "_"
    if slug != name:
        slug = f"{slug[:60]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    return slug
