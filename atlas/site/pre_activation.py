"""What a page says about a clamped layer: its values are read before the clamp
(`LayerHeader.pre_activation`), so the reader knows why they go below zero."""

from __future__ import annotations

from typing import Any


def pre_activation_fact(layer: dict[str, Any]) -> str | None:
    """A unit page's short line, None for a layer read at its output."""
    pre = layer.get("pre_activation")
    if not pre:
        return None
    return (f"Values are pre-activations, {pre['source']}, which clamps them at "
            f"{pre['floor']:g}: they go below it where the layer's output cannot.")


def pre_activation_note(layer: dict[str, Any]) -> str | None:
    """The layer page's sentence, None for a layer read at its output."""
    pre = layer.get("pre_activation")
    if not pre:
        return None
    floor = f"{pre['floor']:g}"
    return (f"Values on this layer are pre-activations, {pre['source']}: the layer's output "
            f"is clamped at {floor} and has no gradient below it, so the negative view, "
            "the minimum and slightly negative examples, the histogram and every activation "
            f"shown read the tensor before the clamp, where the unit can go below {floor}.")
