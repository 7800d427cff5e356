"""The `objective` setting's text ('channel', 'top_k:20', 'class:3:0.5') read into
the dict that joins cache keys and that `views.optimized.unit_objective` reads."""

from __future__ import annotations

import math
from typing import Any

from atlas.errors import AtlasError
from atlas.setting import Ceiling, did_you_mean, number_words

# The largest weight of an objective's term, the class logit's λ and the penalties alike.
MOST_WEIGHT = 1e6
WEIGHT_CEILING = Ceiling(MOST_WEIGHT, "a weight of a million already drowns every other term")


def _whole(text: str) -> bool:
    return text.isascii() and text.isdigit()


OBJECTIVES = ("channel", "neuron", "top_k:K", "class:C", "class:C:λ")
"""The `objective` setting's forms: the names and arguments `parse_objective` reads."""


def parse_objective(text: str) -> dict[str, Any]:
    """'top_k:20' -> {"kind": "top_k", "k": 20}, 'class:3:0.5' -> {"kind": "class",
    "class": 3, "weight": 0.5}, 'channel' -> {"kind": "channel"}: the form the
    objective takes in cache keys and in `views.optimized.unit_objective`."""
    name, _, rest = text.strip().partition(":")
    args = rest.split(":") if rest else []

    def bad(why: str) -> AtlasError:
        return AtlasError(f"objective {text!r} {why}; objectives are: {', '.join(OBJECTIVES)}")

    if name in ("channel", "neuron"):
        if args:
            raise bad("takes no argument")
        return {"kind": name}
    if name == "top_k":
        if len(args) != 1 or not _whole(args[0]) or int(args[0]) < 1:
            raise bad("needs K, a whole number of positions of at least 1, e.g. top_k:20")
        return {"kind": "top_k", "k": int(args[0])}
    if name == "class":
        if len(args) not in (1, 2) or not _whole(args[0]):
            raise bad("needs C, a class index, e.g. class:3 or class:3:0.5")
        spec: dict[str, Any] = {"kind": "class", "class": int(args[0])}
        if len(args) == 2:
            try:
                spec["weight"] = float(args[1])
            except ValueError:
                raise bad(f"has a weight {args[1]!r} that is not a number") from None
            if not math.isfinite(spec["weight"]):
                raise bad("needs a finite weight")
            if abs(spec["weight"]) > MOST_WEIGHT:
                raise bad(f"has a weight {args[1]} beyond ±{number_words(MOST_WEIGHT)} "
                          f"({WEIGHT_CEILING.why})")
        return spec
    kinds = [form.split(":")[0] for form in OBJECTIVES]
    raise AtlasError(f"unknown objective {text!r}{did_you_mean(name, kinds)}; objectives are: "
                     f"{', '.join(OBJECTIVES)}")
