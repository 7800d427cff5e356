"""One build setting's declaration, and what is made from it.

Every setting is one field of `config.BuildConfig`, declared with `setting(...)`:
its type (the field's annotation), default, help, bounds or choices, its group and
whether it joins the cache keys of the results it shapes. The TOML reader, the
command line's flags and their help, validation and docs/settings.md all read
these declarations through `declarations`; none repeats them.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from atlas.errors import AtlasError

# The groups settings are listed in, on `atlas build --help` and in docs/settings.md.
GROUPS = {
    "model": "The model",
    "units": "What to visualize",
    "optimization": "Optimization",
    "views": "Views",
    "dataset": "The dataset",
    "site": "The site",
    "execution": "Where it runs",
}


@dataclass(frozen=True)
class Bounds:
    """The numbers a setting allows: `low` and `high` included unless open."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # above `low` rather than at least
    high_open: bool = False  # below `high` rather than at most

    def hold(self, value: float) -> bool:
        if not finite(value):  # NaN passes every comparison's negation
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def words(self) -> str:
        """'at least 1', 'from 0 to 50', 'at least 0 and below 1'."""
        if self.low is not None and self.high is not None and not (self.low_open
                                                                  or self.high_open):
            return f"from {number_words(self.low)} to {number_words(self.high)}"
        parts = []
        if self.low is not None:
            parts.append(f"{'above' if self.low_open else 'at least'} {number_words(self.low)}")
        if self.high is not None:
            parts.append(f"{'below' if self.high_open else 'at most'} "
                         f"{number_words(self.high)}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Ceiling:
    """The most a setting takes for a reason outside what it means (time, memory, the
    float range), which its message says: 'at most 10000 (a bound on time)'."""

    most: float
    why: str

    def words(self) -> str:
        return f"at most {number_words(self.most)} ({self.why})"


def number_words(number: float) -> str:
    """50 -> '50', 4294967295.0 -> '4294967295', 0.05 -> '0.05', 1e6 -> '1000000'."""
    if float(number).is_integer() and abs(number) < 1e16:
        return str(int(number))
    return f"{number:g}"


def finite(value: Any) -> bool:
    """Whether a number, or every number of a list, is neither NaN nor infinite."""
    if isinstance(value, list):
        return all(finite(item) for item in value)
    return not isinstance(value, float) or math.isfinite(value)


@dataclass(frozen=True)
class Setting:
    """What a setting's field declares beyond its name, type and default."""

    help: str
    group: str
    # Joins the cache keys of the results it shapes, so a change recomputes them: True,
    # False, or the only results it recomputes (a setting that chooses what to build).
    keyed: bool | str
    bounds: Bounds | None = None
    ceiling: Ceiling | None = None  # checked after `bounds`, its own reason in its message
    choices: tuple[str, ...] = ()
    check: Callable[[Any], Any] | None = None  # its own check (a parser), raising AtlasError
    # The message when the value is out of bounds, formatted with the settings' values
    # (`{value}` is this one), where the plain '{name} must be {bounds}' says too little.
    error: str | None = None
    shown: str | None = None  # how help shows the default, where the value says little
    metavar: str | None = None


def setting(default: Any = None, *, help: str, group: str, keyed: bool | str,
            factory: Callable[[], Any] | None = None, at_least: float | None = None,
            above: float | None = None, at_most: float | None = None,
            below: float | None = None, ceiling: Ceiling | None = None,
            choices: Iterable[str] = (), check: Callable[[Any], Any] | None = None,
            error: str | None = None, shown: str | None = None,
            metavar: str | None = None) -> Any:
    """A BuildConfig field: its default (or `factory` for a list) and its declaration."""
    if group not in GROUPS:
        raise ValueError(f"unknown settings group {group!r}")
    low, high = (above if above is not None else at_least), (below if below is not None
                                                            else at_most)
    bounds = (Bounds(low, high, above is not None, below is not None)
              if low is not None or high is not None else None)
    declared = Setting(help, group, keyed, bounds, ceiling, tuple(choices), check, error, shown,
                       metavar)
    metadata = {"setting": declared}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def kind_of(annotation: Any) -> str:
    """What a setting's annotation asks of a value: "int", "float", "bool", "str",
    "str_list", "float_list" or "str_dict" (a table of text by name; None, where a
    setting allows it, stays None)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation, = (arg for arg in typing.get_args(annotation) if arg is not type(None))
    if typing.get_origin(annotation) is list:
        item, = typing.get_args(annotation)
        return f"{item.__name__}_list"
    if typing.get_origin(annotation) is dict:
        _, item = typing.get_args(annotation)
        return f"{item.__name__}_dict"
    return str(annotation.__name__)


@dataclass(frozen=True)
class Declared:
    """One setting as declared: name, kind, default and its `Setting`."""

    name: str
    kind: str
    default: Any
    optional: bool  # None is a value it takes
    setting: Setting

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def default_words(self) -> str:
        if self.setting.shown is not None:
            return self.setting.shown
        if isinstance(self.default, bool):
            return "on" if self.default else "off"
        if isinstance(self.default, list):
            return ", ".join(str(item) for item in self.default)
        if isinstance(self.default, dict):
            return ", ".join(f"{key}={value}" for key, value in self.default.items())
        return str(self.default)

    def keyed_words(self) -> str:
        keyed = self.setting.keyed
        return "yes" if keyed is True else keyed or ""

    def allowed_words(self) -> str:
        """The values it takes beyond its type, in words ('' where any of its type)."""
        if self.setting.choices:
            return ", ".join(self.setting.choices)
        declared = self.setting
        return ", ".join(part.words() for part in (declared.bounds, declared.ceiling)
                         if part is not None)

    def take(self, value: Any) -> Any:
        """`value` as this setting takes it, or an AtlasError naming the key."""
        def wrong(kind: str) -> AtlasError:
            return AtlasError(f"setting {self.name!r} must be {kind}, not {value!r} "
                              f"({type(value).__name__})")

        kind = self.kind
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise wrong("a whole number")
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise wrong("a number")
            return float(value)
        elif kind == "bool":
            if not isinstance(value, bool):
                raise wrong("true or false")
        elif kind == "str_list":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise wrong("a list of strings, e.g. [\"a\", \"b\"]")
        elif kind == "float_list":
            if not isinstance(value, list) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                raise wrong("a list of numbers")
        elif kind == "str_dict":
            if not isinstance(value, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
                raise wrong("a table of names to text, e.g. {conv3 = \"nmf:16\"}")
        elif self.name == "channels" and isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # channels = 3 in a config file reads as "3"
        elif not isinstance(value, str):
            raise wrong("a string")
        return value

    def check(self, value: Any, values: dict[str, Any]) -> None:
        """Raises an AtlasError if `value` is not finite (NaN or infinite), outside its
        choices, bounds or ceiling, or fails its own check; `values` are all the settings,
        for a message that names others."""
        if value is None:
            return
        declared = self.setting
        if not finite(value):
            what = "finite numbers" if isinstance(value, list) else "a finite number"
            allowed = f", {self.allowed_words()}" if self.allowed_words() else ""
            raise AtlasError(f"{self.name} must be {what}{allowed}, not {value}")
        if declared.choices and value not in declared.choices:
            choices = declared.choices
            allowed = (f"'{choices[0]}' or '{choices[1]}'" if len(choices) == 2
                       else f"one of {', '.join(choices)}")
            raise AtlasError(f"{self.name} must be {allowed}, not {value!r}"
                             f"{did_you_mean(value, choices)}")
        if declared.bounds is not None and not declared.bounds.hold(value):
            if declared.error is not None:
                raise AtlasError(declared.error.format(**{**values, "value": value}))
            raise AtlasError(f"{self.name} must be {declared.bounds.words()}, not {value}")
        ceiling = declared.ceiling
        if ceiling is not None and value > ceiling.most:
            raise AtlasError(f"{self.name} must be {ceiling.words()}, not {value}")
        if declared.check is not None:
            declared.check(value)


def declarations(cls: type) -> dict[str, Declared]:
    """The settings `cls` (a dataclass of `setting` fields) declares, in order."""
    hints = typing.get_type_hints(cls)
    found = {}
    for field in dataclasses.fields(cls):
        if "setting" not in field.metadata:
            raise TypeError(f"{cls.__name__}.{field.name} is not declared with setting()")
        default = (field.default_factory() if field.default_factory is not dataclasses.MISSING
                   else field.default)
        optional = type(None) in typing.get_args(hints[field.name])
        found[field.name] = Declared(field.name, kind_of(hints[field.name]), default, optional,
                                     field.metadata["setting"])
    return found


def did_you_mean(word: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
