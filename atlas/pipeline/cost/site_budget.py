"""`site_budget`: the build chooses its dataset examples (how many per column, at
what size and quality) so that the published site fits a size, and says what it
chose.

The choices are tried from the richest down (`choices`): first the examples get
smaller where pages lose least (96 px is what a unit page draws them at), then
their quality drops to 80, then there are fewer of them per column; the first
that the site's predicted size fits is taken. A budget that even one example
per column cannot meet is an error before anything is computed, naming what else
takes the room.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from atlas.errors import AtlasError
from atlas.pipeline.dataset.examples import CropFormat
from atlas.sizes import format_size

PIXELS = (112, 96, 80, 64)  # sides an example may be stored at, the first the default
LOWER_QUALITY = 80  # the quality tried before fewer examples
FEWER = (8, 6, 5, 4, 3, 2, 1)  # examples per column tried after that
# The share of the budget kept free: predictions of whole sites came within 10% of what
# the builds wrote (docs/large-atlases.md), so a choice that fits 90% fits the budget.
MARGIN = 0.1


@dataclass(frozen=True)
class ExampleChoice:
    count: int  # examples per column
    crops: CropFormat

    def describe(self) -> str:
        stored = self.crops
        how = ("PNG at their own size" if stored.original else
               f"{stored.pixels} px, {stored.image_format.upper()} quality {stored.quality}")
        return f"{self.count} example{'s' if self.count != 1 else ''} per column, {how}"


def choices(count: int, crops: CropFormat) -> Iterator[ExampleChoice]:
    """From the build's own examples down to one per column at the smallest size."""
    yield ExampleChoice(count, crops)
    if crops.original:  # lossless (small images): only the count can change
        yield from (ExampleChoice(fewer, crops) for fewer in FEWER if fewer < count)
        return
    smaller = CropFormat(crops.image_format, crops.quality, PIXELS[1])
    lower = CropFormat(crops.image_format, min(crops.quality, LOWER_QUALITY), PIXELS[1])
    yield ExampleChoice(count, smaller)
    yield ExampleChoice(count, lower)
    yield from (ExampleChoice(fewer, lower) for fewer in FEWER if fewer < count)
    for pixels in PIXELS[2:]:
        yield ExampleChoice(1, CropFormat(crops.image_format, lower.quality, pixels))


@dataclass
class Fitted:
    choice: ExampleChoice
    storage: dict[str, float]  # bytes by kind, as the plan predicts them
    budget: int
    changed: bool  # whether the choice differs from the build's own examples

    def line(self) -> str:
        total = sum(self.storage.values())
        verb = "chose" if self.changed else "keeps"
        return (f"site budget {format_size(self.budget)}: {verb} {self.choice.describe()} "
                f"(site expected {format_size(total)}, examples "
                f"{format_size(self.storage.get('dataset examples', 0.0))})")


def fit(budget: int, count: int, crops: CropFormat,
        price: Callable[[ExampleChoice], dict[str, float]]) -> Fitted:
    """The richest choice whose predicted site (`price`: bytes by kind) fits `budget`
    less its MARGIN; an AtlasError where none does."""
    first, storage = None, {}
    for choice in choices(count, crops):
        storage = price(choice)
        first = first or choice
        if sum(storage.values()) <= budget * (1 - MARGIN):
            return Fitted(choice, storage, budget, choice != first)
    rest = {kind: size for kind, size in storage.items() if kind != "dataset examples"}
    raise AtlasError(
        f"site_budget {format_size(budget)} cannot be met: even with "
        f"{choice.describe()} the site is expected to take {format_size(sum(storage.values()))}, "
        f"{format_size(sum(rest.values()))} of it besides the examples ("
        + ", ".join(f"{kind} {format_size(size)}" for kind, size in rest.items() if size)
        + "); raise site_budget, or choose fewer layers, channels or views")
