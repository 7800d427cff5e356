"""Objectives as an algebra: `0.2 * channel("conv2", 3) - channel("conv2", 4)`.

Sign convention: an objective is a score to MAXIMIZE. Calling one on the
captured activations returns one score per image, shape (N,), so a batch can
pack many different targets (see `Objective.on_images`) and every image's own
score can be recorded. Every primitive works on conv outputs (N, C, H, W) and
on linear outputs (N, C).

`unit` arguments take an int (same unit for every image) or a sequence with
one unit per image, which is how a whole layer is optimized in one batch.
"""

from __future__ import annotations

import operator
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F

Activations = Mapping[str, torch.Tensor]
Units = int | Sequence[int]
INPUT = "input"  # activations key of the image itself (before transforms)


class Objective:
    """A differentiable per-image score with a readable description."""

    def __init__(
        self, fn: Callable[[Activations], torch.Tensor], description: str, layers: Set[str]
    ) -> None:
        self.fn, self.description, self.layers = fn, description, frozenset(layers)

    def __call__(self, acts: Activations) -> torch.Tensor:
        return self.fn(acts)

    def __repr__(self) -> str:
        return self.description

    # --- algebra -------------------------------------------------------------
    def _combine(self, other: object, op: Callable, symbol: str) -> Objective:
        if isinstance(other, Objective):
            return Objective(
                lambda acts: op(self(acts), other(acts)),
                f"({self.description} {symbol} {other.description})",
                self.layers | other.layers,
            )
        if isinstance(other, (int, float)):
            return Objective(
                lambda acts: op(self(acts), other),
                f"({self.description} {symbol} {other:g})",
                self.layers,
            )
        return NotImplemented

    def __add__(self, other: object) -> Objective:
        return self._combine(other, operator.add, "+")

    def __radd__(self, other: object) -> Objective:
        return self if other == 0 else self._combine(other, operator.add, "+")

    def __sub__(self, other: object) -> Objective:
        return self._combine(other, operator.sub, "-")

    def __rsub__(self, other: object) -> Objective:
        return (-self) + other

    def __mul__(self, other: object) -> Objective:
        if not isinstance(other, (int, float)):
            return NotImplemented
        return Objective(
            lambda acts: self(acts) * other, f"{other:g} * {self.description}", self.layers
        )

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Objective:
        if not isinstance(other, (int, float)):
            return NotImplemented
        return self * (1.0 / other)

    def __neg__(self) -> Objective:
        return Objective(lambda acts: -self(acts), f"-{self.description}", self.layers)

    # --- packing -------------------------------------------------------------
    def on_images(self, start: int, stop: int) -> Objective:
        """This objective applied to images [start, stop) of the batch only;
        the other images score 0. Sums of such pieces pack many targets in one batch."""

        needed = self.layers | {INPUT}

        def fn(acts: Activations) -> torch.Tensor:
            batch = next(iter(acts.values())).shape[0]
            # Only the layers it reads: a slice of every captured layer would cost each
            # piece a full-size gradient in the backward pass.
            scores = self({name: t[start:stop] for name, t in acts.items() if name in needed})
            return F.pad(scores, (start, batch - stop))

        return Objective(fn, f"{self.description}@[{start}:{stop}]", self.layers)


def _describe_units(units: Units | None) -> str:
    if units is None:
        return "centre"
    if isinstance(units, int):
        return str(units)
    units = list(units)
    return str(units) if len(units) <= 4 else f"[{units[0]}…{units[-1]}] ({len(units)} images)"


def _select_unit(t: torch.Tensor, units: Units) -> torch.Tensor:
    """(N, C, ...) -> (N, ...): each image's own unit."""
    if isinstance(units, int):
        return t[:, units]
    index = torch.as_tensor(list(units), device=t.device)
    if index.shape[0] != t.shape[0]:
        raise ValueError(f"{index.shape[0]} units given for a batch of {t.shape[0]} images")
    return t[torch.arange(t.shape[0], device=t.device), index]


def channel(layer: str, unit: Units) -> Objective:
    """Mean activation of a channel over all positions (a linear unit's value)."""

    def fn(acts: Activations) -> torch.Tensor:
        selected = _select_unit(acts[layer], unit)
        return selected.flatten(1).mean(1) if selected.dim() > 1 else selected

    return Objective(fn, f"channel({layer}, {_describe_units(unit)})", {layer})


def _per_image(values: int | Sequence[int] | None, batch: int, default: int) -> torch.Tensor:
    if values is None:
        return torch.full((batch,), default, dtype=torch.long)
    if isinstance(values, int):
        return torch.full((batch,), values, dtype=torch.long)
    return torch.as_tensor(list(values), dtype=torch.long)


def neuron(
    layer: str,
    unit: Units,
    y: int | Sequence[int] | None = None,
    x: int | Sequence[int] | None = None,
) -> Objective:
    """Activation at one spatial position (h=y, w=x; default the centre).
    On a linear layer a unit has no positions: it is its own single neuron."""

    def fn(acts: Activations) -> torch.Tensor:
        selected = _select_unit(acts[layer], unit)
        if selected.dim() == 1:
            return selected
        batch, height, width = selected.shape[0], selected.shape[-2], selected.shape[-1]
        ys = _per_image(y, batch, height // 2).to(selected.device)
        xs = _per_image(x, batch, width // 2).to(selected.device)
        return selected[torch.arange(batch, device=selected.device), ys, xs]

    where = ("centre" if y is None and x is None
             else f"y={_describe_units(y)}, x={_describe_units(x)}")
    return Objective(fn, f"neuron({layer}, {_describe_units(unit)}, {where})", {layer})


def top_k(layer: str, unit: Units, k: int) -> Objective:
    """Mean of the k strongest positions of a channel: a motif anywhere counts."""

    def fn(acts: Activations) -> torch.Tensor:
        selected = _select_unit(acts[layer], unit)
        if selected.dim() == 1:
            return selected
        flat = selected.flatten(1)
        return flat.topk(min(k, flat.shape[1]), dim=1).values.mean(1)

    return Objective(fn, f"top_k({layer}, {_describe_units(unit)}, k={k})", {layer})


def class_conditional(
    unit_objective: Objective, logit_layer: str, class_index: int, weight: float = 0.1
) -> Objective:
    """A unit's objective plus λ times a class logit: the unit as that class sees it."""
    return unit_objective + weight * channel(logit_layer, class_index)


def diversity(layer: str, group_size: int) -> Objective:
    """Negative mean similarity of each image to the others of its group.

    The batch is cut into consecutive groups of `group_size` images (one
    group per unit). Conv outputs are compared by their normalized Gram
    matrices (style, not position); linear outputs by cosine similarity.
    Adding `w * diversity(...)` pushes the images of a group apart. Each
    image's score moves only that image (the others enter it as constants),
    so weighting or switching off one image's score (see `diverse`) really
    stops the push on it.
    """

    def fn(acts: Activations) -> torch.Tensor:
        t = acts[layer]
        batch = t.shape[0]
        if batch % group_size:
            raise ValueError(f"batch of {batch} is not a multiple of group size {group_size}")
        if t.dim() > 2:
            flat = t.flatten(2)
            features = torch.matmul(flat, flat.transpose(1, 2)).flatten(1)
        else:
            features = t
        features = F.normalize(features, dim=1).view(batch // group_size, group_size, -1)
        similarity = torch.matmul(features, features.detach().transpose(1, 2))
        others = similarity.sum(2) - torch.diagonal(similarity, dim1=1, dim2=2)
        return (-others / max(1, group_size - 1)).reshape(batch)

    return Objective(fn, f"diversity({layer}, groups of {group_size})", {layer})


def total_variation() -> Objective:
    """Mean absolute difference of neighbouring pixels (subtract it to smooth)."""

    def fn(acts: Activations) -> torch.Tensor:
        image = acts[INPUT]
        dy = (image[..., 1:, :] - image[..., :-1, :]).abs().flatten(1).mean(1)
        dx = (image[..., :, 1:] - image[..., :, :-1]).abs().flatten(1).mean(1)
        return dy + dx

    return Objective(fn, "tv", set())


def l2() -> Objective:
    """Mean squared pixel value, centred on grey (subtract it to keep colours in range)."""

    def fn(acts: Activations) -> torch.Tensor:
        return (acts[INPUT] - 0.5).pow(2).flatten(1).mean(1)

    return Objective(fn, "l2", set())


@dataclass(frozen=True)
class Term:
    """One `weight * layer:unit` term of a parsed objective expression."""

    weight: float
    layer: str
    unit: int

    @property
    def label(self) -> str:
        return f"{self.layer}:{self.unit}"


_TERM = re.compile(r"\s*([+-])?\s*(?:(\d+(?:\.\d*)?|\.\d+)\s*\*\s*)?([^\s:+*-][^\s:+*]*):(\d+)\s*")


def parse_terms(expression: str) -> list[Term]:
    """Parses 'fc:0 + fc:7' or '0.5*conv2:1 - conv2:3' into terms.

    Raises ValueError with the offending text when the expression does not parse.
    """
    terms: list[Term] = []
    position = 0
    while position < len(expression):
        match = _TERM.match(expression, position)
        if not match or match.end() == position:
            raise ValueError(
                f"cannot parse {expression[position:]!r} in {expression!r}; "
                "write terms like 'fc:0 + 0.5*conv2:3'"
            )
        sign, weight, layer, unit = match.groups()
        if terms and sign is None:
            raise ValueError(f"missing + or - before {match.group(0).strip()!r} in {expression!r}")
        value = float(weight) if weight else 1.0
        terms.append(Term(-value if sign == "-" else value, layer, int(unit)))
        position = match.end()
    if not terms:
        raise ValueError("empty objective expression")
    return terms


def from_terms(terms: Sequence[Term]) -> Objective:
    """The weighted sum of channel objectives named by `terms`."""
    # An Objective: parse_terms never gives an empty list (0 + an Objective is one).
    return cast(Objective, sum((term.weight * channel(term.layer, term.unit) for term in terms),
                               0))


PLATEAU_STEPS = 10  # a group's push waits until its best gained less than
PLATEAU_GAIN = 0.05  # this share over that many steps


def diverse(target: Objective, layer: str, group_size: int, weight: float,
            keep: float = 0.0, push_steps: tuple[int, int] | None = None) -> Objective:
    """`target` plus a diversity push that scales with the target's own size:
    score = target + weight * max(target, 0) * diversity, with the size held
    constant for the gradient. One weight then suits a conv channel of
    magnitude 2 and a logit of magnitude 40 alike, and an image that stops
    exciting the unit is not pushed any further.

    `keep` > 0 keeps every image firing: an image's push applies only while
    its target stays at or above `keep` times the best value its group has
    reached so far in this run; below that, only the target acts on it and
    pulls it back up. The group's best at each recent step is state of this
    objective, which is made afresh for every optimization run.

    A group's push also waits until its best has stopped climbing (less than
    PLATEAU_GAIN over PLATEAU_STEPS steps): pushing images that barely fire
    yet knocks them back to where they climb too slowly to recover, or into a
    dead ReLU.

    `push_steps` (first, last) limits the push to those calls (steps, from 1);
    after the last, the target alone acts, so every image ends firing (a push
    step can drop an image far below its group's best, and the last step may
    be one)."""
    spread = diversity(layer, group_size)
    bests: deque = deque(maxlen=PLATEAU_STEPS + 1)  # the group's best so far, recent steps
    pushing: list[torch.Tensor] = []  # per group: has its best stopped climbing yet
    calls = 0

    def fn(acts: Activations) -> torch.Tensor:
        nonlocal calls
        value = target(acts)
        calls += 1
        if push_steps is not None and not push_steps[0] <= calls <= push_steps[1]:
            return value
        size = value.detach()
        push = weight * size.clamp_min(0) * spread(acts)
        if keep <= 0:
            return value + push
        group_best = size.view(-1, group_size).amax(1, keepdim=True)
        if bests:
            group_best = torch.maximum(group_best, bests[-1])
        bests.append(group_best)
        plateau = torch.zeros_like(group_best, dtype=torch.bool)
        if len(bests) > PLATEAU_STEPS:  # bests[0]: the best PLATEAU_STEPS steps ago
            plateau = (group_best > 0) & (group_best <= bests[0] * (1 + PLATEAU_GAIN))
        pushing[:] = [pushing[0] | plateau if pushing else plateau]
        firing = size.view(-1, group_size) >= keep * group_best
        gate = (firing & pushing[0]).to(push.dtype)
        return value + push * gate.reshape(-1)

    kept = f", keep {keep:g}" if keep > 0 else ""
    kept += (f", push at steps {push_steps[0]}-{push_steps[1]}" if push_steps is not None
             else "")
    return Objective(
        fn, f"({target.description} + {weight:g}·max(·,0)·{spread.description}{kept})",
        target.layers | spread.layers,
    )
