"""What a layer page says about the layer's dictionary of concepts
(`LayerHeader.concepts`): how it was fitted and what it is worth, in a sentence."""

from __future__ import annotations

from typing import Any

METHODS = {"nmf": "non-negative matrix factorization", "sae": "a TopK sparse autoencoder"}


def concepts_note(layer: dict[str, Any]) -> str | None:
    """The sentence, None for a layer without a dictionary."""
    concepts = layer.get("concepts")
    if not concepts:
        return None
    dead = concepts["dead"]
    # A clamped layer's values above are read before the clamp; its concepts are not.
    clamped = " of its output after the clamp" if layer.get("pre_activation") else ""
    return (f"Concepts: a dictionary of {concepts['count']:,} directions by "
            f"{METHODS.get(concepts['method'], concepts['method'])}, fitted on "
            f"{concepts['vectors']:,} activation vectors{clamped} ({concepts['per_image']} "
            f"positions per dataset image). It reconstructs {concepts['r2']:.1%} of their variance "
            f"(R²); a second fit with another seed matches it with a mean cosine of "
            f"{concepts['stability']:.2f}; "
            + (f"{dead:,} of its concepts never fire." if dead else "every concept fires."))
