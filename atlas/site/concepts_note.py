"""What a layer page says about the layer's dictionary of concepts
(`LayerHeader.concepts`): how it was fitted and what it is worth, in a sentence, and the
switch between the layer's channels and its concepts."""

from __future__ import annotations

from typing import Any

from atlas.site.links import relative_link

METHODS = {"nmf": "non-negative matrix factorization", "sae": "a TopK sparse autoencoder"}


def concepts_note(layer: dict[str, Any]) -> str | None:
    """The sentence, None for a layer without a dictionary."""
    concepts = layer.get("concepts")
    if not concepts:
        return None
    dead = concepts["dead"]
    base = layer.get("concepts_of")
    # A clamped layer's values above are read before the clamp; its concepts are not.
    clamped = " of its output after the clamp" if layer.get("pre_activation") else ""
    read = (f"Each concept's value at a position is the projection of {base}'s output there "
            "on the concept's direction (of unit length): the value every view below "
            "maximizes, ranks or measures. " if base else "")
    return read + (f"Concepts: a dictionary of {concepts['count']:,} directions by "
            f"{METHODS.get(concepts['method'], concepts['method'])}, fitted on "
            f"{concepts['vectors']:,} activation vectors{clamped} ({concepts['per_image']} "
            f"positions per dataset image). It reconstructs {concepts['r2']:.1%} of their variance "
            f"(R²); a second fit with another seed matches it with a mean cosine of "
            f"{concepts['stability']:.2f}; "
            + (f"{dead:,} of its concepts never fire." if dead else "every concept fires."))


def layer_switch(manifest: dict[str, Any], layer: dict[str, Any]) -> list[dict[str, Any]]:
    """Links to the layer's channels and to its concepts, the one shown marked current;
    [] for a layer without a dictionary."""
    if not layer.get("concepts"):
        return []
    base = layer.get("concepts_of") or layer["name"]
    pair = {"channels": None, "concepts": None}
    for entry in manifest["layers"]:
        if entry["name"] == base:
            pair["channels"] = entry
        elif entry.get("concepts_of") == base:
            pair["concepts"] = entry
    links: list[dict[str, Any]] = []
    for kind, entry in pair.items():
        if entry is not None:
            links.append({"label": f"{kind.title()} · {entry['unit_count']:,}",
                          "href": relative_link(layer["page"], entry["page"]),
                          "current": entry is layer})
    return links if len(links) == 2 else []
