"""Which files of an output folder are atlas's, so that atlas touches nothing else.

A build or render writes into a folder only when it is missing, empty or an atlas
site: a folder holding atlas's marker, `.atlas-site`, written before anything else
(or, for a site built before the marker existed, `atlas.json` beside
`results/_build/build.json`). `--force` adopts another folder: atlas adds its files
beside the user's and still deletes only what it made. The marker lists the files
the last render put in place; a render replaces and deletes only those. No symbolic
link is followed inside the folders atlas writes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from atlas.errors import AtlasError
from atlas.fsio import is_partial_write, write_json_atomic
from atlas.manifest_types import LAYER_FILES, LOCK_NAME, MANIFEST, SITE_MARKER
from atlas.store import BUILD_DIR, RESULTS

MARKER_FORMAT = 1
# What a build writes at the site's root before any page: its results, the layers'
# unit files, the lock and the marker.
BUILD_ENTRIES = (RESULTS, LAYER_FILES, LOCK_NAME, SITE_MARKER, MANIFEST)


@dataclass(frozen=True)
class Ownership:
    """What atlas made in a site: `pages` are the files its last render put in place,
    None for a site rendered before the marker listed them (then every page name the
    render writes is taken as atlas's)."""

    site_dir: Path
    pages: frozenset[str] | None

    def owns_page(self, rel: str) -> bool:
        return self.pages is None or rel in self.pages

    def owned_folders(self) -> list[Path]:
        """The folders atlas writes: results/, data/ and those of its pages."""
        names = {RESULTS, LAYER_FILES} | {rel.split("/")[0] for rel in self.pages or ()
                                          if "/" in rel}
        return [self.site_dir / name for name in sorted(names)]


def claim_site(site_dir: Path, force: bool = False) -> Ownership:
    """Checks that atlas may write into `site_dir` (missing, empty, an atlas site, or
    adopted with `force`) and that no link leads out of what it writes; writes nothing
    (`mark_site` does, once the build is under way)."""
    site_dir = Path(site_dir)
    if site_dir.is_symlink() and not site_dir.exists():
        raise AtlasError(f"output directory {site_dir} is a broken symbolic link; "
                         "choose another with --out")
    if site_dir.exists() and not site_dir.is_dir():
        raise AtlasError(f"cannot write to output directory {site_dir}: it is a file, not a "
                         "folder; choose another with --out")
    marked, unmarked = read_marker(site_dir), _is_unmarked_site(site_dir)
    if marked is not None:
        ownership = marked
    elif unmarked or _is_empty(site_dir):
        ownership = Ownership(site_dir, None if unmarked else frozenset())
    elif force:
        _refuse_taken_names(site_dir)
        ownership = Ownership(site_dir, frozenset())
    else:
        found = sorted(entry.name for entry in site_dir.iterdir())
        shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
        raise AtlasError(f"{site_dir} holds files atlas did not make ({shown}); atlas writes "
                         "only into a new or empty folder or an atlas site: choose another "
                         "--out, or add --force to put the atlas beside them (atlas still "
                         "deletes only its own files)")
    refuse_links(ownership)
    return ownership


def mark_site(ownership: Ownership) -> None:
    """Writes the marker of a site `claim_site` accepted, where there is none yet."""
    _make_folder(ownership.site_dir)
    if read_marker(ownership.site_dir) is None:
        write_marker(ownership.site_dir, ownership.pages)


def existing_site(site_dir: Path) -> Ownership:
    """The ownership of a site that must already exist (`atlas render`, `atlas.open`)."""
    site_dir = Path(site_dir)
    marked = read_marker(site_dir)
    if marked is None and not _is_unmarked_site(site_dir):
        raise AtlasError(f"no stored results in {site_dir}; run `atlas build --out {site_dir}` "
                         "first")
    ownership = marked or Ownership(site_dir, None)
    refuse_links(ownership)
    return ownership


def read_marker(site_dir: Path) -> Ownership | None:
    """The site's marker, None where there is none. A marker that is a link, or is not
    atlas's, is refused: it would make atlas treat another folder as its own."""
    path = Path(site_dir) / SITE_MARKER
    if path.is_symlink():
        raise AtlasError(f"{path} is a symbolic link; atlas follows no link in its output "
                         "directory: remove it, or choose another --out")
    if not path.exists():
        return None
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        pages = content["pages"]
        if content.get("format") != MARKER_FORMAT or not (
                pages is None or isinstance(pages, list)
                and all(isinstance(page, str) for page in pages)):
            raise ValueError("not atlas's marker")
    except (OSError, ValueError, KeyError, TypeError):
        raise AtlasError(f"{path} is not a marker atlas wrote; delete it if this folder is "
                         "an atlas site, or choose another --out") from None
    return Ownership(Path(site_dir), None if pages is None else frozenset(pages))


def write_marker(site_dir: Path, pages: frozenset[str] | set[str] | None) -> None:
    write_json_atomic(Path(site_dir) / SITE_MARKER, {
        "format": MARKER_FORMAT, "made_by": "atlas",
        "pages": None if pages is None else sorted(pages)})


def refuse_links(ownership: Ownership) -> None:
    """Raises where a symbolic link sits among the files atlas writes: writing or
    deleting through it would reach a folder atlas does not own."""
    site_dir = ownership.site_dir
    if not site_dir.is_dir():
        return
    top = [site_dir / name for name in BUILD_ENTRIES] + ownership.owned_folders()
    if ownership.pages is None:  # an unmarked site: every entry is atlas's
        top = list(site_dir.iterdir())
    top += [site_dir / page for page in ownership.pages or () if "/" not in page]
    for path in top:
        link = path if path.is_symlink() else _link_below(path)
        if link is not None:
            raise AtlasError(f"{link} is a symbolic link; atlas follows no link in its "
                             "output directory: remove it (atlas rebuilds what it held), "
                             "or choose another --out")


def _link_below(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    for root, dirs, files in os.walk(folder):  # os.walk never descends through a link
        for name in dirs + files:
            if os.path.islink(os.path.join(root, name)):
                return Path(root) / name
    return None


def is_atlas_site(folder: Path) -> bool:
    """Whether `folder` looks like an atlas site: its marker or lock, or an index beside
    results/. What a dataset's scan leaves out; looser than what atlas writes into
    (`claim_site`), since leaving images out costs nothing."""
    return (any(os.path.lexists(folder / mark) for mark in (SITE_MARKER, LOCK_NAME))
            or (folder / MANIFEST).is_file() and (folder / RESULTS).is_dir())


def _is_unmarked_site(site_dir: Path) -> bool:
    return ((site_dir / MANIFEST).is_file()
            and (site_dir / RESULTS / BUILD_DIR / "build.json").is_file())


def _is_empty(site_dir: Path) -> bool:
    """Nothing there but what a build stopped before its marker leaves (the lock, a
    half-written file)."""
    return not site_dir.exists() or all(
        entry.name == LOCK_NAME or is_partial_write(entry.name) for entry in site_dir.iterdir())


def _refuse_taken_names(site_dir: Path) -> None:
    """`--force` adds atlas beside other files, never over them: a file at a name atlas
    writes first is refused before anything is written (folders are shared)."""
    for name in (*BUILD_ENTRIES, "index.html"):
        path = site_dir / name
        if os.path.lexists(path) and not (path.is_dir() and not path.is_symlink()):
            raise AtlasError(f"{site_dir / name} is already there and atlas did not make "
                             "it; move it away, or choose another --out")


def _make_folder(site_dir: Path) -> None:
    try:
        site_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise AtlasError(f"cannot write to output directory {site_dir} ({error.strerror}); "
                         "choose another with --out") from None
