"""Finding a folder's images without leaving it, looping or scanning an atlas.

Hidden entries (name starting with ".") are ignored. A symbolic link is
followed only where `links` allows it: "inside" (the default) reads a link whose
target resolves inside the dataset folder and skips the others, "follow" reads
every link. Linked folders are entered after the real tree, each real folder
once, so a link back up the tree cannot loop and a folder that a link also leads
to keeps its real path (and its class). An atlas site inside
the folder (the build's own out dir, or any folder holding a site's marks) is left
out: its images are the atlas's, not the data.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

from atlas.datasets.base import plural
from atlas.datasets.names import shown
from atlas.errors import AtlasError
from atlas.pipeline.control.ownership import is_atlas_site

SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass
class Walk:
    """What a walk found, and what it left out (said in the build's notes)."""

    found: list[str] = field(default_factory=list)  # '/'-joined paths, as on disk
    outside: list[str] = field(default_factory=list)  # links leading out, not followed
    loops: list[str] = field(default_factory=list)  # links looping, or to a folder seen
    sites: list[str] = field(default_factory=list)  # atlas sites inside, not scanned

    def notes(self) -> list[str]:
        """One line per kind of entry left out, naming the first few."""
        said = []
        if self.outside:
            said.append(f"dataset: {plural(len(self.outside), 'link')} leading out of the "
                        f"folder skipped ({_first(self.outside)}); set dataset_links = "
                        "\"follow\" to read them")
        if self.loops:
            said.append(f"dataset: {plural(len(self.loops), 'folder link')} looping or "
                        f"repeating a folder not entered again ({_first(self.loops)})")
        if self.sites:
            said.append(f"dataset: {plural(len(self.sites), 'atlas site')} inside the "
                        f"folder left out of the scan ({_first(self.sites)})")
        return said


def find_images(root: Path, spec: str, links: str = "inside",
                exclude: Path | None = None) -> Walk:
    """Every image under `root` (resolved), as '/'-joined relative paths, sorted;
    `exclude` is a folder left out (the build's out dir).

    Raises AtlasError when `root` cannot be listed or holds no images.
    """
    walker = _Walker(root, links, exclude)
    try:
        walker.run()
    except OSError as error:
        raise AtlasError(f"cannot read dataset folder {spec!r} ({error.strerror}); "
                         "check its permissions") from error
    walk = walker.walk
    if not walk.found:
        raise AtlasError(f"dataset folder {spec!r} holds no images ({', '.join(SUFFIXES)}); "
                         "put image files in it or in class subfolders")
    for names in (walk.found, walk.outside, walk.loops, walk.sites):
        names.sort()
    return walk


class _Walker:
    """One walk's state: the real folders to list, the folder links met, the real
    folders seen."""

    def __init__(self, root: Path, links: str, exclude: Path | None) -> None:
        self.root, self.links = root, links
        self.excluded = {exclude.resolve()} if exclude is not None else set()
        self.walk = Walk()
        self.pending = [("", root)]  # (relative prefix ending in '/', real folder)
        self.linked: list[tuple[str, Path]] = []  # entered once the real tree is done
        self.seen: set[Path] = set()

    def run(self) -> None:
        """Raises OSError where the dataset folder itself cannot be listed."""
        while self.pending or self.linked:
            if not self.pending:
                self.linked.sort(reverse=True)  # the first by name is entered first
                prefix, target = self.linked.pop()
                if target in self.seen:
                    self.walk.loops.append(shown(prefix))
                    continue
                self.pending.append((prefix, target))
            prefix, folder = self.pending.pop()
            self.seen.add(folder)
            if folder != self.root and (folder in self.excluded or is_atlas_site(folder)):
                self.walk.sites.append(shown(prefix))
                continue
            try:
                entries = list(os.scandir(folder))
            except OSError:
                if folder == self.root:
                    raise
                continue  # an unreadable subfolder is left out, not the whole dataset
            for entry in entries:
                if not entry.name.startswith("."):
                    self._add(entry, f"{prefix}{entry.name}")

    def _add(self, entry: os.DirEntry, path: str) -> None:
        try:
            if entry.is_symlink():
                target = Path(os.path.realpath(entry.path, strict=True))
                if self.links != "follow" and not target.is_relative_to(self.root):
                    self.walk.outside.append(shown(path))
                elif target.is_dir():
                    self.linked.append((f"{path}/", target))
                elif is_image(entry.name) and target.is_file():
                    self.walk.found.append(path)
            elif entry.is_dir(follow_symlinks=False):
                self.pending.append((f"{path}/", Path(entry.path)))
            elif is_image(entry.name) and entry.is_file(follow_symlinks=False):
                self.walk.found.append(path)
        except OSError as error:
            # A link whose target is gone has nothing to read; a chain of links that
            # never ends is a loop (a loop through folders is caught by `seen`).
            if error.errno == errno.ELOOP:
                self.walk.loops.append(shown(path))


def is_image(name: str) -> bool:
    return name.lower().endswith(SUFFIXES)


def is_inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every link resolved, lies inside `root` (resolved)."""
    return Path(os.path.realpath(path)).is_relative_to(root)


def _first(names: list[str], count: int = 3) -> str:
    more = f" and {len(names) - count:,} more" if len(names) > count else ""
    return ", ".join(names[:count]) + more
