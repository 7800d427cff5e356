"""Numbers and values as the strings the pages show.

Templates never format: every number reaches them already a string, made by
one of these functions, so a value reads the same on every page.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

MISSING = "—"
"""Shown where a value is absent (`null` in the manifest)."""

_HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def layer_title(layer: Mapping[str, Any]) -> str:
    """A layer as pages name it: a concept layer as the concepts of its layer."""
    base = layer.get("concepts_of")
    return f"{base} concepts" if base else str(layer["name"])


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def sig3(value: float | None) -> str:
    """`value` to three significant digits, keeping trailing zeros (3.1 -> "3.10")."""
    if value is None or not _is_number(value):
        return MISSING
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == 0:
        return "0.00"
    rounded = float(f"{value:.3g}")
    exponent = math.floor(math.log10(abs(rounded)))
    if -4 <= exponent < 5:
        return f"{rounded:.{max(0, 2 - exponent)}f}"
    return f"{rounded:.2e}"


def percent(fraction: float | None) -> str:
    """A fraction in [0, 1] as a percentage with one decimal (0.981 -> "98.1%")."""
    if fraction is None or not _is_number(fraction) or not math.isfinite(fraction):
        return MISSING
    return f"{100 * fraction:.1f}%"


def integer(value: int | None) -> str:
    """An integer with thousands separators (25034 -> "25,034")."""
    if value is None or not _is_number(value):
        return MISSING
    return f"{int(value):,}"


def shape(dims: Sequence[int] | None) -> str:
    """A tensor shape as "8 × 28 × 28"."""
    if not dims:
        return MISSING
    return " × ".join(str(d) for d in dims)


def value_range(bounds: Sequence[float | None] | None) -> str:
    """A (low, high) pair as "-0.310 to 0.280"."""
    if not bounds or len(bounds) != 2:
        return MISSING
    return f"{sig3(bounds[0])} to {sig3(bounds[1])}"


def setting(value: Any) -> str:
    """A build setting of any JSON type as one short string."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(setting(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {setting(item)}" for key, item in value.items())
    return str(value)


def yes_no(flag: bool | None) -> str:
    """A boolean as "yes" / "no", or the missing mark."""
    if flag is None:
        return MISSING
    return "yes" if flag else "no"


def css_colour(value: Any) -> str | None:
    """`value` if it is a plain hex colour (safe inside a style attribute), else None.

    Colours come from the manifest and go into `style="background: …"`; only a
    strict `#rgb` / `#rrggbb` passes, so no manifest text can inject CSS.
    """
    if isinstance(value, str) and _HEX_COLOUR.fullmatch(value):
        return value
    return None


def title_case(name: str) -> str:
    """A snake_case key as a label ("unbiased_test" -> "Unbiased test")."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]
