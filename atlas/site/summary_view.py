"""View models for the summary page (the three questions) and the joint page."""

from __future__ import annotations

from typing import Any

from atlas.site import formatting as fmt
from atlas.site.frame import frame, href, image, layer_pages, unit_pages

NO_PROBE = "No probe data for this model: colour vs shape is measured by saturation only."
NO_COLOUR_LAYERS = "No layer was measured for colour or shape."
NO_SHORTCUT = ("This model has no biased/unbiased evaluation data, so there is no shortcut "
               "measurement.")
NO_POLYSEMANTIC = ("No polysemanticity scores were recorded for this model (they need several "
                   "seed images per unit).")
"""What the summary page says where a section has nothing measured, instead of an empty table."""

SWAP_LABELS = {
    "follows_colour": "Prediction follows the colour",
    "follows_shape": "Prediction follows the shape",
}


def _colour_section(page: str, section: dict[str, Any], layers: dict[str, str]) -> dict[str, Any]:
    """Question 1: which layers respond to colour more than to shape.

    `probe` is False when no row has a colour score, shape score or verdict (a
    model without probe data): the page then shows saturation only, and `note`
    says why.
    """
    source = [row for row in section.get("layers") or [] if isinstance(row, dict)]
    rows = [
        {
            "name": row.get("name") or "",
            "href": href(page, layers.get(row.get("name") or "")),
            "colour_score": fmt.sig3(row.get("colour_score")),
            "shape_score": fmt.sig3(row.get("shape_score")),
            "saturation": fmt.sig3(row.get("saturation")),
            "verdict": row.get("verdict") or fmt.MISSING,
            "is_colour": row.get("verdict") == "colour",
        }
        for row in source
    ]
    probe = any(
        row.get(key) is not None
        for row in source for key in ("colour_score", "shape_score", "verdict")
    )
    note = NO_COLOUR_LAYERS if not rows else None if probe else NO_PROBE
    return {"method": section.get("method") or "", "layers": rows, "probe": probe,
            "note": note}


def _shortcut_section(page: str, section: dict[str, Any]) -> dict[str, Any]:
    """Question 2: does the model take the colour shortcut instead of reading the digit?"""
    swap = section.get("colour_swap") or {}
    classes = []
    for row in section.get("classes") or []:
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
    }


def _polysemantic_section(page: str, section: dict[str, Any]) -> dict[str, Any]:
    """Question 3: which units look like they respond to several unrelated things."""
    units = []
    for row in section.get("units") or []:
        label = row.get("label") or ""
        units.append({
            "label": label,
            "href": href(page, row.get("page")),
            "score": fmt.sig3(row.get("score")),
            "images": [
                image(page, path, f"{label}, seed image {i + 1}")
                for i, path in enumerate(row.get("images") or [])
            ],
        })
    return {"method": section.get("method") or "", "units": units,
            "note": None if units else NO_POLYSEMANTIC}


def summary_view(manifest: dict[str, Any]) -> dict[str, Any]:
    """The summary page: colour vs shape by layer, shortcut evidence, polysemantic units.

    A section the build did not measure comes through as None, and the page
    says so instead of showing an empty table.
    """
    page = manifest["pages"]["summary"]
    summary = manifest.get("summary") or {}
    colour = summary.get("colour")
    shortcut = summary.get("shortcut")
    polysemantic = summary.get("polysemantic")
    return {
        "page": frame(manifest, page, "Summary", current="summary"),
        "colour": _colour_section(page, colour, layer_pages(manifest)) if colour else None,
        "shortcut": _shortcut_section(page, shortcut) if shortcut else None,
        "shortcut_note": NO_SHORTCUT,
        "polysemantic": _polysemantic_section(page, polysemantic) if polysemantic else None,
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
