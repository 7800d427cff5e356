"""Will a whole atlas fit on GitHub Pages (1 GB)? Measured per-image and
per-page sizes of a small real build, multiplied out to a full one."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean

from atlas.manifest_io import read_manifest
from atlas.pipeline.cost.site_size import PAGES_LIMIT

INCEPTION_MIXED = ("mixed3a", "mixed3b", "mixed4a", "mixed4b", "mixed4c", "mixed4d", "mixed4e",
                   "mixed5a", "mixed5b")


def images_per_unit(steps: int, snapshot_every: int, conv: bool = True) -> dict[str, int]:
    """How many images each default view stores for one unit."""
    snapshots = len(range(0, steps, snapshot_every)) + 1 if snapshot_every else 0
    return {"positive": 1, "negative": 1, "diversity": 4, "neuron": 3 if conv else 0,
            "seeds": 5, "evolution": snapshots}


def measured_sizes(site: Path) -> dict[str, float]:
    """Mean bytes from a built site: per image of each view (the evolution's
    first, near-grey frame apart), per unit of pages, of JSON records (without
    the loss curve) and of manifest (likewise), and per stored loss value."""
    manifest = read_manifest(site)
    sizes: dict[str, list[int]] = {}
    pages, records, loss_values, loss_bytes, units = 0, 0, 0, 0, 0
    for layer in manifest["layers"]:
        pages += (site / layer["page"]).stat().st_size
        for unit in layer["units"]:
            units += 1
            pages += (site / unit["page"]).stat().st_size
            for view, entry in unit["views"].items():
                for index, rel in enumerate(entry.get("images", [])):  # examples: see below
                    key = "evolution-start" if view == "evolution" and index == 0 else view
                    sizes.setdefault(key, []).append((site / rel).stat().st_size)
                loss = entry.get("loss", [])
                loss_values += len(loss)
                loss_bytes += len(json.dumps(loss))
            folder = site / Path(unit["views"]["positive"]["images"][0]).parent
            records += sum(path.stat().st_size for path in folder.glob("*.json"))
    per_value = loss_bytes / max(1, loss_values)
    measured = {view: mean(values) for view, values in sizes.items()}
    measured["pages"] = pages / units
    # the loss curve is stored twice (record and manifest): counted apart, per step
    measured["records"] = (records - loss_bytes) / units
    manifest_bytes = (site / "atlas.json").stat().st_size + sum(
        (site / layer["units_file"]).stat().st_size for layer in manifest["layers"])
    measured["manifest"] = (manifest_bytes - loss_bytes) / units
    measured["loss value"] = per_value
    crops = [path.stat().st_size for path in (site / "results" / "_examples").rglob("*")
             if path.is_file()]
    if crops:  # dataset examples: crops are shared between units, so per unit overall
        measured["examples"] = sum(crops) / units
    return measured


def inception_units() -> dict[str, int]:
    """Channels of each mixed layer of InceptionV1, read off the model itself."""
    from atlas.models.layers import dry_run
    from atlas.models.registry import load_model

    loaded = load_model("lucent:inceptionv1")
    run = dry_run(loaded.module, 224, loaded.preprocess, INCEPTION_MIXED)
    return {info.name: info.channels for info in run.layers if info.name in INCEPTION_MIXED}


def estimate(site: Path, units: dict[str, int], steps: int = 512,
             snapshot_every: int = 50) -> list[str]:
    measured = measured_sizes(site)
    counts = images_per_unit(steps, snapshot_every)
    total_units = sum(units.values())
    lines = [f"storage: measured on {site}, "
             f"extrapolated to {total_units} units "
             f"({', '.join(f'{k} {v}' for k, v in units.items())}), "
             f"{steps} steps, a snapshot every {snapshot_every}", "",
             f"{'item':<16} {'per unit':>8} {'bytes each':>11} {'total MB':>9}"]
    rows = []
    for view, count in counts.items():
        if view == "evolution" and count:
            rows.append(("evolution start", 1, measured.get("evolution-start", 0.0)))
            rows.append(("evolution", count - 1, measured.get("evolution", 0.0)))
        elif count and view in measured:
            rows.append((view, count, measured[view]))
    if "examples" in measured:
        rows.append(("examples (all)", 1, measured["examples"]))
    rows += [("pages", 1, measured["pages"]), ("records", 1, measured["records"]),
             ("manifest", 1, measured["manifest"]),
             ("loss curves", 2 * steps, measured["loss value"])]  # in record and manifest
    total = 0.0
    for name, count, each in rows:
        size = each * count * total_units
        total += size
        lines.append(f"{name:<16} {count:>8} {each:>11,.0f} {size / 1e6:>9.1f}")
    lines.append(f"{'total':<16} {'':>8} {'':>11} {total / 1e6:>9.1f}  "
                 f"({total / PAGES_LIMIT:.0%} of GitHub Pages' 1 GB: "
                 f"{'fits' if total < PAGES_LIMIT else 'does NOT fit'})")
    return lines
