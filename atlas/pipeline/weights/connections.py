"""The connections between the build's layers, computed once and kept.

For each pair of consecutive chosen layers (in forward order), every chosen
unit of the later layer gets its strongest connections from the chosen units
of the earlier one ("in") and every chosen unit of the earlier layer the units
of the later one it feeds most ("out"), by the expanded weights of
`atlas.pipeline.weights.circuits`. A pair's lists are one JSON file under
results/_build/, keyed by everything that shapes them, so a rebuild with the
same model and layers computes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import torch
from torch import nn

from atlas.pipeline.weights.circuits import MAX_TOP, layer_connections, pair_entries
from atlas.slugs import slugify
from atlas.store import ResultStore, settings_key


def pair_file(earlier: str, later: str) -> str:
    """The stored file of one layer pair, under results/_build/."""
    return f"connections/{slugify(earlier)}--{slugify(later)}.json"


def _pair_settings(common: dict[str, Any], image_size: int, earlier: str, earlier_units: list,
                   later: str, later_units: list, top: int) -> dict[str, Any]:
    return {"atlas": common["atlas"], "model": common["model"],
            "weights_sha256": common["weights_sha256"], "image_size": image_size,
            "earlier": earlier, "later": later, "earlier_units": list(earlier_units),
            "later_units": list(later_units), "top": top}


def pairs_to_compute(store: ResultStore, image_size: int,
                     chosen: Sequence[tuple[str, list[int]]], top: int,
                     common: dict[str, Any]) -> list[tuple[tuple[str, list[int]],
                                                          tuple[str, list[int]], dict]]:
    """The consecutive pairs of `chosen` (forward order) not stored with these
    settings yet: (earlier, its units), (later, its units), settings."""
    todo = []
    for (earlier, earlier_units), (later, later_units) in pairwise(chosen):
        settings = _pair_settings(common, image_size, earlier, earlier_units, later,
                                  later_units, top)
        stored = store.load_json(pair_file(earlier, later))
        if stored is None or stored.get("key") != settings_key(settings):
            todo.append(((earlier, earlier_units), (later, later_units), settings))
    return todo


def store_connections(store: ResultStore, model: nn.Module, preprocess: nn.Module,
                      image_size: int, chosen: Sequence[tuple[str, list[int]]], top: int,
                      common: dict[str, Any], device: torch.device,
                      memory: int | None = None) -> tuple[list[list[str]], int]:
    """Computes the connections of every consecutive pair of `chosen` (layer,
    units), forward order, that is not stored with the same settings yet, each
    within `memory` bytes where given (see `circuits._jacobian_chunks`).
    Returns (the pairs, how many were computed). `top` 0 computes none."""
    if top == 0:
        return [], 0
    if not 1 <= top <= MAX_TOP:
        raise ValueError(f"top must be from 0 to {MAX_TOP}, got {top}")
    pairs = [[earlier, later] for (earlier, _), (later, _) in pairwise(chosen)]
    todo = pairs_to_compute(store, image_size, chosen, top, common)
    for (earlier, earlier_units), (later, later_units), settings in todo:
        pair = layer_connections(model, preprocess, image_size, earlier, later, device,
                                 memory=memory)
        entries = pair_entries(pair, top, earlier_units, later_units)
        store.save_json(pair_file(earlier, later), {
            "key": settings_key(settings), "settings": settings, "block": pair.block,
            **{direction: {str(unit): listed for unit, listed in by_unit.items()}
               for direction, by_unit in entries.items()},
        })
    return pairs, len(todo)


def map_side(sides: Sequence[int]) -> int | None:
    """One side for maps of these sides that takes as many values (their root mean
    square: a map holds side x side of them); None for no sides."""
    return round(math.sqrt(sum(side * side for side in sides) / len(sides))) if sides else None


def stored_map_side(store: ResultStore, pairs: Sequence[Sequence[str]]) -> int | None:
    """`map_side` of the stored pairs' maps."""
    sides = []
    for earlier, later in pairs:
        stored = store.load_json(pair_file(earlier, later)) or {}
        for entries in (stored.get("in") or {}).values():
            sides += [len(entry["map"]) for entry in entries[:1] if entry.get("map")]
    return map_side(sides)


def unit_connections(store: ResultStore, pairs: Sequence[Sequence[str]]
                     ) -> dict[str, dict[int, dict[str, list[dict[str, Any]]]]]:
    """layer -> unit -> {"in": [...], "out": [...]} from the stored pairs (for the
    manifest); a pair whose file is missing is left out."""
    found: dict[str, dict[int, dict[str, list[dict[str, Any]]]]] = {}
    for earlier, later in pairs:
        stored: dict | None = store.load_json(pair_file(earlier, later))
        if stored is None:
            continue
        for unit, entries in stored["in"].items():
            found.setdefault(later, {}).setdefault(int(unit), {})["in"] = entries
        for unit, entries in stored["out"].items():
            found.setdefault(earlier, {}).setdefault(int(unit), {})["out"] = entries
    return found
