"""The four ways the benchmark optimizes the workload."""

from __future__ import annotations

import time
from pathlib import Path
from statistics import median

import torch

from atlas.bench.lucent_process import from_lucent, lucent_layer, lucent_transforms
from atlas.bench.processes import lucent_process, weights_file
from atlas.bench.workload import (
    Checkpoint,
    Result,
    Workload,
    channel_activations,
    per_channel_step,
    timed,
)
from atlas.models.registry import LoadedModel
from atlas.optvis import objectives, precision
from atlas.optvis.hooks import capture, frozen
from atlas.optvis.param import ImageParam
from atlas.optvis.render import RenderResult, optimize
from atlas.optvis.transforms import standard_transforms
from atlas.pipeline.optimize.batch import transform_seed
from atlas.views.images import image_seed


def lucent_as_shipped(loaded: LoadedModel) -> torch.nn.Module:
    """The model torch-lucent users have: for InceptionV1, lucent's own module
    (with its slow redirected-ReLU backward and torch's local response norm)
    holding the same weights. Timings of lucent itself come from its own process
    (lucent_process.py)."""
    if loaded.spec != "lucent:inceptionv1":
        return loaded.module
    from lucent.modelzoo import inceptionv1

    model = inceptionv1()
    model.load_state_dict(loaded.module.state_dict())
    return model.to(next(loaded.module.parameters()).device).eval()


class _NHWC:
    """The model in channels-last format for the duration, when atlas uses it."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def __enter__(self) -> bool:
        if self.loaded.channels_last:
            self.loaded.module.to(memory_format=torch.channels_last)
        return self.loaded.channels_last

    def __exit__(self, *exc: object) -> None:
        self.loaded.module.to(memory_format=torch.contiguous_format)


def lucent_seed_way(work: Workload, loaded: LoadedModel, folder: Path) -> Result:
    """One `render_vis` per channel with its defaults, as the seed notebooks do
    (a 128x128 Fourier image, upsampled to 224 before every forward pass), in a
    process of its own, on the first `seeds_channels` channels: each call is
    independent of the others, so the rest would cost the same per channel."""
    units = work.units[:work.seeds_channels]
    runs = [lucent_process(work, "seeds", units, weights_file(work, loaded, folder), folder)
            for _ in range(work.repeats)]
    per_call = median(s for run in runs for s in run.render_seconds)
    # The whole process for every channel: its start-up once, then each call.
    start_up = median(run.wall - sum(run.render_seconds) for run in runs)
    return Result(f"torch-lucent, one render_vis per channel (the seeds' way; channels "
                  f"0-{len(units) - 1})", per_call / work.steps,
                  channel_activations(loaded, work.layer, units, runs[-1].images), len(runs),
                  start_up + per_call * work.channels)


def lucent_best(work: Workload, loaded: LoadedModel, folder: Path) -> Result:
    """One `render_vis` over a batch with a summed per-image objective, at the
    native size (fixed_image_size), so no 224 upsampling; in a process of its own."""
    runs = [lucent_process(work, "best", work.units, weights_file(work, loaded, folder), folder)
            for _ in range(work.repeats)]
    return Result("torch-lucent at its best (batch= objective, fixed_image_size)",
                  median(run.render_seconds[0] for run in runs) / (work.channels * work.steps),
                  channel_activations(loaded, work.layer, work.units, runs[-1].images),
                  len(runs), median(run.wall for run in runs))


def lucent_on_atlas_model(work: Workload, loaded: LoadedModel, folder: Path) -> Result:
    """torch-lucent at its best, in this process, on the model as atlas loads it
    (for InceptionV1: the fast redirected-ReLU backward): separates what the
    engine gains from what the model fix gains."""
    from lucent.optvis import objectives as lucent_objectives
    from lucent.optvis import param, render

    layer = lucent_layer(work.layer)
    objective = sum(lucent_objectives.channel(layer, unit, batch=index)
                    for index, unit in enumerate(work.units))

    def run() -> torch.Tensor:
        return from_lucent(render.render_vis(
            loaded.module, objective, lambda: param.image(work.image_size, batch=work.channels),
            transforms=lucent_transforms(loaded), thresholds=(work.steps,), progress=False,
            show_image=False, preprocess=False, fixed_image_size=work.image_size))

    times, images = timed(run, work.repeats)
    return Result("torch-lucent at its best, on atlas's model (fast ReLU gradient)",
                  per_channel_step(times, work, work.channels),
                  channel_activations(loaded, work.layer, work.units, images), len(times))


def atlas_fp32(work: Workload, loaded: LoadedModel, folder: Path) -> Result:
    """atlas with the model forced to float32 (`precision = "fp32"`)."""
    return atlas_engine(work, loaded, folder, "fp32")


CHECKPOINT_EVERY = 4  # steps between the images whose activation the trajectory records


def atlas_engine(work: Workload, loaded: LoadedModel, folder: Path,
                 precision_setting: str | None = None) -> Result:
    """atlas's engine as `atlas build` runs it: every channel one image of one
    batch, with the seeds the build gives each unit's positive image, forward
    truncated after the layer, hooks only on that layer, channels-last and
    bfloat16 where the model, the device and `precision_setting` (default: the
    workload's) allow them. The images are kept every CHECKPOINT_EVERY steps,
    with the time each step ended, and measured afterwards: the trajectory time
    to quality reads. Keeping them is inside the timed run, so it can only make
    atlas look slower."""
    precision_setting = precision_setting or work.precision
    autocast = precision.autocast_dtype(precision_setting, torch.device(work.device),
                                        loaded.bfloat16)
    name = f"atlas ({precision.describe(autocast)}" + (
        ", the default)" if precision_setting == "auto" else ")")
    seeds = [image_seed(0, work.layer, unit, "positive") for unit in work.units]
    ended: list[float] = []

    def run() -> RenderResult:
        ended.clear()
        started = time.perf_counter()
        image = ImageParam(work.image_size, seeds=seeds).to(work.device)
        result = optimize(loaded.module, objectives.channel(work.layer, work.units), image,
                          standard_transforms(work.image_size).to(work.device), work.steps,
                          transform_seeds=[transform_seed(seed) for seed in seeds],
                          preprocess=loaded.preprocess, snapshot_every=CHECKPOINT_EVERY,
                          on_step=lambda _: ended.append(time.perf_counter() - started),
                          channels_last=nhwc, autocast=autocast)
        return result

    with _NHWC(loaded) as nhwc:
        times, result = timed(run, work.repeats)
    trajectory = [Checkpoint(step, ended[step - 1] if step else 0.0,
                             channel_activations(loaded, work.layer, work.units, images))
                  for step, images in result.snapshots]
    return Result(name, per_channel_step(times, work, work.channels),
                  trajectory[-1].activations, len(times), trajectory=trajectory)


FLOOR_STEPS = 64  # the floor optimizes nothing, so its cost per step needs no more


def floor(work: Workload, loaded: LoadedModel, folder: Path) -> Result:
    """Forward to the layer and backward to the input for the same batch, and
    nothing else (no parameterization, transforms or optimizer), on the model,
    memory format and precision that atlas runs by default, for at most
    FLOOR_STEPS steps."""
    steps = min(work.steps, FLOOR_STEPS)
    autocast = precision.autocast_dtype(work.precision, torch.device(work.device),
                                        loaded.bfloat16)
    generator = torch.Generator().manual_seed(0)
    pixels = torch.rand(work.channels, 3, work.image_size, work.image_size,
                        generator=generator).to(work.device).requires_grad_(True)

    def run() -> torch.Tensor:
        with frozen(loaded.module), capture(loaded.module, [work.layer]) as forward:
            for _ in range(steps):
                pixels.grad = None
                model_input = loaded.preprocess(pixels)
                if nhwc:
                    model_input = model_input.contiguous(memory_format=torch.channels_last)
                with torch.autocast(model_input.device.type, dtype=autocast or torch.float32,
                                    enabled=autocast is not None):
                    acts = forward(model_input)[work.layer]
                acts[:, 0].float().sum().backward()
        return pixels.detach()

    with _NHWC(loaded) as nhwc:
        times, _ = timed(run, work.repeats)
    return Result(f"floor: forward to the layer + backward to the input "
                  f"({precision.describe(autocast)})",
                  median(times) / (work.channels * steps), None, len(times))


METHODS = {"seeds": lucent_seed_way, "lucent": lucent_best,
           "lucent-atlas-model": lucent_on_atlas_model, "atlas": atlas_engine,
           "atlas-fp32": atlas_fp32, "floor": floor}
