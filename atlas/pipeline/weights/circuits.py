"""Circuits: which units of the previous visualized layer each unit reads most.

The strength of a connection is the L2 norm of its *expanded weights* (Olah et
al., "Visualizing Weights", Distill 2020): the Jacobian of one unit of the later
layer, at the central position of its output (a unit of an (N, C) layer is
itself), with respect to the earlier layer's activations, in the *linearized*
model. Linearized means every ReLU (and its relatives) is the identity and
every max-pool averages the same windows, so whatever lies between the two
layers (branches, residual additions, pools, flatten + linear) collapses into
one linear map. For two adjacent convolutions that map is the later conv's
weight tensor itself, in its own orientation (not flipped).

The linearized model is affine in the earlier layer's activations wherever only
linear operations remain, so the grey image the forward pass starts from does
not matter there. Where a nonlinearity survives (local response normalization,
sigmoid, softmax), the Jacobian is taken at the grey image's activations.

One forward pass serves a layer pair: the earlier layer's output is replaced
by a leaf repeated once per unit of a chunk, and each chunk of later units is
one backward pass through that retained graph, each copy seeded at its own
unit. The layers before the earlier one run once, at batch 1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from atlas.models.linearize import linearized
from atlas.optvis.hooks import capture, find_modules, frozen, tensor_output
from atlas.optvis.memory import MemoryCost, per_image_cost

CPU = torch.device("cpu")
DEFAULT_TOP = 12  # connections listed per unit and direction
MAX_TOP = 50
MAX_MAP_SIZE = 11  # a map with a longer side is block-averaged down to at most this
MAP_LEVELS = 99  # maps are stored as ints in [-MAP_LEVELS, MAP_LEVELS]
SUPPORT_TOLERANCE = 1e-6  # relative to the pair's largest |weight|: what counts as zero
CHUNK_ELEMENTS = 1 << 23  # earlier-layer activations held per backward (32 MiB in float32)
SAMPLED_CHUNKS = 4  # chunks of a pair `price_pair` runs: the forward, timing, the maps' side

class _StopForward(Exception):
    """Raised once the later layer is captured: deeper layers are not needed."""


@dataclass
class _Chunk:
    units: list[int]  # the later layer's units this chunk backpropagates from
    jacobian: torch.Tensor  # (len(units), C_earlier, H, W) or (len(units), C_earlier)


def _jacobian_chunks(model: nn.Module, preprocess: nn.Module | None, image_size: int,
                     earlier: str, later: str, device: torch.device,
                     chunk_elements: int, memory: int | None = None) -> Iterator[_Chunk]:
    """The linearized Jacobian of every unit of `later` (at its centre) with
    respect to `earlier`'s activations, a chunk of units at a time.

    One forward pass, with the earlier layer's output replaced by a leaf that
    holds one copy per unit of a chunk; then one backward per chunk through the
    same retained graph, each copy seeded at its own unit. A chunk holds at
    most `chunk_elements` earlier-layer activations and, where `memory` (bytes)
    is given, as many copies as that forward and a backward through it fit in,
    measured with one and two copies. The model is linearized and hooked only
    during the forward: nothing leaks into the caller's code between chunks."""
    inputs, shapes, size, _ = _chunking(model, preprocess, image_size, earlier, later, device,
                                        chunk_elements, memory)
    yield from _chunks(model, inputs, shapes, size, earlier, later)


def _chunks(model: nn.Module, inputs: torch.Tensor, shapes: dict, size: int, earlier: str,
            later: str, starts: Sequence[int] | None = None) -> Generator[_Chunk, None, None]:
    """`_jacobian_chunks` once its chunks are sized: the forward, then a backward for
    each chunk (or for those that begin at `starts`)."""
    units = list(range(shapes[later][1]))
    graph = _repeated(model, inputs, earlier, later, size)
    output, leaf = graph.output, graph.leaf
    assert output is not None and leaf is not None  # the run set both, or raised
    centre = (output.shape[2] // 2, output.shape[3] // 2) if output.dim() == 4 else ()
    for start in range(0, len(units), size) if starts is None else starts:
        chunk = units[start:start + size]
        if not output.requires_grad:
            # A layer beside the earlier one, not after it (two heads on one trunk):
            # it does not read it at all, so every weight is zero.
            yield _Chunk(chunk, torch.zeros(len(chunk), *shapes[earlier][1:], device=leaf.device))
            continue
        seed = torch.zeros_like(output)
        rows = torch.arange(len(chunk), device=seed.device)
        # the index as a name: mypy reads seed[(a, *b)] as Python 3.11's seed[a, *b]
        index = (rows, torch.tensor(chunk, device=seed.device), *centre)
        seed[index] = 1
        with torch.enable_grad():
            (gradient,) = torch.autograd.grad(output, leaf, seed, retain_graph=True,
                                              allow_unused=True)
        if gradient is None:
            raise ValueError(f"layer {later!r} does not depend on layer {earlier!r}")
        yield _Chunk(chunk, gradient[:len(chunk)].detach())


def _chunking(model: nn.Module, preprocess: nn.Module | None, image_size: int, earlier: str,
              later: str, device: torch.device, chunk_elements: int, memory: int | None
              ) -> tuple[torch.Tensor, dict, int, MemoryCost | None]:
    """(the grey input, both layers' shapes, units a chunk, the memory a copy costs)."""
    if earlier == later:
        raise ValueError(f"a connection needs two different layers, got {earlier!r} twice")
    inputs = _grey_input(model, preprocess, image_size, device)
    with frozen(model), torch.no_grad(), capture(model, [earlier, later]) as run:
        shapes = {name: act.shape for name, act in run(inputs).items()}
    for name, shape in shapes.items():
        if len(shape) not in (2, 4):
            raise ValueError(f"layer {name!r} outputs a {len(shape)}-D tensor; circuits need "
                             "(N, C) or (N, C, H, W)")
    size = min(shapes[later][1], max(1, chunk_elements // math.prod(shapes[earlier][1:])))
    cost = None
    if memory is not None and size > 1:
        cost = per_image_cost(lambda copies: _one_backward(
            _repeated(model, inputs, earlier, later, copies)))
        size = min(size, cost.images_within(memory))
    return inputs, shapes, size, cost


@dataclass
class PairCost:
    """What one layer pair's connections take: chunks of units, the memory of one,
    the seconds of the forward and of all the chunks' backward passes, and the side
    of its maps."""

    earlier: str
    later: str
    units: int
    chunk: int  # units a chunk
    peak: int | None  # bytes of one chunk's forward and backward
    seconds: float
    map_side: int

    @property
    def chunks(self) -> int:
        return -(-self.units // self.chunk)


def price_pair(model: nn.Module, preprocess: nn.Module | None, image_size: int, earlier: str,
               later: str, device: torch.device = CPU, chunk_elements: int = CHUNK_ELEMENTS,
               memory: int | None = None) -> PairCost:
    """The chunking `layer_connections` will use for the pair, its time from the
    forward and SAMPLED_CHUNKS chunks spread over its units, and the side of its maps
    from theirs (`atlas plan`)."""
    inputs, shapes, size, cost = _chunking(model, preprocess, image_size, earlier, later,
                                           device, chunk_elements, memory)
    units = shapes[later][1]
    count = -(-units // size)
    # Chunks spread over the layer's units: a concatenated layer's branches (1x1 first,
    # 3x3 and 5x5 after) span the maps' sides, which the union of the chunks' supports sets.
    sampled = min(count, SAMPLED_CHUNKS)
    picked = sorted({round(i * (count - 1) / max(1, sampled - 1)) * size
                     for i in range(sampled)})
    chunks = _chunks(model, inputs, shapes, size, earlier, later, picked)
    started = time.perf_counter()
    jacobians = [next(chunks).jacobian]  # the forward and a backward
    seconds = time.perf_counter() - started
    if len(picked) > 1:
        started = time.perf_counter()
        jacobians += [chunk.jacobian for chunk in chunks]
        seconds += (count - 1) * (time.perf_counter() - started) / (len(picked) - 1)
    chunks.close()
    side = 1
    if jacobians[0].dim() == 4:
        magnitude = torch.stack([j.abs().amax(dim=(0, 1)) for j in jacobians]).amax(dim=0)
        _, _, height, width = _support(magnitude)
        longest = max(height, width)
        side = -(-longest // math.ceil(longest / MAX_MAP_SIZE))  # as `_fit` averages it
    return PairCost(earlier, later, units, size, cost.at(size) if cost else None, seconds,
                    side)


def _repeated(model: nn.Module, inputs: torch.Tensor, earlier: str, later: str,
              copies: int) -> _RepeatedForward:
    """The linearized forward from `copies` copies of the earlier layer, run."""
    graph = _RepeatedForward(model, earlier, later, copies)
    with frozen(model), torch.enable_grad(), linearized(model), graph.hooked():
        graph.run(inputs)
    return graph


def _one_backward(graph: _RepeatedForward) -> None:
    """A backward pass through `graph`, as each chunk takes one (a memory probe)."""
    assert graph.output is not None and graph.leaf is not None  # `_repeated` ran it
    if graph.output.requires_grad:
        with torch.enable_grad():
            torch.autograd.grad(graph.output, graph.leaf, torch.ones_like(graph.output),
                                allow_unused=True)


def _grey_input(model: nn.Module, preprocess: nn.Module | None, image_size: int,
                device: torch.device) -> torch.Tensor:
    """A mid-grey image as the model takes it: preprocessed, in the model's dtype."""
    image = torch.full((1, 3, image_size, image_size), 0.5, device=device)
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    with torch.no_grad():
        return (preprocess.to(device)(image) if preprocess is not None else image).to(dtype)


class _RepeatedForward:
    """A forward pass in which the earlier layer's output becomes a leaf repeated
    `copies` times; the later layer's output is caught and the forward stopped.
    The layers before the earlier one run once, at batch 1."""

    def __init__(self, model: nn.Module, earlier: str, later: str, copies: int) -> None:
        self.model, self.earlier, self.later, self.copies = model, earlier, later, copies
        self.leaf: torch.Tensor | None = None
        self.output: torch.Tensor | None = None

    @contextmanager
    def hooked(self) -> Iterator[None]:
        modules = find_modules(self.model, [self.earlier, self.later])
        handles = [modules[self.earlier].register_forward_hook(self._replace),
                   modules[self.later].register_forward_hook(self._catch)]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def _replace(self, module: nn.Module, inputs: tuple, output: object) -> torch.Tensor | None:
        if self.leaf is not None:
            return None  # a module called twice: only its first output is the layer
        if not isinstance(output, torch.Tensor):
            raise TypeError(f"layer {self.earlier!r} outputs {type(output).__name__}; "
                            "circuits need a layer whose output is one tensor")
        repeated = output.detach()[:1].expand(self.copies, *output.shape[1:])
        self.leaf = repeated.clone().requires_grad_(True)
        return self.leaf.clone()  # in-place ops downstream must not touch the leaf itself

    def _catch(self, module: nn.Module, inputs: tuple, output: object) -> None:
        if self.leaf is None:
            raise ValueError(f"layer {self.later!r} is computed before {self.earlier!r}; "
                             "give circuit layers in forward order")
        self.output = tensor_output(self.later, output)
        raise _StopForward

    def run(self, image: torch.Tensor) -> None:
        try:
            self._forward(image)
        except RuntimeError:
            # A tensor from before the earlier layer meets one from after it in an op
            # that does not broadcast (a concatenation): run the prefix per copy too.
            self._forward(image.expand(self.copies, *image.shape[1:]))

    def _forward(self, batch: torch.Tensor) -> None:
        self.leaf, self.output = None, None
        try:
            self.model(batch)
        except _StopForward:
            pass
        if self.output is None:
            raise ValueError(f"the forward pass never reached layer {self.later!r}")


def expanded_weights(model: nn.Module, preprocess: nn.Module | None, image_size: int,
                     earlier: str, later: str, device: torch.device = CPU,
                     chunk_elements: int = CHUNK_ELEMENTS,
                     memory: int | None = None) -> torch.Tensor:
    """The whole linearized Jacobian, uncropped: (C_later, C_earlier, H, W) for a
    spatial earlier layer, (C_later, C_earlier) for an (N, C) one. Row u is the
    expanded weights of `later`'s unit u (at its centre position)."""
    chunks = _jacobian_chunks(model, preprocess, image_size, earlier, later, device,
                              chunk_elements, memory)
    return torch.cat([chunk.jacobian for chunk in chunks])


Box = tuple[int, int, int, int]  # (top, left, height, width) on the earlier layer's grid


@dataclass
class LayerConnections:
    """The expanded weights between two layers, cropped to where they are not zero.

    `maps[u, v]` is how unit u of `later` reads unit v of `earlier`: the Jacobian
    cropped to `box`, the bounding box of the non-zero weights of every unit pair
    (so all maps of a pair share one shape), then, where the box is longer than
    MAX_MAP_SIZE, averaged over `block` x `block` cells. `norms[u, v]` is the L2
    norm of the whole, uncropped and unaveraged Jacobian."""

    earlier: str
    later: str
    norms: np.ndarray  # (C_later, C_earlier)
    maps: np.ndarray  # (C_later, C_earlier, h, w); h = w = 1 for an (N, C) earlier layer
    box: Box
    block: int = 1

    def incoming(self, unit: int, top: int = DEFAULT_TOP,
                 among: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """The `top` units of `earlier` (of those `among`, default all) that
        `later`'s `unit` reads most, strongest first."""
        strongest = _strongest(self.norms[unit], top, among)
        return _entries(self.earlier, strongest, self.norms[unit], self.maps[unit])

    def outgoing(self, unit: int, top: int = DEFAULT_TOP,
                 among: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """The `top` units of `later` (of those `among`, default all) that read
        `earlier`'s `unit` most, strongest first."""
        strongest = _strongest(self.norms[:, unit], top, among)
        return _entries(self.later, strongest, self.norms[:, unit], self.maps[:, unit])


def _strongest(norms: np.ndarray, top: int, among: Sequence[int] | None = None) -> list[int]:
    """Indices of the `top` largest non-zero norms (of the indices `among`, default
    all), ties broken by the lower index."""
    candidates = np.arange(len(norms)) if among is None else np.asarray(sorted(among), dtype=int)
    if len(candidates) == 0:
        return []
    order = candidates[np.argsort(-norms[candidates], kind="stable")[:top]]
    return [int(i) for i in order if norms[i] > 0]


def _entries(layer: str, units: list[int], norms: np.ndarray,
             maps: np.ndarray) -> list[dict[str, Any]]:
    """One dict per connection. `map` holds ints in [-MAP_LEVELS, MAP_LEVELS] and
    `scale` the weight of one step: `map * scale` is the map. Every entry of a list
    shares one scale, so maps compare by eye (the strongest value is ±MAP_LEVELS),
    and a 11x11 map costs ~400 bytes of JSON instead of ~900 as decimals."""
    chosen = maps[units]
    peak = float(np.abs(chosen).max()) if units else 0.0
    scale = _significant(peak / MAP_LEVELS, 4) if peak > 0 else 0.0
    steps = np.zeros(chosen.shape, dtype=int) if scale == 0 else np.clip(
        np.rint(chosen / scale), -MAP_LEVELS, MAP_LEVELS).astype(int)
    return [{"layer": layer, "unit": unit, "weight": _significant(float(norms[unit]), 4),
             "scale": scale, "map": step.tolist()} for unit, step in zip(units, steps)]


def _significant(value: float, digits: int) -> float:
    return float(f"{value:.{digits}g}")


def layer_connections(model: nn.Module, preprocess: nn.Module | None, image_size: int,
                      earlier: str, later: str, device: torch.device = CPU,
                      chunk_elements: int = CHUNK_ELEMENTS,
                      memory: int | None = None) -> LayerConnections:
    """Norms and cropped maps of the expanded weights from `earlier` to `later`.

    Chunks are cropped as they come (each to its own support, a superset of the
    final one), so memory holds the cropped maps, never the whole Jacobian."""
    norms, pieces, peak = [], [], None
    for chunk in _jacobian_chunks(model, preprocess, image_size, earlier, later, device,
                                  chunk_elements, memory):
        spatial = chunk.jacobian if chunk.jacobian.dim() == 4 else chunk.jacobian[..., None, None]
        spatial = spatial if spatial.dtype == torch.float64 else spatial.float()  # numpy-able
        norms.append(spatial.flatten(2).norm(dim=2).cpu())
        magnitude = spatial.abs().amax(dim=(0, 1))  # (H, W)
        peak = magnitude if peak is None else torch.maximum(peak, magnitude)
        top, left, height, width = box = _support(magnitude)
        piece = spatial[..., top:top + height, left:left + width]
        pieces.append((box, piece.cpu().clone()))  # a copy, so the chunk itself is freed
    assert peak is not None  # a layer has units: there is at least one chunk
    final = _support(peak)
    maps = torch.cat([_place(piece, box, final) for box, piece in pieces])
    maps, block = _fit(maps)
    return LayerConnections(earlier, later, torch.cat(norms).numpy(), maps.numpy(), final, block)


def _support(magnitude: torch.Tensor) -> Box:
    """Bounding box of the entries above SUPPORT_TOLERANCE x the largest one
    (the whole grid where every entry is zero)."""
    inside = (magnitude > SUPPORT_TOLERANCE * magnitude.max()).nonzero()
    if len(inside) == 0:
        return 0, 0, magnitude.shape[0], magnitude.shape[1]
    low, high = inside.min(dim=0).values.tolist(), inside.max(dim=0).values.tolist()
    return low[0], low[1], high[0] - low[0] + 1, high[1] - low[1] + 1


def _place(piece: torch.Tensor, box: Box, final: Box) -> torch.Tensor:
    """`piece` (cropped to `box`) moved into the `final` box; zeros where it had none."""
    placed = piece.new_zeros(*piece.shape[:2], final[2], final[3])
    top, left = max(box[0], final[0]), max(box[1], final[1])
    bottom = min(box[0] + box[2], final[0] + final[2])
    right = min(box[1] + box[3], final[1] + final[3])
    if bottom > top and right > left:
        placed[..., top - final[0]:bottom - final[0], left - final[1]:right - final[1]] = \
            piece[..., top - box[0]:bottom - box[0], left - box[1]:right - box[1]]
    return placed


def _fit(maps: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Maps with a side over MAX_MAP_SIZE, averaged over block x block cells
    (the smallest block that fits) laid out symmetrically about the map's middle;
    a cell at the edge averages only the entries it covers."""
    block = math.ceil(max(maps.shape[-2:]) / MAX_MAP_SIZE)
    if block == 1:
        return maps, 1
    pads = []
    for side in reversed(maps.shape[-2:]):
        extra = -side % block
        pads += [extra // 2, extra - extra // 2]
    flat = maps.flatten(0, 1)[:, None]
    sums = F.avg_pool2d(F.pad(flat, pads), block, divisor_override=1)
    counts = F.avg_pool2d(F.pad(torch.ones_like(flat[:1]), pads), block, divisor_override=1)
    return (sums / counts)[:, 0].unflatten(0, maps.shape[:2]), block


Connections = dict[str, dict[int, dict[str, list[dict[str, Any]]]]]


def compute_connections(model: nn.Module, preprocess: nn.Module | None, image_size: int,
                        layers: list[str], device: torch.device = CPU, top: int = DEFAULT_TOP,
                        chunk_elements: int = CHUNK_ELEMENTS) -> Connections:
    """Every unit's strongest connections to the visualized layer before it ("in")
    and to the one after it ("out"): `result[layer][unit]["in"]` lists `top`
    entries {"layer", "unit", "weight", "scale", "map"} (see `_entries`),
    strongest first. `layers` are in forward order; the first has no "in", the
    last no "out", and a lone layer has no entries."""
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP:
        raise ValueError(f"top must be a whole number of connections from 1 to {MAX_TOP}, "
                         f"got {top!r}")
    result: Connections = {layer: {} for layer in layers}
    for earlier, later in pairwise(layers):
        pair = layer_connections(model, preprocess, image_size, earlier, later, device,
                                 chunk_elements)
        entries = pair_entries(pair, top, range(pair.norms.shape[1]),
                               range(pair.norms.shape[0]))
        for direction, layer in (("in", later), ("out", earlier)):
            for unit, listed in entries[direction].items():
                result[layer].setdefault(unit, {})[direction] = listed
    return result


def pair_entries(pair: LayerConnections, top: int, earlier_units: Sequence[int],
                 later_units: Sequence[int]) -> dict[str, dict[int, list[dict[str, Any]]]]:
    """The connections of one pair among the chosen units: "in" maps each of
    `later_units` to the `top` of `earlier_units` it reads most, "out" each of
    `earlier_units` to the `top` of `later_units` that read it most."""
    return {"in": {u: pair.incoming(u, top, earlier_units) for u in later_units},
            "out": {u: pair.outgoing(u, top, later_units) for u in earlier_units}}
