"""What a built site weighs where it is published: bytes by kind of file, the
file count and the largest file, against GitHub Pages' limits.

The kinds are the ones `atlas plan` predicts (`forecast._storage`), so the two
can be set side by side. The build's caches (`results/_dataset/`,
`results/_build/`), the lock and staging folders are not published and not
counted (docs/publishing.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from atlas.manifest_types import LAYER_FILES
from atlas.pipeline.dataset.examples import EXAMPLES_DIR
from atlas.pipeline.dataset.scan import DATASET_DIR
from atlas.sizes import format_size
from atlas.store import BUILD_DIR, RESULTS

PAGES_LIMIT = 1_000_000_000  # bytes: the largest site GitHub Pages publishes
FILE_LIMIT = 100_000_000  # bytes: the largest file GitHub accepts in a push
UNPUBLISHED = {(RESULTS, DATASET_DIR), (RESULTS, BUILD_DIR)}
KINDS = ("optimized images", "dataset examples", "unit pages", "other pages", "records",
         "manifest", "other")


def kind_of(parts: tuple[str, ...]) -> str | None:
    """The kind of the published file at `parts` (its path under the site), None
    for what is not published."""
    if parts[0].startswith(".") or parts[:2] in UNPUBLISHED:
        return None
    if parts[0] == RESULTS and len(parts) > 2:
        if parts[1] == EXAMPLES_DIR:
            return "dataset examples"
        return "records" if parts[-1].endswith(".json") else "optimized images"
    if parts[0] == LAYER_FILES or parts == ("atlas.json",):
        return "manifest"
    if parts[-1].endswith(".html"):
        return "unit pages" if parts[0] == "units" else "other pages"
    return "other"


@dataclass
class SiteSize:
    bytes_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    files: int = 0
    largest: tuple[int, str] = (0, "")

    @property
    def total(self) -> int:
        return sum(self.bytes_by_kind.values())


def measure_site(site_dir: Path) -> SiteSize:
    """Walks `site_dir` and adds up what would be published."""
    site_dir = Path(site_dir)
    found = SiteSize()
    for path in site_dir.rglob("*"):
        if not path.is_file():
            continue
        parts = path.relative_to(site_dir).parts
        kind = kind_of(parts)
        if kind is None or any(part.startswith(".staging-") for part in parts):
            continue
        size = path.stat().st_size
        found.bytes_by_kind[kind] += size
        found.files += 1
        found.largest = max(found.largest, (size, "/".join(parts)))
    return found


def limit_warnings(total: float, largest: float, largest_name: str = "") -> list[str]:
    """What passes GitHub Pages' limits, as sentences (none where the site fits)."""
    warnings = []
    if total > PAGES_LIMIT:
        warnings.append(f"the site is {format_size(total)}, over GitHub Pages' "
                        f"{format_size(PAGES_LIMIT)}: set site_budget (--site-budget 1GB) to "
                        "fit its examples, or choose fewer layers, channels or views")
    if largest > FILE_LIMIT:
        warnings.append(f"{largest_name or 'a file'} is {format_size(largest)}, over the "
                        f"{format_size(FILE_LIMIT)} GitHub accepts in a push")
    return warnings


def size_line(size: SiteSize, units: int) -> str:
    """One line of a build's report: the total, files, largest, and kinds per unit."""
    per_unit = ", ".join(f"{kind} {format_size(bytes_ / max(1, units))}"
                         for kind, bytes_ in size.bytes_by_kind.items() if bytes_)
    return (f"site: {format_size(size.total)} published in {size.files:,} files, largest "
            f"{size.largest[1]} ({format_size(size.largest[0])}); per unit: {per_unit}")
