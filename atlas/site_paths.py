"""Paths that a site's manifest and records name: relative to the site root, with
`/` separators. They are read from files anyone may have edited, so they are data,
never a key to the disk: every reader turns one into a file through `SiteFiles`,
which refuses a path that would leave the site.

Kept apart from `atlas.site` (the pages) because the store and the manifest reader,
which the pages import, check their paths here too.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# RFC 3986: a scheme is a letter, then letters, digits, '+', '-' or '.', then ':'.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def site_path_parts(path: object) -> list[str]:
    """Split a site-root-relative path into its segments, refusing unsafe ones.

    A path that is absolute, climbs out of the site (`..`), has empty or `.`
    segments, uses backslashes, or carries a URL scheme (`javascript:`, `data:`,
    `http:`, `C:`) would either break the site or reach outside it, so it raises
    ValueError instead.
    """
    if not isinstance(path, str) or not path:
        raise ValueError(f"site path must be a non-empty string, got {path!r}")
    if "\\" in path:
        raise ValueError(f"site path must use '/' separators: {path!r}")
    if path.startswith("/"):
        raise ValueError(f"site path must be relative to the site root: {path!r}")
    if _SCHEME.match(path):
        raise ValueError(f"site path must not carry a URL scheme: {path!r}")
    if "\0" in path:
        raise ValueError(f"site path must not hold a NUL character: {path!r}")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise ValueError(f"site path has an empty, '.' or '..' segment: {path!r}")
    return parts


class SiteFiles:
    """Turns site paths into files of one site, each checked: a safe site path
    (`site_path_parts`) that, with its links resolved, stays inside the site's
    folder. Anything else raises ValueError, which its reader words for the user.

    Each folder's real path is looked up once per instance (a site's thousands of
    images share a few folders), so keep one for a pass over a site, not longer."""

    def __init__(self, site_dir: Path) -> None:
        self.root = Path(os.path.realpath(site_dir))
        self._folders: dict[tuple[str, ...], Path] = {}

    def file(self, path: object) -> Path:
        """The file `path` names, resolved inside the site (it need not exist)."""
        parts = site_path_parts(path)
        found = self._folder(tuple(parts[:-1]), path) / parts[-1]
        if found.is_symlink():
            found = self._inside(Path(os.path.realpath(found)), path)
        return found

    def _folder(self, parts: tuple[str, ...], path: object) -> Path:
        folder = self._folders.get(parts)
        if folder is None:
            folder = self._inside(Path(os.path.realpath(self.root.joinpath(*parts))), path)
            self._folders[parts] = folder
        return folder

    def _inside(self, real: Path, path: object) -> Path:
        if real != self.root and self.root not in real.parents:
            raise ValueError(f"site path {path!r} leads out of the site through a link")
        return real


def site_file(site_dir: Path, path: object) -> Path:
    """The file the site path `path` names inside `site_dir` (see `SiteFiles`)."""
    return SiteFiles(site_dir).file(path)
