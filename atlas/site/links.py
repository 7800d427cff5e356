"""Relative links between files of the site.

Every URL the site emits is relative, so the same files work opened from
`file://`, served from `/`, or served from a GitHub Pages sub-path. Paths in
the manifest are relative to the site root with `/` separators (checked by
`atlas.site_paths`); this module is the one place that turns two of them into a URL.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote

from atlas.site_paths import site_path_parts


@lru_cache(maxsize=1 << 16)
def _quoted(part: str) -> str:
    """One path segment, percent-quoted (memoized: a site repeats its folder names)."""
    return quote(part, safe="")


@lru_cache(maxsize=1 << 10)
def _folder(page: str) -> tuple[str, ...]:
    """The folders of `page` (memoized: a site's pages share a few dozen folders)."""
    return tuple(site_path_parts(page)[:-1])


def relative_link(from_page: str, to_path: str) -> str:
    """The relative URL that reaches `to_path` from the page `from_page`.

    Both arguments are site-root-relative file paths. Each segment of the
    result is percent-quoted, so names with spaces, `#`, `?`, `:` or non-ASCII
    characters stay one path and never read as a fragment, query or scheme.
    """
    from_dir = _folder(from_page)
    target = site_path_parts(to_path)
    shared = 0
    while (
        shared < len(from_dir)
        and shared < len(target) - 1
        and from_dir[shared] == target[shared]
    ):
        shared += 1
    return "/".join([".."] * (len(from_dir) - shared)
                    + [_quoted(part) for part in target[shared:]])
