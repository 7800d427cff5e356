"""Golden pages: the HTML of a tiny synthetic atlas, stored under tests/golden/.

`manifest()` is a hand-made manifest (docs/manifest.md, format 3, units inline) with no model,
no optimization, no randomness and no images: two layers of three units, every
page kind (index, summary, joint, layer, unit) and the features the pages
render differently: a conv layer with branches and kernels, a linear layer,
every optimized view, dataset examples with spectrum, labels and data scores,
one failed view (a positive, so grids, spectrum and shortcut lose an image),
one dead unit, and untrusted text that must be escaped (`<b>&"'` in a layer
name, a branch label, a class name, a dataset source and a failure reason).
`atlas_version` and `generated_at` are fixed, so a version bump or the clock
never changes a page.

`render_pages(site_dir)` renders it with `atlas.site.render_site` and returns
the files that are compared with the goldens: every file the render writes
except the stylesheets and scripts copied verbatim from templates/static/
(they are their own source; a generated file under static/ would count).

After an intended change to the pages, regenerate the goldens from the repo
root with the one command `UPDATE_COMMAND` (it prints what it changed, and
with `--check` instead of `--update` only says what would change).
tests/test_golden_pages.py compares them on every run.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from pathlib import Path
from typing import Any

from atlas.fsio import write_bytes_atomic
from atlas.site.render import render_site, templates_dir

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
UPDATE_COMMAND = ".venv/bin/python tests/golden_atlas.py --update"
"""The one command, run from the repo root, that regenerates tests/golden/."""

HOSTILE = "<b>&\"'"
"""Untrusted text: every page must escape it (never a <b> element, never a broken attribute)."""

CONV, HEAD = "mixed3a", f"head {HOSTILE}"
CONV_SLUG, HEAD_SLUG = "mixed3a", "head"
BRANCHES = [{"label": "1x1", "start": 0, "stop": 2},
            {"label": "3x3", "start": 2, "stop": 4},
            {"label": f"5x5 {HOSTILE}", "start": 4, "stop": 6}]
CONV_UNITS = (0, 2, 4)  # one per branch
HEAD_UNITS = (0, 1, 2)
DEAD = (CONV, 4)
LOST = (CONV, 2)  # its positive view stays below its data maximum: flagged lost_to_data
FAILED = (HEAD, 1, "positive")
FAILED_REASON = (f"the objective or image became NaN or infinite ({HOSTILE}), "
                 "also when retried with learning rate 0.025")

IMAGE_SIZE = 16
STEPS = 8
EXAMPLE_COUNT = 3
SPECTRUM_EXAMPLES = 2
IMAGES = 8
CLASSES = ("0", "1", "2", f"<i>cat</i> & \"dog's\" {HOSTILE}")
COLOURS = ("red", "green", "blue")
CLASS_COLOURS = ("#e6194b", "#3cb44b", "#4363d8")
FINGERPRINT = "f00d"
VIEWS = ["spectrum", "positive", "negative", "diversity", "neuron", "seeds", "evolution",
         "kernel", "examples"]


def _source(i: int) -> str:
    return f"odd/{HOSTILE}.png" if i == 5 else f"digits/{i}.png"


def _labels(i: int) -> dict[str, str]:
    return {"class": CLASSES[i % len(CLASSES)], "colour": COLOURS[i % len(COLOURS)]}


def _values(seed: int) -> list[float]:
    """A unit's value on each dataset image: a fixed, distinct-valued pattern of both signs."""
    return [round(((i * 5 + seed * 3) % IMAGES - 3) * 0.75 + 0.1 * seed, 4)
            for i in range(IMAGES)]


def _example(slug: str, conv: bool, i: int, value: float) -> dict[str, Any]:
    if conv:
        position = [i % 4, (i * 3) % 4]
        image = f"results/_examples/{FINGERPRINT}/{slug}/{i}-{position[0]}-{position[1]}.png"
    else:
        position, image = None, f"results/_examples/{FINGERPRINT}/images/{i}.png"
    return {"image": image, "source": _source(i), "value": value, "position": position,
            "labels": _labels(i)}


def _quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between the two nearest ranks (numpy's default)."""
    at = q * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (at - low), 4)


def _examples(slug: str, conv: bool, seed: int) -> dict[str, Any]:
    values = _values(seed)
    order = sorted(range(IMAGES), key=lambda i: (-values[i], i))
    ordered = sorted(values)
    threshold = 0.0 if ordered[0] < 0 < ordered[-1] else _quantile(ordered, 0.5)
    below = [i for i in order if values[i] < threshold][:EXAMPLE_COUNT]
    above = [i for i in reversed(order) if values[i] >= threshold][:EXAMPLE_COUNT]
    lo, hi, bins = ordered[0], ordered[-1], 4
    edges = [round(lo + (hi - lo) * k / bins, 4) for k in range(bins + 1)]
    counts = [sum(edges[k] <= v < edges[k + 1] or (k == bins - 1 and v == hi) for v in values)
              for k in range(bins)]

    def column(indices: list[int]) -> list[dict[str, Any]]:
        return [_example(slug, conv, i, values[i]) for i in indices]

    return {
        "max": column(order[:EXAMPLE_COUNT]), "min": column(order[::-1][:EXAMPLE_COUNT]),
        "below": column(below), "above": column(above), "threshold": threshold,
        "histogram": {"edges": edges, "counts": counts},
        "stats": {"mean": round(sum(values) / IMAGES, 4), "min": lo, "max": hi,
                  "quantiles": {str(q): _quantile(ordered, q)
                                for q in (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99)}},
    }


def _spectrum(views: dict[str, Any]) -> dict[str, Any]:
    def optimized(name: str) -> list[dict[str, Any]]:
        view = views.get(name)
        return [{"image": view["images"][0], "value": view["activations"][0]}] if view else []

    examples = views["examples"]
    columns = [{"name": "negative", "items": optimized("negative")}]
    columns += [{"name": name, "items": examples[name][:SPECTRUM_EXAMPLES]}
                for name in ("min", "below", "above", "max")]
    columns.append({"name": "positive", "items": optimized("positive")})
    return {"columns": columns, "threshold": examples["threshold"]}


def _shares(examples: dict[str, Any]) -> dict[str, dict[str, Any]]:
    top = [item["labels"] for item in examples["max"]]
    shares = {}
    for key in ("class", "colour"):
        values = [labels[key] for labels in top]
        value = max(sorted(set(values)), key=values.count)
        shares[key] = {"value": value, "count": values.count(value), "of": len(top)}
    return shares


def _unit(layer: str, slug: str, conv: bool, index: int, seed: int) -> dict[str, Any]:
    base = f"results/{slug}/{index}"

    def imgs(view: str, n: int) -> list[str]:
        return [f"{base}/{view}-{k}.png" for k in range(n)]

    def acts(n: int, centre: float) -> list[float]:
        return [round(centre + 0.1 * seed - 0.05 * k, 4) for k in range(n)]

    loss = [round(3.0 * step / (step + 2) + 0.01 * seed, 4) for step in range(STEPS)]
    snapshots = [0, 4, STEPS - 1]
    views: dict[str, Any] = {
        "positive": {"images": imgs("positive", 1), "activations": acts(1, 3.1)},
        "negative": {"images": imgs("negative", 1), "activations": acts(1, -2.4)},
        "diversity": {"images": imgs("diversity", 2), "activations": acts(2, 2.8)},
    }
    if conv:
        views["neuron"] = {"images": imgs("neuron", 2), "activations": acts(2, 4.0),
                           "positions": [[1, 1], [2, 3]]}
    views["seeds"] = {"images": imgs("seeds", 3), "activations": acts(3, 3.0),
                      "seeds": [0, 1, 2]}
    views["evolution"] = {"images": imgs("evolution", len(snapshots)),
                          "activations": [loss[s] for s in snapshots], "steps": snapshots,
                          "loss": loss}
    if conv:
        views["kernel"] = {"images": imgs("kernel", 1), "activations": [None],
                           "weight_range": [-0.31 + 0.01 * seed, 0.28]}
    views["examples"] = _examples(slug, conv, seed)
    failed = {FAILED[2]: FAILED_REASON} if (layer, index) == FAILED[:2] else {}
    for view in failed:
        del views[view]
    views["spectrum"] = _spectrum(views)
    positive = "positive" in views
    data_max = views["examples"]["stats"]["max"]
    lost = (layer, index) == LOST
    positive_value = (round(data_max * (0.8 if lost else 1.5 + 0.25 * seed), 4)
                      if positive else None)
    labels = _shares(views["examples"])
    unit: dict[str, Any] = {
        "index": index,
        "page": f"units/{slug}/{index}.html",
        "label": f"{layer}:{index}",
        "branch": next((b["label"] for b in BRANCHES if b["start"] <= index < b["stop"]), None)
        if conv else None,
        "status": "failed" if failed else "ok",
        "dead": (layer, index) == DEAD,
        "flags": ["lost_to_data"] if lost else [],
        "views": {v: views[v] for v in VIEWS if v in views},
        "scores": {
            "polysemanticity": round(0.1 + 0.07 * seed, 4),
            "colour": round(0.8 - 0.1 * seed, 4) if conv else None,
            "diversity_spread": round(0.3 + 0.05 * seed, 4),
            "faithfulness": round(0.6 - 0.05 * seed, 4) if positive else None,
            "faithfulness_baseline": round(0.05 + 0.01 * seed, 4) if positive else None,
            "super_stimulus": round(positive_value / data_max, 4) if positive else None,
            "positive_value": positive_value,
            "example_polysemanticity": round(1 - max(s["count"] / s["of"]
                                                     for s in labels.values()), 4),
        },
        "labels": labels,
    }
    if failed:
        unit["failed_views"] = failed
    return unit


def _mean(values: list[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return round(sum(found) / len(found), 4) if found else None


def _share(units: list[dict[str, Any]], key: str) -> float | None:
    return _mean([u["labels"][key]["count"] / u["labels"][key]["of"] for u in units])


def _summary(conv: dict[str, Any], head: dict[str, Any]) -> dict[str, Any]:
    conv_units, head_units = conv["units"], head["units"]
    colour_share, class_share = _share(conv_units, "colour"), _share(conv_units, "class")
    return {
        "colour": {
            "method": "Colour score: eta² share of the seeds' activation explained by hue.",
            "examples_method": "Top examples: the share wearing one colour or of one class.",
            "layers": [{"name": CONV, "colour_score": 0.8, "shape_score": 0.2, "saturation": 0.5,
                        "verdict": "colour", "top_colour_share": colour_share,
                        "top_class_share": class_share,
                        "examples_verdict": "colour" if colour_share > class_share else "shape"}],
        },
        "shortcut": {
            "method": "Accuracy on test sets with and without the colour bias.",
            "biased_accuracy": 0.98, "unbiased_accuracy": 0.41,
            "colour_swap": {"follows_colour": 0.7, "follows_shape": 0.2},
            "classes": [{
                "class": u["index"], "layer": HEAD, "unit_page": u["page"],
                "image": u["views"]["positive"]["images"][0] if "positive" in u["views"] else None,
                "class_colour": CLASS_COLOURS[u["index"]], "image_colour": "#d02040",
                "nearest_class_colour": 0, "matches": u["index"] == 0,
                "top_count": EXAMPLE_COUNT,
                "top_of_class": sum(e["labels"]["class"] == str(u["index"])
                                    for e in u["views"]["examples"]["max"]),
                "top_in_class_colour": sum(e["labels"]["colour"] == COLOURS[u["index"]]
                                           for e in u["views"]["examples"]["max"]),
                "top_images": [e["image"] for e in u["views"]["examples"]["max"]],
            } for u in head_units],
        },
        "polysemantic": {
            "method": "One minus the largest label share among the top examples.",
            "source": "examples",
            "units": [{"label": u["label"], "page": u["page"],
                       "score": u["scores"]["example_polysemanticity"],
                       "seeds_score": u["scores"]["polysemanticity"],
                       "diversity_score": None if k else u["scores"]["diversity_spread"],
                       "labels": u["labels"], "images": u["views"]["seeds"]["images"],
                       "examples": [e["image"] for e in u["views"]["examples"]["max"]]}
                      for k, u in enumerate([conv_units[1], head_units[0]])],
        },
        "faithfulness": {
            "method": "Rank correlation of the positive image's layer activations with the "
                      "top examples'.",
            "layers": [{"name": layer["name"],
                        "faithfulness": _mean([u["scores"]["faithfulness"]
                                               for u in layer["units"]]),
                        "baseline": _mean([u["scores"]["faithfulness_baseline"]
                                           for u in layer["units"]]),
                        "super_stimulus": _mean([u["scores"]["super_stimulus"]
                                                 for u in layer["units"]]),
                        "units": len(layer["units"]),
                        **{flag: sum(flag in u["flags"] for u in layer["units"])
                           for flag in ("lost_to_data", "never_fires")}}
                       for layer in (conv, head)],
        },
    }


def _families_and_connections(conv: dict[str, Any], head: dict[str, Any]) -> None:
    """One family in each layer (its first two units, one named with hostile text),
    and each head unit reading the conv units with small maps."""
    for layer, name in ((conv, f"class 3 {HOSTILE} (2 of 2)"), (head, "family 1")):
        members = [u["index"] for u in layer["units"][:2]]
        layer["families"] = [{"number": 1, "name": name, "units": members,
                              "share": round(2 / len(layer["units"]), 4), "correlation": 0.81}]
        for unit in layer["units"]:
            unit["family"] = 1 if unit["index"] in members else None
            unit["connections"] = {}
    maps = [[[9, -99], [40, 0]], [[-12, 99], [0, -50]]]
    for position, unit in enumerate(head["units"]):
        unit["connections"]["in"] = [
            {"layer": CONV, "unit": c["index"], "weight": round(0.9 - 0.2 * k - 0.05 * position, 4),
             "scale": 0.002, "map": maps[k % 2]} for k, c in enumerate(conv["units"][:2])]
    for position, unit in enumerate(conv["units"]):
        unit["connections"]["out"] = [
            {"layer": HEAD, "unit": h["index"], "weight": round(0.7 - 0.1 * k, 4), "scale": 0.002,
             "map": maps[(k + position) % 2]} for k, h in enumerate(head["units"][:2])]


def manifest() -> dict[str, Any]:
    """The golden atlas's manifest: fixed, hand-made, the same on every call."""
    conv = {"name": CONV, "slug": CONV_SLUG, "page": f"layers/{CONV_SLUG}.html",
            "type": "Conv2d", "shape": [6, 4, 4], "channels": 6, "branches": BRANCHES,
            "receptive_field": [5, 5],
            "units": [_unit(CONV, CONV_SLUG, True, i, seed) for seed, i in enumerate(CONV_UNITS)]}
    head = {"name": HEAD, "slug": HEAD_SLUG, "page": f"layers/{HEAD_SLUG}.html",
            "type": "Linear", "shape": [3], "channels": 3, "branches": [],
            "receptive_field": None,
            "units": [_unit(HEAD, HEAD_SLUG, False, i, seed + 3)
                      for seed, i in enumerate(HEAD_UNITS)]}
    layers = [conv, head]
    _families_and_connections(conv, head)
    return {
        "format": 3,
        "atlas_version": "0.1.0",  # fixed: a version bump must not change the goldens
        "generated_at": "2026-01-01T00:00:00Z",
        "model": {
            "spec": "golden", "title": "Golden test atlas",
            "description": f"A hand-made manifest for the golden-page tests {HOSTILE}.",
            "weights": "golden.pt", "weights_sha256": "ab12" * 16, "input_size": IMAGE_SIZE,
            "parameters": 1234, "preprocess": "none",
            "architecture": [{"name": layer["name"], "type": layer["type"],
                              "shape": layer["shape"], "channels": layer["channels"]}
                             for layer in layers],
            "accuracy": {"biased_test": 0.98, "unbiased_test": 0.41},
        },
        "settings": {
            "steps": STEPS, "image_size": IMAGE_SIZE, "seed": 0, "lr": 0.05,
            "param": "fft+decorrelate, sigmoid", "transforms": "pad 3, jitter 2",
            "tv_weight": 0.001, "l2_weight": 0.0001, "diversity_weight": 10.0,
            "views": list(VIEWS),
        },
        "views": list(VIEWS),
        "dataset": {
            "spec": "golden-digits", "description": f"golden-digits: {IMAGES} tiny images",
            "images": IMAGES, "skipped": 1, "skipped_sources": [f"broken {HOSTILE}.png"],
            "label_keys": ["class", "colour"], "fingerprint": FINGERPRINT,
        },
        "pages": {"index": "index.html", "summary": "summary.html", "joint": "joint.html"},
        "families_method": f"Units grouped by correlated activations {HOSTILE}.",
        "layers": layers,
        "joint": [{
            "label": f"{HEAD}:0 + {CONV}:2",
            "terms": [{"label": f"{HEAD}:0", "layer": HEAD, "unit": 0, "weight": 1.0},
                      {"label": f"{CONV}:2", "layer": CONV, "unit": 2, "weight": 0.5}],
            "images": ["results/joint/0.png"],
            "activations": [[5.1, 4.3]],
        }],
        "summary": _summary(conv, head),
    }


def _verbatim_static(site_dir: Path, rel: str) -> bool:
    """Whether `rel` is a file of templates/static/ copied unchanged into <site>/static/."""
    parts = rel.split("/")
    if len(parts) != 2 or parts[0] != "static":
        return False
    source = templates_dir().joinpath("static", parts[1])
    return source.is_file() and source.read_bytes() == (site_dir / rel).read_bytes()


def render_pages(site_dir: Path) -> dict[str, bytes]:
    """Render the golden atlas into `site_dir`; {site path: bytes} of every file to compare."""
    site_dir = Path(site_dir)
    render_site(manifest(), site_dir, progress=False)
    found = {}
    for path in sorted(site_dir.rglob("*")):
        rel = path.relative_to(site_dir).as_posix()
        if path.is_file() and not _verbatim_static(site_dir, rel):
            found[rel] = path.read_bytes()
    return found


def stored_pages(golden_dir: Path = GOLDEN_DIR) -> dict[str, bytes]:
    """{site path: bytes} of the stored golden files."""
    if not golden_dir.is_dir():
        return {}
    return {p.relative_to(golden_dir).as_posix(): p.read_bytes()
            for p in sorted(golden_dir.rglob("*")) if p.is_file()}


def changes(rendered: dict[str, bytes], stored: dict[str, bytes]) -> dict[str, list[str]]:
    """The site paths that differ: {"changed": [...], "added": [...], "removed": [...]}."""
    return {
        "changed": sorted(p for p in rendered.keys() & stored.keys() if rendered[p] != stored[p]),
        "added": sorted(rendered.keys() - stored.keys()),
        "removed": sorted(stored.keys() - rendered.keys()),
    }


def diff_text(path: str, old: bytes, new: bytes, limit: int = 40) -> str:
    """A unified diff of one file, golden against rendered, cut to `limit` lines."""
    lines = list(difflib.unified_diff(
        old.decode("utf-8", "replace").splitlines(), new.decode("utf-8", "replace").splitlines(),
        f"golden/{path}", f"rendered/{path}", lineterm="", n=2))
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)


def update(golden_dir: Path = GOLDEN_DIR, write: bool = True) -> dict[str, list[str]]:
    """Render the golden atlas and write it over `golden_dir` (each file atomically,
    stale files removed); return and print what changed. `write=False` only reports."""
    with tempfile.TemporaryDirectory() as folder:
        rendered = render_pages(Path(folder))
    stored = stored_pages(golden_dir)
    found = changes(rendered, stored)
    if write:
        for path in found["changed"] + found["added"]:
            write_bytes_atomic(golden_dir.joinpath(*path.split("/")), rendered[path])
        for path in found["removed"]:
            golden_dir.joinpath(*path.split("/")).unlink()
        for folder_path in sorted(golden_dir.rglob("*"), reverse=True):
            if folder_path.is_dir() and not any(folder_path.iterdir()):
                folder_path.rmdir()
    verb = {"changed": "updated", "added": "added", "removed": "removed"} if write else \
        {"changed": "would update", "added": "would add", "removed": "would remove"}
    shown = golden_dir.relative_to(Path.cwd()) if golden_dir.is_relative_to(Path.cwd()) \
        else golden_dir
    for kind, paths in found.items():
        for path in paths:
            print(f"{verb[kind]:>12}  {shown}/{path}")
    total = sum(map(len, found.values()))
    print(f"{len(rendered)} golden files, {total} "
          f"{'changed' if write else 'to change'}" + ("" if total else ": up to date"))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Regenerate (--update) or check (--check) the golden pages in tests/golden/.")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--update", action="store_true", help="write the rendered pages")
    mode.add_argument("--check", action="store_true", help="only say what would change")
    args = parser.parse_args(argv)
    found = update(write=args.update)
    return 1 if args.check and any(found.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
