"""Puts a freshly rendered site in place without ever breaking the old one.

Pages are rendered into a staging folder inside the site directory; only
when every page is written are they moved over the previous ones (a rename
each), followed by the manifest. A failed render leaves the old site intact.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from atlas.fsio import write_json_atomic
from atlas.manifest_io import remove_unlisted, units_reader
from atlas.manifest_types import LAYER_FILES, Manifest
from atlas.pipeline.manifest import MANIFEST
from atlas.site import render_site
from atlas.store import RESULTS

STAGING_PREFIX = ".staging-"


def publish_site(manifest: Manifest, site_dir: Path, progress: bool = True) -> list[Path]:
    """Renders `manifest` (its layers' unit files already under `site_dir`) and swaps
    the pages into `site_dir`; returns the pages."""
    site_dir = Path(site_dir).resolve()
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=site_dir))
    try:
        pages = render_site(manifest, staging, progress=progress,
                            units_of=units_reader(site_dir))
        trash = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=site_dir))
        for entry in sorted(staging.iterdir()):
            if entry.name in (RESULTS, LAYER_FILES):  # written by the build, not the render
                continue
            target = site_dir / entry.name
            if target.exists():
                os.replace(target, trash / entry.name)
            os.replace(entry, target)
        write_json_atomic(site_dir / MANIFEST, manifest)  # the commit point
        remove_unlisted(site_dir, manifest)
        shutil.rmtree(trash, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [site_dir / Path(page).resolve().relative_to(staging) for page in pages]


def remove_leftovers(site_dir: Path) -> int:
    """Deletes staging folders and half-written temporary files left by a build
    that was killed; returns how many were removed."""
    removed = 0
    if not Path(site_dir).is_dir():
        return 0
    for entry in Path(site_dir).iterdir():
        if entry.name.startswith(STAGING_PREFIX) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    for partial in Path(site_dir).rglob(".*.tmp"):
        partial.unlink(missing_ok=True)
        removed += 1
    return removed
