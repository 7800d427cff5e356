"""Errors raised through the Python API, in Python's words.

The checks that raise `AtlasError` are shared with the command line and speak its
language ("use --device cpu", "see `atlas layers`"). `python_errors` re-raises them
with each flag of a setting written as the keyword argument (`device='cpu'`) and each
command the API also has written as its function (`atlas.layers()`); everything else
in the message is kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from atlas.errors import AtlasError

# `--name`, `--no-name`, then maybe one value ("cpu", "64", "FILE", "{path}"): a word of
# letters, digits and path characters that the setting takes.
FLAG = re.compile(r"--(?P<no>no-)?(?P<name>[a-z][a-z0-9-]*)(?: (?P<value>[\w./:~-]*[\w/~]))?")
# Commands of `atlas` that the API has as functions; `atlas render` and `atlas plan` it has
# not, so they stay commands.
COMMANDS = {"build": "atlas.build", "layers": "atlas.layers"}
COMMAND = re.compile(r"`atlas (?P<command>build|layers)(?P<flags>[^`]*)`")


# A quoted command of `atlas` the API has no function for: kept as the user would type it.
SHELL_ONLY = re.compile(r"`atlas (?!build\b|layers\b)[^`]*`")


def in_python(message: str) -> str:
    """`message` with its flags of settings and its commands in Python's form."""
    parts = SHELL_ONLY.split(message)
    kept = SHELL_ONLY.findall(message)
    said = [FLAG.sub(_flag, COMMAND.sub(_command, part)) for part in parts]
    return "".join(part + (kept[i] if i < len(kept) else "") for i, part in enumerate(said))


def _command(match: re.Match[str]) -> str:
    flags = [_flag(flag, literal=True) for flag in FLAG.finditer(match["flags"])]
    return f"`{COMMANDS[match['command']]}({', '.join(['...', *flags] if flags else [])})`"


def _flag(match: re.Match[str], literal: bool = False) -> str:
    """A flag as its keyword argument, with its value where the word after the flag is
    one: in a command (`literal`) always; in a sentence where the setting checks it
    (a number, a choice such as cpu), so that "--weights belongs to" keeps its words."""
    from atlas.config import SETTINGS

    name, value = match["name"].replace("-", "_"), match["value"]
    after = f" {value}" if value is not None else ""
    if name not in SETTINGS:
        return match[0]
    if SETTINGS[name].kind == "bool":  # a switch: the word after it is the sentence's
        return f"{name}={not match['no']}{after}"
    if value is None:
        return f"{name}="
    if value.isupper():  # FILE, NAME: a placeholder, not a value the setting would check
        return f"{name}={value}"
    taken = _value(name, value)
    if literal or (taken is not None and not isinstance(taken, str)):
        return f"{name}={value if taken is None else taken!r}"
    declared = SETTINGS[name].setting
    if taken is not None and (declared.choices or declared.check):
        return f"{name}={taken!r}"
    return f"{name}={after}"


def _value(name: str, word: str) -> object:
    """`word` as setting `name` takes it (a number where it is one), None where it
    does not take it."""
    from atlas.config import check_setting

    for read in (int, float, str):
        try:
            return check_setting(name, read(word))
        except (AtlasError, ValueError, TypeError):
            continue
    return None


@contextmanager
def python_errors() -> Iterator[None]:
    """Re-raises an AtlasError from inside with its message in Python's form."""
    try:
        yield
    except AtlasError as error:
        raise AtlasError(in_python(str(error))).with_traceback(error.__traceback__) from None
