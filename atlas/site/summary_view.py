"""View models for the summary page (the three questions, and the faithfulness
of the visualizations to the data) and the joint page."""

from __future__ import annotations

from typing import Any, cast

from atlas.site import formatting as fmt
from atlas.site import status
from atlas.site.dataset_notes import has_dataset
from atlas.site.dataset_notes import note as dataset_note
from atlas.site.frame import frame, href, image, layer_pages, unit_pages
from atlas.site.labels import dominant

NO_PROBE = "No probe data for this model: colour vs shape is measured by saturation only."
NO_COLOUR_LAYERS = "No layer was measured for colour or shape."
NO_SHORTCUT = ("This model has no biased/unbiased evaluation data, so there is no shortcut "
               "measurement.")
NO_POLYSEMANTIC = ("No polysemanticity scores were recorded for this model (they need several "
                   "seed images per unit).")
"""What the summary page says where a section has nothing measured, instead of an empty table."""

NO_EXAMPLES_COLOUR = ("No dataset was scanned, so colour versus shape is not read from real "
                      "images here (the share of each unit's top examples wearing one colour "
                      "or showing one class).")
NO_EXAMPLE_LABELS = ("The scanned dataset has no labels, so its top examples cannot tell colour "
                     "from shape.")
NO_SHORTCUT_EXAMPLES = ("No dataset was scanned, so the class logits' top dataset examples "
                        "are not counted here.")
POLY_FROM_SEEDS = ("Ranked by the spread of the seed images: no dataset was scanned, so the "
                   "units' top examples could not be compared.")
NO_FAITHFULNESS = ("Not measured: faithfulness compares each positive visualization with the "
                   "unit's top dataset examples, and no dataset was scanned.")
"""The notes of a build without a dataset; each goes with the command that adds one."""

SWAP_LABELS = {
    "follows_colour": "Prediction follows the colour",
    "follows_shape": "Prediction follows the shape",
}
POLY_SCORE_HEADERS = {"examples": "Score (top examples)", "seeds": "Score (seeds)"}
EXAMPLE_THUMBS = 5
"""How many top examples the summary shows beside a unit."""


def _row_link(page: str, layers: dict[str, str], name: str) -> str | None:
    return href(page, layers.get(name))


def _cell(text: str, num: bool = False, verdict: bool = False,
          is_colour: bool = False) -> dict[str, Any]:
    return {"text": text, "num": num, "verdict": verdict, "is_colour": is_colour}


def _verdict(value: Any) -> dict[str, Any]:
    return _cell(value or fmt.MISSING, verdict=True, is_colour=value == "colour")


def _colour_section(page: str, section: dict[str, Any], layers: dict[str, str],
                    dataset: bool) -> dict[str, Any]:
    """Question 1: which layers respond to colour more than to shape.

    Columns come in groups that are shown only where some row has a value: the
    probe's eta² scores and verdict (absent for a model without probe data, which
    `note` then explains), the saturation, and the shares of the top dataset
    examples with their own verdict (absent without a dataset, which
    `examples_note` explains).
    """
    source = [row for row in section.get("layers") or [] if isinstance(row, dict)]

    def measured(*keys: str) -> bool:
        return any(row.get(key) is not None for row in source for key in keys)

    probe = measured("colour_score", "shape_score", "verdict")
    examples = measured("top_colour_share", "top_class_share", "examples_verdict")
    columns: list[dict[str, Any]] = []
    if probe:
        columns += [{"label": "Colour score", "num": True}, {"label": "Shape score", "num": True},
                    {"label": "Verdict", "num": False}]
    columns.append({"label": "Saturation", "num": True})
    if examples:
        columns += [{"label": "Top examples in one colour", "num": True},
                    {"label": "Top examples of one class", "num": True},
                    {"label": "Verdict from examples", "num": False}]
    rows = []
    for row in source:
        cells = []
        if probe:
            cells += [_cell(fmt.sig3(row.get("colour_score")), num=True),
                      _cell(fmt.sig3(row.get("shape_score")), num=True),
                      _verdict(row.get("verdict"))]
        cells.append(_cell(fmt.sig3(row.get("saturation")), num=True))
        if examples:
            cells += [_cell(fmt.percent(row.get("top_colour_share")), num=True),
                      _cell(fmt.percent(row.get("top_class_share")), num=True),
                      _verdict(row.get("examples_verdict"))]
        name = row.get("name") or ""
        rows.append({"name": name, "href": _row_link(page, layers, name), "cells": cells})
    note = NO_COLOUR_LAYERS if not rows else None if probe else NO_PROBE
    return {"method": section.get("method") or "",
            "examples_method": (section.get("examples_method") or "") if examples else "",
            "columns": columns, "layers": rows, "probe": probe,
            "note": note,
            "examples_note": None if examples or not rows
            else dataset_note(NO_EXAMPLE_LABELS, with_command=False) if dataset
            else dataset_note(NO_EXAMPLES_COLOUR)}


def _thumbs(page: str, paths: Any, alt: str, limit: int = EXAMPLE_THUMBS) -> list[dict[str, Any]]:
    """Small images for a table cell: the first `limit` of `paths`."""
    found = [p for p in paths if isinstance(p, str) and p] if isinstance(paths, list) else []
    return [image(page, path, f"{alt} {i + 1}") for i, path in enumerate(found[:limit])]


def _of(count: Any, total: Any) -> str:
    if isinstance(count, int) and isinstance(total, int):
        return f"{count} of {total}"
    return fmt.MISSING


def _shortcut_section(page: str, section: dict[str, Any], dataset: bool) -> dict[str, Any]:
    """Question 2: does the model take the colour shortcut instead of reading the digit?

    With a dataset, each class logit's row also counts how many of its top
    dataset examples show its class and how many wear its class's colour."""
    swap = section.get("colour_swap") or {}
    source = [row for row in section.get("classes") or [] if isinstance(row, dict)]
    examples = any(row.get("top_count") is not None for row in source)
    classes = []
    for row in source:
        name = "" if row.get("class") is None else str(row["class"])
        classes.append({
            "name": name,
            "href": href(page, row.get("unit_page")),
            "image": image(page, row["image"], f"class {name} logit, positive")
            if row.get("image") else None,
            "class_colour": fmt.css_colour(row.get("class_colour")),
            "class_colour_text": row.get("class_colour") or fmt.MISSING,
            "image_colour": fmt.css_colour(row.get("image_colour")),
            "image_colour_text": row.get("image_colour") or fmt.MISSING,
            "matches": fmt.yes_no(row.get("matches")),
            "is_match": row.get("matches") is True,
            "top_of_class": _of(row.get("top_of_class"), row.get("top_count")),
            "top_in_colour": _of(row.get("top_in_class_colour"), row.get("top_count")),
            "top_images": _thumbs(page, row.get("top_images"),
                                  f"class {name} logit, top dataset example"),
        })
    return {
        "method": section.get("method") or "",
        "accuracy": [
            {"label": "Biased test set", "value": fmt.percent(section.get("biased_accuracy"))},
            {"label": "Unbiased test set", "value": fmt.percent(section.get("unbiased_accuracy"))},
        ],
        "colour_swap": [
            {"label": SWAP_LABELS.get(key, fmt.title_case(key)), "value": fmt.percent(value)}
            for key, value in swap.items()
        ],
        "classes": classes,
        "examples": examples,
        "examples_note": None if examples or dataset or not classes
        else dataset_note(NO_SHORTCUT_EXAMPLES),
    }


def share_lines(labels: Any) -> list[str]:
    """A unit's dominant labels with their shares: ["class 3 · 4/10", "colour red · 5/10"]."""
    return [f"{s.key} {s.value}" + (f" · {s.fraction}" if s.fraction else "")
            for s in dominant(labels)]


def _polysemantic_section(page: str, section: dict[str, Any], dataset: bool) -> dict[str, Any]:
    """Question 3: which units look like they respond to several unrelated things.

    Ranked by the spread of the top dataset examples' labels where a dataset
    was scanned (`source` "examples"), with the seeds and diversity spreads as
    cross-checks; otherwise by the seeds' spread."""
    source = (cast(str, section.get("source"))  # one of the headers' keys: checked here
              if section.get("source") in POLY_SCORE_HEADERS else "seeds")
    rows = [row for row in section.get("units") or [] if isinstance(row, dict)]
    units = []
    for row in rows:
        label = row.get("label") or ""
        units.append({
            "label": label,
            "href": href(page, row.get("page")),
            "score": fmt.sig3(row.get("score")),
            "seeds_score": fmt.sig3(row.get("seeds_score")),
            "diversity_score": fmt.sig3(row.get("diversity_score")),
            "labels": share_lines(row.get("labels")) or [fmt.MISSING],
            "examples": _thumbs(page, row.get("examples"), f"{label}, top dataset example"),
            "images": _thumbs(page, row.get("images"), f"{label}, seed image", limit=10**6),
        })
    return {
        "method": section.get("method") or "",
        "source": source,
        "score_header": POLY_SCORE_HEADERS[source],
        "cross_checks": source == "examples",
        "diversity": any(row.get("diversity_score") is not None for row in rows),
        "examples": any(unit["examples"] for unit in units),
        "units": units,
        "note": None if units else NO_POLYSEMANTIC,
        "seeds_note": dataset_note(POLY_FROM_SEEDS) if units and source == "seeds"
        and not dataset else None,
    }


def _faithfulness_section(page: str, section: dict[str, Any] | None,
                          layers: dict[str, str]) -> dict[str, Any]:
    """Question 4: do the visualizations show what the units see in real images?"""
    if not isinstance(section, dict):
        return {"method": "", "layers": [], "note": dataset_note(NO_FAITHFULNESS)}
    rows = []
    for row in section.get("layers") or []:
        if not isinstance(row, dict):
            continue
        name = row.get("name") or ""
        rows.append({"name": name, "href": _row_link(page, layers, name),
                     "faithfulness": fmt.sig3(row.get("faithfulness")),
                     "baseline": fmt.sig3(row.get("baseline")),
                     "super_stimulus": fmt.sig3(row.get("super_stimulus")),
                     "flags": [_flag_count(row, flag) for flag in status.FLAG_WORDS]})
    return {"method": section.get("method") or "", "layers": rows,
            "flag_titles": [words[1] for words in status.FLAG_WORDS.values()],
            "note": None if rows else dataset_note(NO_FAITHFULNESS)}


def _flag_count(row: dict[str, Any], flag: str) -> str:
    """ "3 of 16": the layer's units with `flag` (pipeline/flags.py)."""
    count, units = row.get(flag), row.get("units")
    if not isinstance(count, int) or not isinstance(units, int):
        return fmt.MISSING
    return f"{count:,} of {units:,}"


def _recognition_section(page: str, section: dict[str, Any] | None) -> dict[str, Any] | None:
    """Question 5: does the model recognize its own class visualizations?"""
    if not isinstance(section, dict):
        return None
    units = section.get("units") or 0
    labelled = section.get("labelled") or 0
    rows = []
    for row in section.get("rows") or []:
        label = f"{section.get('layer')}:{row.get('unit')}"
        rows.append({
            "label": label, "href": href(page, row.get("page")),
            "class": row.get("class") or fmt.MISSING,
            "rank": str(row.get("rank")), "predicted": row.get("predicted") or fmt.MISSING,
            "top_example": row.get("top_example") or fmt.MISSING,
            "image": _thumbs(page, [row["image"]] if row.get("image") else [],
                             f"{label}, positive visualization"),
        })
    return {
        "method": section.get("method") or "",
        "layer": section.get("layer") or "",
        "units": str(units),
        "top1": fmt.percent(section.get("top1")),
        "top5": fmt.percent(section.get("top5")),
        "in_class": (f"{section.get('top_example_in_class', 0):,} of {labelled:,}"
                     if labelled else None),
        "rows": rows,
    }


def _concepts_verdict(row: dict[str, Any]) -> str:
    """One sentence: how the concepts compare with the channels, from the measured means."""
    channels, concepts = row.get("channels") or {}, row.get("concepts") or {}
    parts = []
    for key, flag, better, worse in (("faithfulness", "more_faithful", "more faithful",
                                      "less faithful"),
                                     ("polysemanticity", "less_polysemantic",
                                      "less polysemantic", "more polysemantic")):
        if row.get(flag) is None:
            continue
        parts.append(f"{better if row[flag] else worse} ({fmt.sig3(concepts.get(key))} "
                     f"against {fmt.sig3(channels.get(key))})")
    if not parts:
        return "Not compared: the dataset measured neither score for both."
    return (f"{row.get('layer')}'s {concepts.get('units', 0):,} concepts are "
            f"{' and '.join(parts)} than its {channels.get('units', 0):,} channels.")


def _concepts_section(page: str, section: dict[str, Any] | None,
                      layers: dict[str, str]) -> dict[str, Any] | None:
    """Concepts against channels, per layer with a dictionary; None without one."""
    if not isinstance(section, dict) or not section.get("layers"):
        return None
    rows = []
    for row in section["layers"]:
        for kind, name in (("channels", row.get("layer") or ""),
                           ("concepts", row.get("concepts_layer") or "")):
            means = row.get(kind) or {}
            rows.append({"name": f"{row.get('layer')} {kind}",
                         "href": _row_link(page, layers, name),
                         "units": fmt.integer(means.get("units")),
                         "faithfulness": fmt.sig3(means.get("faithfulness")),
                         "baseline": fmt.sig3(means.get("baseline")),
                         "polysemanticity": fmt.sig3(means.get("polysemanticity"))})
    return {"method": section.get("method") or "", "rows": rows,
            "verdicts": [_concepts_verdict(row) for row in section["layers"]]}


def summary_view(manifest: dict[str, Any]) -> dict[str, Any]:
    """The summary page: colour vs shape by layer, shortcut evidence, polysemantic
    units, faithfulness of the visualizations to the data.

    A section the build did not measure comes through as None (or with a note),
    and the page says so instead of showing an empty table; where a dataset
    would have measured it, the note says how to add one.
    """
    page = manifest["pages"]["summary"]
    summary = manifest.get("summary") or {}
    dataset = has_dataset(manifest)
    layers = layer_pages(manifest)
    colour = summary.get("colour")
    shortcut = summary.get("shortcut")
    polysemantic = summary.get("polysemantic")
    return {
        "page": frame(manifest, page, "Summary", current="summary"),
        "colour": _colour_section(page, colour, layers, dataset) if colour else None,
        "shortcut": _shortcut_section(page, shortcut, dataset) if shortcut else None,
        "shortcut_note": NO_SHORTCUT,
        "polysemantic": _polysemantic_section(page, polysemantic, dataset)
        if polysemantic else None,
        "faithfulness": _faithfulness_section(page, summary.get("faithfulness"), layers),
        "recognition": _recognition_section(page, summary.get("recognition")),
        "concepts": _concepts_section(page, summary.get("concepts"), layers),
    }


def joint_view(manifest: dict[str, Any]) -> dict[str, Any]:
    """The joint page: one figure per jointly optimized combination of units."""
    page = manifest["pages"]["joint"]
    pages = unit_pages(manifest)
    entries = []
    for entry in manifest.get("joint") or []:
        label = entry.get("label") or ""
        terms = entry.get("terms") or []
        term_links = [
            {
                "label": term.get("label") or "",
                "weight": fmt.sig3(term.get("weight")),
                "href": href(page, pages.get((term.get("layer"), term.get("unit")))),
            }
            for term in terms
        ]
        activations = entry.get("activations") or []
        figures = []
        for i, path in enumerate(entry.get("images") or []):
            values = activations[i] if i < len(activations) and activations[i] else []
            figures.append({
                "image": image(page, path, f"{label}, image {i + 1}"),
                "activations": [
                    {"label": term.get("label") or "", "value": fmt.sig3(value)}
                    for term, value in zip(terms, values, strict=False)
                ],
            })
        entries.append({"label": label, "terms": term_links, "figures": figures})
    return {"page": frame(manifest, page, "Joint optimizations", current="joint"),
            "entries": entries}
