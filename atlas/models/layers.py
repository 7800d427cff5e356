"""Which layers a model has at a given input size, found by a dry forward pass,
and which input sizes it can run at."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain, count, takewhile

import torch
from torch import nn

from atlas.errors import AtlasError
from atlas.models.floors import Floor, pre_name
from atlas.optvis.hooks import tensor_output

MAX_SEARCH_SIZE = 1024


@dataclass(frozen=True)
class LayerInfo:
    name: str
    type: str
    shape: tuple[int, ...]  # one image's output shape, no batch dimension
    # Where the layer's output is clamped (models/floors.py): then its values are read
    # before the clamp. Found for the layers a build chooses.
    floor: Floor | None = None
    # A concept layer's (models/concept_reads.py): its dictionary's key, which joins the
    # keys of every result read from it.
    dictionary: str | None = None

    @property
    def channels(self) -> int:
        return self.shape[0]

    def key_settings(self) -> dict[str, str]:
        """What the keys of results read from this layer hold besides its name."""
        return {"dictionary": self.dictionary} if self.dictionary else {}

    @property
    def read(self) -> str:
        """The name a capture reads this layer's values under: its pre-activation
        where it is clamped, else its output."""
        return pre_name(self.name) if self.floor is not None else self.name


# The layers a build visualizes, each with its chosen units, in the build's order.
Chosen = list[tuple[LayerInfo, list[int]]]


@dataclass
class DryRun:
    """What one forward pass at one size reached."""

    size: int
    layers: list[LayerInfo] = field(default_factory=list)  # visualizable, in forward order
    rejected: dict[str, str] = field(default_factory=dict)  # module name -> why not
    failed_at: str | None = None  # the module (or "after X") where the forward failed
    error: str | None = None
    activation_bytes: int = 0  # what the recorded layers' outputs of one image take

    @property
    def ok(self) -> bool:
        return self.error is None


class _Enough(Exception):
    """Raised to stop the dry run once the layers of interest have run."""


def dry_run(model: nn.Module, size: int, preprocess: nn.Module | None = None,
            stop_after: Sequence[str] = ()) -> DryRun:
    """One forward pass of a 1-image batch at `size`, recording every named
    module's output; stops early once all of `stop_after` have run."""
    result = DryRun(size)
    entered: list[str] = []
    finished: list[str] = []
    wanted = set(stop_after)
    seen: set[str] = set()

    def before(name: str):
        def hook(module: nn.Module, inputs: tuple) -> None:
            entered.append(name)
        return hook

    def after(name: str):
        def hook(module: nn.Module, inputs: tuple, output: object) -> None:
            entered.pop()
            finished.append(name)
            if name not in seen:
                seen.add(name)
                _record(result, name, module, output)
            if wanted and wanted <= seen:
                raise _Enough
        return hook

    handles = []
    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_pre_hook(before(name)))
            handles.append(module.register_forward_hook(after(name)))
    device = _device_of(model)
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            image = torch.full((1, 3, size, size), 0.5, device=device)
            if preprocess is not None:
                image = preprocess.to(device)(image)
            model(image)
    except _Enough:
        pass
    except Exception as error:  # any failure of the user's forward at this size
        result.error = str(error).strip().splitlines()[0] if str(error).strip() else type(
            error).__name__
        if entered:
            result.failed_at = entered[-1]
        elif finished:
            result.failed_at = f"after {finished[-1]}"
        else:
            result.failed_at = "the first operation"
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return result


def _record(result: DryRun, name: str, module: nn.Module, output: object) -> None:
    try:
        tensor = tensor_output(name, output)
    except TypeError:
        count = len(output) if isinstance(output, (tuple, list)) else None
        what = f"a {type(output).__name__}" + (f" of {count} items" if count is not None else "")
        result.rejected[name] = f"outputs {what}, not one tensor"
        return
    if tensor.dim() not in (2, 4):
        result.rejected[name] = (f"outputs a {tensor.dim()}-D tensor; atlas needs (N, C) or "
                                 "(N, C, H, W)")
        return
    result.layers.append(LayerInfo(name, type(module).__name__, tuple(tensor.shape[1:])))
    result.activation_bytes += tensor.numel() * tensor.element_size()


def smallest_size(model: nn.Module, preprocess: nn.Module | None, layers: Sequence[str],
                  start: int, works_at: int | None = None) -> int | None:
    """The smallest input size at which every one of `layers` is reached, or None.

    `start` is known to fail. The sizes that work are taken to be one run (a linear
    head takes a few, a pooled head every size from a floor up), so a bisection
    between a failing size and a working one finds where the run begins. The working
    one is `works_at` (the model's own size) where it works, else the first to work
    of sizes doubling up from `start`, then halving down from it: a few dozen forward
    passes at most, whatever `start` is."""
    def works(size: int) -> bool:
        run = dry_run(model, size, preprocess, layers)
        return {info.name for info in run.layers} >= set(layers)

    start = max(1, start)
    tries = [works_at] if works_at is not None and works_at != start else []
    upward = takewhile(lambda size: size <= MAX_SEARCH_SIZE, ((start + 1) << i for i in count()))
    downward = takewhile(lambda size: size >= 1,
                         (min(start - 1, MAX_SEARCH_SIZE) >> i for i in count()))
    working = next((size for size in chain(tries, upward, downward) if works(size)), None)
    if working is None:
        return None
    failing = start if start < working else 0
    while working - failing > 1:
        middle = (failing + working) // 2
        failing, working = (failing, middle) if works(middle) else (middle, working)
    return working


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def resolve_layers(model: nn.Module, size: int, preprocess: nn.Module | None,
                   names: Sequence[str], run: DryRun | None = None,
                   works_at: int | None = None) -> list[LayerInfo]:
    """The LayerInfo of each of `names` at `size`, or a one-line AtlasError that
    says why one cannot be visualized and what to do (`works_at`: a size the model
    is known to run at, which speeds up finding the smallest that works)."""
    run = run or dry_run(model, size, preprocess)
    reached = {info.name: info for info in run.layers}
    modules = [name for name, _ in model.named_modules() if name]
    chosen = []
    for name in names:
        if name in reached:
            chosen.append(reached[name])
            continue
        if name in run.rejected:
            children = [m for m in modules if m.startswith(name + ".")][:4]
            hint = f"; choose one of its submodules, e.g. {', '.join(children)}" if children else ""
            raise AtlasError(f"layer {name!r} {run.rejected[name]}{hint}")
        if name not in modules:
            close = difflib.get_close_matches(name, [i.name for i in run.layers] or modules, n=3)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise AtlasError(f"unknown layer {name!r}{hint}; run `atlas layers` to list the "
                             "valid layers")
        if run.ok:
            raise AtlasError(f"layer {name!r} never runs in the model's forward pass, so it "
                             "cannot be visualized; run `atlas layers` to list the valid layers")
        smallest = smallest_size(model, preprocess, list(names), size, works_at)
        advice = (f"the smallest image size that works is {smallest}: use --image-size "
                  f"{smallest}" if smallest else "no image size up to "
                  f"{MAX_SEARCH_SIZE} works")
        fault = "too large" if smallest is not None and smallest < size else "too small"
        raise AtlasError(f"image size {size} is {fault} for layer {name!r}: the forward pass "
                         f"fails at {run.failed_at!r} ({run.error}); {advice}")
    return chosen
