"""View model for a unit page: every view of one channel, its scores and metadata."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from atlas.site import formatting as fmt
from atlas.site import status
from atlas.site.branches import unit_branch
from atlas.site.curve import loss_curve
from atlas.site.frame import frame, image, link
from atlas.site.links import relative_link
from atlas.site.views import settings_rows

VIEW_ORDER = ("positive", "negative", "diversity", "neuron", "seeds", "evolution", "kernel")
"""The order views appear on a unit page."""

VIEW_TEXT = {
    "positive": ("Positive", "An input optimized to make the unit's mean activation as large "
                 "as possible."),
    "negative": ("Negative", "An input optimized to make the unit's mean activation as small "
                 "as possible: what the unit responds against."),
    "diversity": ("Diversity", "A batch optimized together for high activation and for "
                  "differing from one another, so distinct things the unit likes can show."),
    "neuron": ("Neuron", "Optimized for the unit at a single spatial position instead of its "
               "mean over the whole feature map."),
    "seeds": ("Seeds", "The positive optimization repeated from different random starts. "
              "Where they disagree, the unit may respond to more than one thing."),
    "evolution": ("Evolution", "Snapshots of the positive optimization while it runs, and the "
                  "objective it maximizes at every step."),
    "kernel": ("Kernel", "The unit's filter weights drawn as an image, scaled from the lowest "
               "to the highest weight."),
}

VIEW_TITLES = {name: title for name, (title, _) in VIEW_TEXT.items()}

SCORE_LABELS = {"polysemanticity": "Polysemanticity", "colour": "Colour"}

Neighbour = tuple[int, int]
"""A unit's position in the manifest: (layer position, unit position)."""


def _at(values: list[Any] | None, i: int) -> Any:
    return values[i] if values is not None and i < len(values) else None


def _activation(value: float | None) -> str:
    return f"activation {fmt.sig3(value)}"


def _note_makers(data: dict[str, Any]) -> dict[str, Callable[[int], str | None]]:
    """Per-view note of image i: what distinguishes it from the others in its view.

    A seed or step the manifest does not give (list too short, or null) means
    no note rather than "seed None".
    """

    def position(i: int) -> str:
        pos = _at(data.get("positions"), i)
        if isinstance(pos, (list, tuple)) and len(pos) == 2 and None not in pos:
            return f"at ({pos[0]}, {pos[1]})"
        return f"position {i + 1}"

    def numbered(key: str, word: str) -> Callable[[int], str | None]:
        def note(i: int) -> str | None:
            value = _at(data.get(key), i)
            return None if value is None else f"{word} {value}"
        return note

    return {"neuron": position, "seeds": numbered("seeds", "seed"),
            "evolution": numbered("steps", "step")}


def _view(page: str, label: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """One view section: title, explanation, captioned images, and (evolution) the curve."""
    title, about = VIEW_TEXT[name]
    images = data.get("images") or []
    activations = data.get("activations") or []
    note_of = _note_makers(data).get(name)
    entries = [
        image(
            page, path, f"{label}, {name} image {i + 1}",
            caption=(f"weights {fmt.value_range(data.get('weight_range'))}" if name == "kernel"
                     else _activation(_at(activations, i))),
            note=note_of(i) if note_of else None,
        )
        for i, path in enumerate(images)
    ]
    curve = None
    if name == "evolution" and data.get("loss"):
        steps = [s for s in data.get("steps") or [] if isinstance(s, int)]
        curve = loss_curve(data["loss"], marks=steps)
    caption = f"{title} view of {label}. {about}"
    if name == "kernel" and data.get("weight_range"):
        caption += f" Weight range {fmt.value_range(data['weight_range'])}."
    return {
        "id": name,
        "title": title,
        "caption": caption,
        "images": entries,
        "layout": "large" if len(entries) == 1 else "strip",
        "curve": curve,
    }


def neighbours(
    manifest: dict[str, Any], layer_pos: int, unit_pos: int
) -> tuple[Neighbour | None, Neighbour | None]:
    """The units before and after this one, crossing into adjacent layers at the ends."""
    layers = manifest["layers"]
    prev: Neighbour | None = None
    if unit_pos > 0:
        prev = (layer_pos, unit_pos - 1)
    else:
        for lp in range(layer_pos - 1, -1, -1):
            if layers[lp].get("units"):
                prev = (lp, len(layers[lp]["units"]) - 1)
                break
    nxt: Neighbour | None = None
    if unit_pos + 1 < len(layers[layer_pos]["units"]):
        nxt = (layer_pos, unit_pos + 1)
    else:
        for lp in range(layer_pos + 1, len(layers)):
            if layers[lp].get("units"):
                nxt = (lp, 0)
                break
    return prev, nxt


def _neighbour_link(
    manifest: dict[str, Any], page: str, where: Neighbour | None
) -> dict[str, Any] | None:
    if where is None:
        return None
    layer = manifest["layers"][where[0]]
    unit = layer["units"][where[1]]
    return link(page, unit["page"], unit.get("label") or f"{layer['name']}:{unit['index']}")


def unit_view(manifest: dict[str, Any], layer_pos: int, unit_pos: int) -> dict[str, Any]:
    """A unit page: views in `VIEW_ORDER`, scores, metadata, prev/next/up links."""
    layer = manifest["layers"][layer_pos]
    unit = layer["units"][unit_pos]
    page = unit["page"]
    label = unit.get("label") or f"{layer['name']}:{unit['index']}"
    present = unit.get("views") or {}
    scores = [
        {"label": SCORE_LABELS.get(key, fmt.title_case(key)), "value": fmt.sig3(value)}
        for key, value in (unit.get("scores") or {}).items()
        if value is not None
    ]
    prev, nxt = neighbours(manifest, layer_pos, unit_pos)
    metadata = [
        {"label": "Layer", "value": layer["name"], "href": relative_link(page, layer["page"])},
        {"label": "Unit", "value": str(unit["index"]), "href": None},
    ]
    branch = unit_branch(layer, unit)
    if branch is not None:
        anchor = f"#{branch['anchor']}" if branch["anchor"] else ""
        metadata.append({"label": "Branch", "value": branch["value"],
                         "href": relative_link(page, layer["page"]) + anchor})
    metadata += [
        {"label": "Layer type", "value": layer.get("type") or fmt.MISSING, "href": None},
        {"label": "Layer output shape", "value": fmt.shape(layer.get("shape")), "href": None},
        {"label": "Status", "value": status.status_text(unit), "href": None},
    ]
    return {
        "page": frame(manifest, page, label),
        "label": label,
        "layer": layer["name"],
        "branch": branch["sentence"] if branch else None,
        "failed": status.is_failed(unit),
        "dead": status.is_dead(unit),
        "dead_title": status.DEAD_TITLE,
        "notices": status.notices(unit, VIEW_TITLES, VIEW_ORDER),
        "views": [_view(page, label, name, present[name]) for name in VIEW_ORDER
                  if name in present],
        "scores": scores,
        "metadata": metadata,
        "settings": settings_rows(manifest),
        "up": link(page, layer["page"], layer["name"]),
        "prev": _neighbour_link(manifest, page, prev),
        "next": _neighbour_link(manifest, page, nxt),
    }
