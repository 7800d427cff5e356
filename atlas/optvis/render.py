"""The optimization loop: parameters, objective and step count in; images and
history out. It shows nothing and saves nothing (the pipeline does that)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from atlas.optvis.adam import Adam
from atlas.optvis.hooks import capture, frozen
from atlas.optvis.objectives import INPUT, Objective
from atlas.optvis.param import ImageParam
from atlas.optvis.stopping import Running, Stopping
from atlas.optvis.transforms import Compose, Draws


@dataclass
class RenderResult:
    images: torch.Tensor  # (N, 3, H, W) in [0, 1], on the CPU
    # (steps run, N): each image's objective at every step; NaN after the image stopped
    history: torch.Tensor
    snapshots: list[tuple[int, torch.Tensor]] = field(default_factory=list)  # (step, images)
    transparency: torch.Tensor | None = None  # (N, H, W) in [0, 1], when asked for
    steps_taken: torch.Tensor | None = None  # (N,) the steps each image ran

    def ran(self, image: int) -> torch.Tensor:
        """Image `image`'s objective at each step it ran."""
        assert self.steps_taken is not None  # `optimize` always sets it
        return self.history[:int(self.steps_taken[image]), image]

    def finite_history(self) -> torch.Tensor:
        """(N,) whether each image's objective stayed finite at every step it ran."""
        assert self.steps_taken is not None  # `optimize` always sets it
        after = torch.arange(self.history.shape[0])[:, None] >= self.steps_taken[None, :]
        return (torch.isfinite(self.history) | after).all(0)


def _scattered(acts: torch.Tensor, rows: torch.Tensor, batch: int) -> torch.Tensor:
    """The running images' activations at their places in the whole batch, zeros
    at the finished ones' (whose scores are not used)."""
    whole = acts.new_zeros((batch, *acts.shape[1:]))
    return whole.index_copy(0, rows, acts)


def optimize(
    model: nn.Module,
    objective: Objective,
    image: ImageParam | nn.Module,  # or any module whose forward() gives the images
    transforms: Compose | nn.Module,  # or any module called as (images, StepDraws)
    steps: int,
    lr: float = 0.05,
    transform_seeds: Sequence[int] | None = None,
    preprocess: nn.Module | None = None,
    snapshot_every: int = 0,
    on_step: Callable[[int], None] | None = None,
    channels_last: bool = False,
    autocast: torch.dtype | None = None,
    transparency: bool = False,
    stopping: Stopping | None = None,
) -> RenderResult:
    """Maximizes `objective` (summed over the batch) by Adam on `image`'s parameters.

    Adam is element-wise and every objective piece scores its own images, so
    each image follows its own path: packing units in one batch changes speed,
    not results. `transform_seeds` (one per image; default 0, 1, ...) drive each
    image's random transforms; snapshots are taken at step 0, every
    `snapshot_every` steps, and at the end. `channels_last` feeds the model
    NHWC tensors (faster convolutions on CPU; put the model in that format too).
    `autocast` (e.g. torch.bfloat16) runs the model in that precision; the
    objective is always computed in float32. `transparency` also returns each
    image's transparency map (MACO's): the gradient magnitude of the objective
    with respect to each pixel, summed over colours and steps, divided by the
    image's largest value. Pixels that never moved the objective are 0.

    `stopping` lets images stop once their objective has settled (see
    `Stopping`): the model then runs on the remaining images only, and the
    loop ends when none remain. `on_step` still hears every step number, and
    the last one when the loop ends early.
    """
    preprocess = preprocess if preprocess is not None else nn.Identity()
    with torch.no_grad():
        batch = image().shape[0]
    draws = Draws(transform_seeds if transform_seeds is not None else range(batch), steps)
    optimizer = Adam(image.parameters(), lr=lr)
    history, snapshots = [], []
    saliency = None
    layers = sorted(objective.layers - {INPUT})
    running = Running(batch, stopping)
    with frozen(model), capture(model, layers) as run:
        for step in range(steps):
            if snapshot_every and step % snapshot_every == 0:
                snapshots.append((step, image().detach().cpu()))
            optimizer.zero_grad(set_to_none=True)
            pixels = image()
            if transparency:
                pixels.retain_grad()
            rows = running.rows(pixels.device)
            some = pixels if rows is None else pixels.index_select(0, rows)
            model_input = preprocess(transforms(some, draws.at(step, running.rows())))
            if channels_last:
                model_input = model_input.contiguous(memory_format=torch.channels_last)
            with torch.autocast(model_input.device.type, dtype=autocast or torch.float32,
                                enabled=autocast is not None):
                acts = {name: t.float() for name, t in run(model_input).items()}
            if rows is not None:
                acts = {name: _scattered(t, rows, batch) for name, t in acts.items()}
            acts[INPUT] = pixels
            scores = objective(acts)
            (-(scores if rows is None else scores.index_select(0, rows)).sum()).backward()
            if transparency:
                step_map = pixels.grad.detach().abs().sum(1)
                saliency = step_map if saliency is None else saliency + step_map
            optimizer.step(rows)
            history.append(running.mask(scores.detach().cpu()))
            if on_step is not None:
                on_step(step + 1)
            if not running.update(history, step + 1):
                if on_step is not None and step + 1 < steps:
                    on_step(steps)
                break
        with torch.no_grad():
            final = image().detach().cpu()
    if snapshot_every:
        snapshots.append((steps, final))
    empty = torch.zeros(0, final.shape[0])
    maps = None
    if transparency:
        maps = (saliency if saliency is not None else torch.zeros_like(final[:, 0])).cpu()
        maps = maps / maps.flatten(1).amax(1).clamp_min(1e-12).view(-1, 1, 1)
    return RenderResult(final, torch.stack(history) if history else empty, snapshots, maps,
                        running.steps_taken(len(history)))


def measure(
    model: nn.Module,
    objective: Objective,
    images: torch.Tensor,
    preprocess: nn.Module | None = None,
) -> torch.Tensor:
    """Each image's score under `objective`, on the images as they are (no transforms)."""
    preprocess = preprocess if preprocess is not None else nn.Identity()
    layers = sorted(objective.layers - {INPUT})
    with frozen(model), capture(model, layers) as run, torch.no_grad():
        acts = dict(run(preprocess(images)))
        acts[INPUT] = images
        return objective(acts).detach().cpu()
