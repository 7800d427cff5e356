"""docs/settings.md, made from the settings' declarations (`config.SETTINGS`):
`python -m atlas.settings_table > docs/settings.md` (`make docs`)."""

from __future__ import annotations

from atlas.config import SETTINGS
from atlas.setting import GROUPS, Declared

KIND_WORDS = {"int": "whole number", "float": "number", "bool": "true or false",
              "str": "text", "str_list": "list of text", "float_list": "list of numbers",
              "str_dict": "table of text"}

INTRO = """\
# Settings

Every setting is a key of a TOML config file (`atlas build atlas.toml`) and a flag of
`atlas build` and `atlas plan` (`--image-size 128` sets `image_size`; a true-or-false
setting has `--name` and `--no-name`). A flag overrides the file, and the file the
default. A list is written `["a", "b"]` in the file and `a,b` after a flag; a table
`{conv3 = "nmf:16"}` in the file and `conv3=nmf:16` after a flag.

*Recomputes* says whether a setting joins the cache keys of the results it shapes:
change it and the next build recomputes those results (and only those). A setting
that chooses what to build names the only results it recomputes; changing any other
setting (where the build runs, how big its batches are) reuses every stored result.
A test builds the plan both ways for each setting and checks this column.

This page is made from the settings' declarations in `atlas/config.py` by
`make docs`; a test fails when it is out of date.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(declared: Declared) -> str:
    allowed = declared.allowed_words()
    if declared.setting.choices:
        allowed = ", ".join(f"`{choice}`" for choice in declared.setting.choices)
    kind = KIND_WORDS[declared.kind]
    cells = (f"`{declared.name}`", f"`{declared.flag}`", kind, declared.default_words(),
             allowed, declared.keyed_words(), declared.setting.help)
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def settings_markdown() -> str:
    lines = [INTRO]
    for group, title in GROUPS.items():
        rows = [_row(declared) for declared in SETTINGS.values()
                if declared.setting.group == group]
        if not rows:
            continue
        lines += [f"## {title}", "",
                  "| Key | Flag | Type | Default | Allowed | Recomputes | What it does |",
                  "|---|---|---|---|---|---|---|", *rows, ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(settings_markdown(), end="")
