"""What makes a stored record usable: records are read back from a folder anyone may
have edited, so each is checked for the shape its readers rely on, and every file it
names must be a file of the site (`atlas.site_paths`). A check returns why a record
is not usable, or None; the store reads a record that is not as missing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from atlas.site_paths import SiteFiles

# Record fields that name files of the site (a compare variant's "image" is an index).
FILE_FIELDS = ("image", "images", "originals", "transparency")


def named_files(value: Any) -> Iterator[Any]:
    """Every value a record gives as a file of the site, at any depth."""
    if isinstance(value, dict):
        for field, inner in value.items():
            if field in FILE_FIELDS and isinstance(inner, (str, list)):
                yield from (inner if isinstance(inner, list) else [inner])
            else:
                yield from named_files(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from named_files(inner)


def object_problem(value: Any, files: SiteFiles) -> str | None:
    """Why `value` is not a usable whole-build file; None where it is."""
    return None if isinstance(value, dict) else f"a JSON {type(value).__name__}, not an object"


def view_record_problem(record: Any, files: SiteFiles) -> str | None:
    """Why `record` is not a usable view record; None where it is. Checks the shape the
    readers rely on and that every file it names is inside the site."""
    problem = object_problem(record, files)
    if problem is not None:
        return problem
    if record.get("status") != "failed" and "images" not in record:  # failed: no images
        return "it names no 'images'"
    for field in ("images", "originals", "transparency"):
        listed = record.get(field, [])
        if not (isinstance(listed, list) and all(isinstance(item, str) for item in listed)):
            return f"its {field!r} is not a list of file names"
    for path in named_files(record):
        if path is None:  # a list's missing entry (an example without its crop)
            continue
        try:
            files.file(path)
        except ValueError as error:
            return str(error)
    return None


# A file or folder name of atlas's own under results/ (a slug, a hash): never a path.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _list_of(value: Any, kind: type) -> bool:
    return isinstance(value, list) and all(isinstance(item, kind) for item in value)


def _layer_problem(layer: Any) -> str | None:
    if not isinstance(layer, dict):
        return "a layer is not an object"
    for field, kind in (("name", str), ("type", str), ("channels", int), ("kernel", bool)):
        if not isinstance(layer.get(field), kind):
            return f"a layer's {field!r} is not a {kind.__name__}"
    for field in ("shape", "units"):
        if not _list_of(layer.get(field), int):
            return f"layer {layer['name']!r}'s {field!r} is not a list of whole numbers"
    return None


def _optional_problem(record: dict) -> str | None:
    """What is wrong with the fields only some builds have (connections, compare, ...)."""
    connections, compare = record.get("connections"), record.get("compare")
    if connections is not None and not (
            isinstance(connections, dict) and _list_of(connections.get("pairs"), list)
            and all(len(pair) == 2 and _list_of(pair, str) for pair in connections["pairs"])):
        return "its 'connections' is not a list of layer pairs"
    if compare is not None and not (
            isinstance(compare, dict) and _list_of(compare.get("units"), list)
            and all(len(unit) == 2 and isinstance(unit[0], str) and isinstance(unit[1], int)
                    for unit in compare["units"])):
        return "its 'compare' is not a list of [layer, unit] pairs"
    concepts = record.get("concepts") or {}  # layer -> its dictionary's folder
    names = list(concepts.values()) if isinstance(concepts, dict) else [None]
    if "classes" in record:  # the class pages' record
        names.append(record["classes"])
    if not all(isinstance(name, str) and PLAIN_NAME.fullmatch(name) for name in names):
        return "its 'concepts' or 'classes' names something other than a file of results/"
    return None


def build_record_problem(record: Any) -> str | None:
    """Why build.json's content is not what `pipeline/manifest.py` reads; None where it is."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    settings = record.get("settings")
    if not (isinstance(record.get("model"), dict) and isinstance(settings, dict)):
        return "it lacks its 'model' or 'settings'"
    if not _list_of(settings.get("views"), str):
        return "its settings' 'views' is not a list of names"
    if not isinstance(record.get("layers"), list):
        return "its 'layers' is not a list"
    for layer in record["layers"]:
        problem = _layer_problem(layer)
        if problem is not None:
            return problem
    if not _list_of(record.get("joint"), str):
        return "its 'joint' is not a list of expressions"
    return _optional_problem(record)
