"""docs/api-reference.md, made from the public API's signatures and docstrings:
`python -m atlas.api_reference > docs/api-reference.md` (`make docs`)."""

from __future__ import annotations

import inspect
from typing import Any

import atlas
from atlas.layer_listing import LayerListing, ListedLayer
from atlas.results import Atlas, Layer, Unit

INTRO = """\
# API reference

The public names of `import atlas`, with their signatures and docstrings. How to
use them in a notebook: [api.md](api.md). The keyword settings of `atlas.build`
are in [settings.md](settings.md).

This page is made from the code by `make docs`; a test fails when it is out of date.
"""


def _doc(thing: Any) -> str:
    return inspect.cleandoc(thing.__doc__ or "").strip()


def _line(thing: Any) -> str:
    """A docstring on one line, for a list item."""
    return " ".join(_doc(thing).split())


def _signature(function: Any) -> str:
    text = str(inspect.signature(function, eval_str=True))
    for prefix in ("atlas.results.", "atlas.layer_listing.", "pathlib."):
        text = text.replace(prefix, "")
    return text.replace("(self, ", "(").replace("(self)", "()")


def _function(name: str, function: Any) -> list[str]:
    return [f"### `{name}{_signature(function)}`", "", "```text", _doc(function), "```", ""]


def _members(cls: type) -> list[str]:
    lines = [f"### `{cls.__name__}`", "", _doc(cls), ""]
    for name, member in vars(cls).items():
        if name.startswith("_") or name == "atlas":
            continue
        if isinstance(member, property):
            lines += [f"- `.{name}`: {_line(member.fget)}"]
        elif inspect.isfunction(member):
            lines += [f"- `.{name}{_signature(member)}`: {_line(member)}"]
    return [*lines, ""]


def api_markdown() -> str:
    lines = [INTRO, "## Functions", ""]
    lines += _function("atlas.build", atlas.build)
    lines += _function("atlas.open", atlas.open)
    lines += _function("atlas.layers", atlas.layers)
    lines += ["## Classes", ""]
    for cls in (Atlas, Layer, Unit, LayerListing, ListedLayer):
        lines += _members(cls)
    lines += ["## Errors", "", "### `AtlasError`", "", _doc(atlas.AtlasError), ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(api_markdown(), end="")
