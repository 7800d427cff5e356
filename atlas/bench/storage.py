"""Will a whole atlas fit on GitHub Pages (1 GB)? Measured per-image and
per-page sizes of a small real build, multiplied out to a full one."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean

PAGES_LIMIT = 1_000_000_000  # bytes: GitHub Pages' published-site limit
INCEPTION_MIXED = ("mixed3a", "mixed3b", "mixed4a", "mixed4b", "mixed4c", "mixed4d", "mixed4e",
                   "mixed5a", "mixed5b")


def images_per_unit(steps: int, snapshot_every: int, conv: bool = True) -> dict[str, int]:
    """How many images each default view stores for one unit."""
    snapshots = len(range(0, steps, snapshot_every)) + 1 if snapshot_every else 0
    return {"positive": 1, "negative": 1, "diversity": 4, "neuron": 3 if conv else 0,
            "seeds": 5, "evolution": snapshots}


def measured_sizes(site: Path) -> tuple[dict[str, float], float, float]:
    """Mean bytes per image for each view, and mean bytes of a unit page and of a
    layer page per unit, from a built site."""
    manifest = json.loads((site / "atlas.json").read_text())
    sizes: dict[str, list[int]] = {}
    unit_pages, layer_pages, units = [], 0, 0
    for layer in manifest["layers"]:
        layer_pages += (site / layer["page"]).stat().st_size
        for unit in layer["units"]:
            units += 1
            unit_pages.append((site / unit["page"]).stat().st_size)
            for view, entry in unit["views"].items():
                for rel in entry["images"]:
                    sizes.setdefault(view, []).append((site / rel).stat().st_size)
    per_view = {view: mean(values) for view, values in sizes.items()}
    return per_view, mean(unit_pages), layer_pages / max(1, units)


def inception_units() -> dict[str, int]:
    """Channels of each mixed layer of InceptionV1, read off the model itself."""
    from atlas.models.layers import dry_run
    from atlas.models.registry import load_model

    loaded = load_model("lucent:inceptionv1")
    run = dry_run(loaded.module, 224, loaded.preprocess, INCEPTION_MIXED)
    return {info.name: info.channels for info in run.layers if info.name in INCEPTION_MIXED}


def estimate(site: Path, units: dict[str, int], steps: int = 512,
             snapshot_every: int = 50) -> list[str]:
    per_view, unit_page, layer_page = measured_sizes(site)
    counts = images_per_unit(steps, snapshot_every)
    total_units = sum(units.values())
    lines = [f"storage: measured on {site} ({sum(1 for _ in per_view)} views), "
             f"extrapolated to {total_units} units ({', '.join(f'{k} {v}' for k, v in units.items())}), "
             f"{steps} steps, a snapshot every {snapshot_every}", "",
             f"{'view':<10} {'images/unit':>11} {'bytes/image':>12} {'total MB':>9}"]
    total = 0.0
    for view, count in counts.items():
        if view not in per_view or not count:
            continue
        size = per_view[view] * count * total_units
        total += size
        lines.append(f"{view:<10} {count:>11} {per_view[view]:>12,.0f} {size / 1e6:>9.1f}")
    pages = (unit_page + layer_page) * total_units
    total += pages
    lines.append(f"{'pages':<10} {'':>11} {unit_page + layer_page:>12,.0f} {pages / 1e6:>9.1f}")
    lines.append(f"{'total':<10} {'':>11} {'':>12} {total / 1e6:>9.1f}  "
                 f"({total / PAGES_LIMIT:.0%} of GitHub Pages' 1 GB: "
                 f"{'fits' if total < PAGES_LIMIT else 'does NOT fit'})")
    return lines
