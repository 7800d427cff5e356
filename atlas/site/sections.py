"""One section builder per view, under the view's name: what a unit page shows
of it. The pipeline declares the views (`atlas.views`); this module
says how each looks. Builders return plain dicts whose `kind` names the
template partial that places them (templates/sections/<kind>.html)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from atlas.site import formatting as fmt
from atlas.site.curve import loss_curve
from atlas.site.examples_view import examples_section, spectrum_section
from atlas.site.frame import image

Builder = Callable[[str, str, "Section", dict[str, Any], dict[str, Any]], dict[str, Any]]
"""(page, unit label, the section's declaration, the view's manifest entry, the unit) -> section."""


@dataclass(frozen=True)
class Section:
    title: str
    about: str
    build: Builder


def _at(values: list[Any] | None, i: int) -> Any:
    return values[i] if values is not None and i < len(values) else None


def _image_notes(name: str, data: dict[str, Any]) -> Callable[[int], str | None]:
    """Per-view note of image i: what distinguishes it from the others in its view.

    A seed or step the manifest does not give (list too short, or null) means
    no note rather than "seed None"."""

    def position(i: int) -> str | None:
        pos = _at(data.get("positions"), i)
        if isinstance(pos, (list, tuple)) and len(pos) == 2 and None not in pos:
            return f"at ({pos[0]}, {pos[1]})"
        return f"position {i + 1}"

    def numbered(key: str, word: str) -> Callable[[int], str | None]:
        def note(i: int) -> str | None:
            value = _at(data.get(key), i)
            return None if value is None else f"{word} {value}"
        return note

    notes = {"neuron": position, "seeds": numbered("seeds", "seed"),
             "evolution": numbered("steps", "step")}
    return notes.get(name, lambda i: None)


def image_section(page: str, label: str, section: Section, data: dict[str, Any],
                  name: str) -> dict[str, Any]:
    """A strip of optimized images, each captioned with its activation."""
    images = data.get("images") or []
    activations = data.get("activations") or []
    note_of = _image_notes(name, data)
    maps = data.get("transparency")
    entries = [
        image(page, path, f"{label}, {name} image {i + 1}",
              caption=f"activation {fmt.sig3(_at(activations, i))}", note=note_of(i),
              alpha=_at(maps, i))
        for i, path in enumerate(images)
    ]
    return {"kind": "images", "id": name, "title": section.title,
            "caption": f"{section.title} view of {label}. {section.about}",
            "images": entries, "layout": "large" if len(entries) == 1 else "strip",
            "curve": None, "transparency": any(entry["alpha"] for entry in entries)}


def evolution_section(page: str, label: str, section: Section, data: dict[str, Any],
                      unit: dict[str, Any]) -> dict[str, Any]:
    """The snapshots, and the objective at every step as a curve."""
    built = image_section(page, label, section, data, "evolution")
    if data.get("loss"):
        steps = [s for s in data.get("steps") or [] if isinstance(s, int)]
        built["curve"] = loss_curve(data["loss"], marks=steps)
    return built


def kernel_section(page: str, label: str, section: Section, data: dict[str, Any],
                   unit: dict[str, Any]) -> dict[str, Any]:
    """The filter drawn as an image, captioned with its weight range."""
    weights = fmt.value_range(data.get("weight_range"))
    built = image_section(page, label, section, data, "kernel")
    for entry in built["images"]:
        entry["caption"] = f"weights {weights}"
    if data.get("weight_range"):
        built["caption"] += f" Weight range {weights}."
    return built


def accent_section(page: str, label: str, section: Section, data: dict[str, Any],
                   unit: dict[str, Any]) -> dict[str, Any]:
    """Each real image beside its accentuated version: the unit's activation on each,
    and how far (RMS) the accentuation moved it."""
    entries = []
    originals, sources = data.get("originals") or [], data.get("sources") or []
    before, distance = data.get("before") or [], data.get("distance") or []
    for i, path in enumerate(data.get("images") or []):
        original = _at(originals, i)
        if original:
            entries.append(image(page, original, f"{label}, dataset image {i + 1}",
                                 caption=f"real: {fmt.sig3(_at(before, i))}",
                                 note=str(_at(sources, i) or "")))
        entries.append(image(page, path, f"{label}, accentuated image {i + 1}",
                             caption=f"accented: {fmt.sig3(_at(data.get('activations'), i))}",
                             note=f"moved {fmt.sig3(_at(distance, i))} RMS"))
    return {"kind": "images", "id": "accent", "title": section.title,
            "caption": f"{section.title} view of {label}. {section.about}",
            "images": entries, "layout": "pairs", "curve": None, "transparency": False}


def _named(name: str) -> Builder:
    def build(page: str, label: str, section: Section, data: dict[str, Any],
              unit: dict[str, Any]) -> dict[str, Any]:
        return image_section(page, label, section, data, name)
    return build


SECTIONS: dict[str, Section] = {
    "spectrum": Section(
        "Spectrum", "From left to right: the image optimized to inhibit the unit, the dataset "
        "images that inhibit it most, those just below and just above its threshold, those "
        "that excite it most, and the image optimized to excite it.", spectrum_section),
    "positive": Section("Positive", "An input optimized to make the unit's mean activation as "
                        "large as possible.", _named("positive")),
    "negative": Section("Negative", "An input optimized to make the unit's mean activation as "
                        "small as possible: what the unit responds against.", _named("negative")),
    "diversity": Section("Diversity", "A batch optimized together for high activation and for "
                         "differing from one another, so distinct things the unit likes can "
                         "show.", _named("diversity")),
    "neuron": Section("Neuron", "Optimized for the unit at a single spatial position instead of "
                      "its mean over the whole feature map.", _named("neuron")),
    "seeds": Section("Seeds", "The positive optimization repeated from different random starts. "
                     "Where they disagree, the unit may respond to more than one thing.",
                     _named("seeds")),
    "evolution": Section("Evolution", "Snapshots of the positive optimization while it runs, and "
                         "the objective it maximizes at every step.", evolution_section),
    "kernel": Section("Kernel", "The unit's filter weights drawn as an image, scaled from the "
                      "lowest to the highest weight.", kernel_section),
    "examples": Section(
        "Dataset examples", "Real images from the dataset, ranked by the unit's value on each: "
        "its strongest activation over positions (a crop of the input around that position, "
        "sized to the unit's receptive field), or its activation for a linear unit.",
        examples_section),
    "accent": Section(
        "Accentuation", "Each of the unit's top dataset images, then the same image optimized "
        "to excite the unit more while staying close to it (at most the build's accent_radius, "
        "root-mean-square in [0, 1] pixel values): what changed is what in the real image "
        "drives the unit. Values are the unit's mean activation on each image.",
        accent_section),
}
"""Every per-unit view's section, in the order a unit page shows them."""

VIEW_TITLES = {name: section.title for name, section in SECTIONS.items()}


def build_sections(page: str, label: str, unit: dict[str, Any],
                   order: list[str] | None) -> list[dict[str, Any]]:
    """The sections of the unit's views, in the manifest's page order."""
    views = unit.get("views") or {}
    names = [name for name in (order or list(SECTIONS)) if name in SECTIONS]
    return [SECTIONS[name].build(page, label, SECTIONS[name], views[name], unit)
            for name in names if name in views]
