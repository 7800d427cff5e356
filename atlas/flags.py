"""Command-line flags made from the settings' declarations (`config.SETTINGS`): a flag
for each, read as the setting's kind, its help ending with its default."""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from atlas.config import SETTINGS
from atlas.setting import GROUPS, Declared


def csv_list(text: str) -> list[str]:
    """'a, b,' -> ['a', 'b']."""
    return [part.strip() for part in text.split(",") if part.strip()]


def setting_flags(parser: argparse.ArgumentParser, names: Iterable[str]) -> None:
    """A flag for each of the settings `names`, made from its declaration, under its
    group's heading; a flag not given is None, so it leaves the config file's value."""
    groups: dict[str, Any] = {}
    for name in names:
        declared = SETTINGS[name]
        group = declared.setting.group
        if group not in groups:
            groups[group] = parser.add_argument_group(GROUPS[group].lower())
        help_text = f"{declared.setting.help} (default: {declared.default_words()})"
        groups[group].add_argument(declared.flag, dest=name, default=None,
                                   help=help_text.replace("%", "%%"), **flag_form(declared))


def unknown_flags_line(unknown: Sequence[str], parser: argparse.ArgumentParser) -> str:
    """argparse's line for the words `parser` did not take, with the closest flag of
    `parser` for each unknown flag: '--stpes 3' -> '... (did you mean --steps?)'."""
    # argparse keeps its flags in `_actions` only; there is no public accessor.
    flags = [flag for action in parser._actions for flag in action.option_strings]
    asked = [word.partition("=")[0] for word in unknown if word[:1] == "-"]  # --stpes=3: --stpes
    found = {word: close[0] for word in asked
             if (close := difflib.get_close_matches(word, flags, n=1))}
    line = f"unrecognized arguments: {' '.join(unknown)}"
    if found and len(asked) == 1:
        return f"{line} (did you mean {found[asked[0]]}?)"
    if found:
        return f"{line} (did you mean {', '.join(f'{v} for {k}' for k, v in found.items())}?)"
    return line


def flag_form(declared: Declared) -> dict[str, Any]:
    """How a setting's flag reads its value, by the setting's kind."""
    if declared.kind == "bool":
        return {"action": argparse.BooleanOptionalAction}
    setting = declared.setting
    metavar = setting.metavar or ("{" + ",".join(setting.choices) + "}" if setting.choices
                                  else FLAG_METAVARS.get(declared.kind, declared.name.upper()))
    return {"type": FLAG_TYPES.get(declared.kind, str), "metavar": metavar}


def numbers(text: str) -> list[float]:
    """'0.5,0.25' -> [0.5, 0.25] (argparse names this function in its error)."""
    return [float(part) for part in csv_list(text)]


def pairs(text: str) -> dict[str, str]:
    """'conv3=nmf:16,fc=sae:32' -> {"conv3": "nmf:16", "fc": "sae:32"} (argparse names
    this function in its error)."""
    found = {}
    for part in csv_list(text):
        name, equals, value = part.partition("=")
        if not equals or not name.strip() or not value.strip():
            raise ValueError(part)
        found[name.strip()] = value.strip()
    return found


FLAG_TYPES: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str_list": csv_list,
                                               "float_list": numbers, "str_dict": pairs}
FLAG_METAVARS = {"int": "N", "float": "X", "str_list": "A,B", "float_list": "X,Y",
                 "str_dict": "NAME=TEXT,..."}
