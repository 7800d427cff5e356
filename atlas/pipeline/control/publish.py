"""Puts a freshly rendered site in place without ever breaking the old one.

Pages are rendered into a staging folder inside the site directory; only when
every page is written are they moved over the previous ones, a rename each (so
every page, `index.html` first among them, is always whole and never missing),
followed by the manifest. A failed render leaves the old site intact. Only the
files atlas made are replaced or deleted (control/ownership.py): the site's
marker lists every file a render puts in place before it is moved there.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from atlas.errors import AtlasError
from atlas.fsio import is_partial_write, write_json_atomic
from atlas.manifest_io import remove_unlisted, units_reader
from atlas.manifest_types import LAYER_FILES, Manifest
from atlas.pipeline.control.ownership import Ownership, read_marker, write_marker
from atlas.pipeline.manifest import MANIFEST
from atlas.site import render_site
from atlas.store import RESULTS

STAGING_PREFIX = ".atlas-staging-"


def publish_site(manifest: Manifest, site_dir: Path, progress: bool = True) -> list[Path]:
    """Renders `manifest` (its layers' unit files already under `site_dir`) and moves
    the pages into `site_dir`; returns the pages."""
    site_dir = Path(site_dir).resolve()
    ownership = read_marker(site_dir) or Ownership(site_dir, None)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=site_dir))
    try:
        pages = render_site(manifest, staging, progress=progress,
                            units_of=units_reader(site_dir))
        made = _rendered_files(staging)
        _refuse_foreign(ownership, made)
        before = ownership.pages
        write_marker(site_dir, set(made) | set(before or ()))  # listed before it is there
        for rel in made:
            target = site_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / rel, target)
        write_json_atomic(site_dir / MANIFEST, manifest)  # the commit point
        remove_unlisted(site_dir, manifest)
        _remove_pages(site_dir, set(before or ()) - set(made))
        write_marker(site_dir, set(made))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [site_dir / Path(page).resolve().relative_to(staging) for page in pages]


def _rendered_files(staging: Path) -> list[str]:
    """Every file the render wrote, site-relative ('/'-separated), the build's own
    folders aside."""
    made = []
    for root, _, files in os.walk(staging):
        rel_root = Path(root).relative_to(staging)
        if rel_root.parts[:1] in ((RESULTS,), (LAYER_FILES,)):
            continue
        made += [(rel_root / name).as_posix() for name in files]
    return sorted(made)


def _refuse_foreign(ownership: Ownership, made: list[str]) -> None:
    """A page would replace a file atlas did not make (a folder adopted with --force):
    refused before anything moves."""
    for rel in made:
        target = ownership.site_dir / rel
        if os.path.lexists(target) and (not ownership.owns_page(rel) or target.is_symlink()
                                        or target.is_dir()):
            raise AtlasError(f"{target} is in the way of atlas's page and atlas did not make "
                             "it; move it away, then run `atlas render` (the results are "
                             "kept)")


def _remove_pages(site_dir: Path, stale: set[str]) -> None:
    """Deletes pages of the previous render the new one did not make, and the folders
    that leaves empty."""
    for rel in sorted(stale):
        path = site_dir / rel
        if path.is_file() and not path.is_symlink():
            path.unlink()
        for folder in Path(rel).parents:
            if str(folder) == ".":
                break
            try:
                (site_dir / folder).rmdir()  # only when empty
            except OSError:
                break


def remove_leftovers(ownership: Ownership) -> int:
    """Deletes staging folders and half-written temporary files left by a build
    that was killed, in the folders atlas owns and by atlas's own names only;
    returns how many were removed."""
    site_dir, removed = ownership.site_dir, 0
    if not site_dir.is_dir():
        return 0
    for entry in site_dir.iterdir():
        if entry.name.startswith(STAGING_PREFIX) and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        elif is_partial_write(entry.name) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed += 1
    for folder in ownership.owned_folders():
        for root, _, files in os.walk(folder):  # never through a link
            for name in files:
                if is_partial_write(name):
                    Path(root, name).unlink(missing_ok=True)
                    removed += 1
    return removed
