"""The four ways the benchmark optimizes the workload."""

from __future__ import annotations

import torch

from atlas.bench.workload import Result, Workload, mean_activation, per_channel_step, timed
from atlas.models.registry import LoadedModel
from atlas.optvis import objectives
from atlas.optvis.hooks import capture, frozen
from atlas.optvis.param import ImageParam
from atlas.optvis.render import optimize
from atlas.optvis.transforms import standard_transforms


def _lucent_layer(layer: str) -> str:
    # lucent names nested modules by joining their path with "_"
    return layer.replace(".", "_")


def _from_lucent(images) -> torch.Tensor:
    array = images[-1] if isinstance(images, list) else images
    return torch.as_tensor(array).permute(0, 3, 1, 2).float()


def lucent_seed_way(work: Workload, loaded: LoadedModel) -> Result:
    """One `render_vis` per channel with its defaults, as the seed notebooks do:
    a 128x128 Fourier image, upsampled to 224 before every forward pass."""
    from lucent.optvis import param, render

    def one(unit: int):
        return lambda: _from_lucent(render.render_vis(
            loaded.module, f"{_lucent_layer(work.layer)}:{unit}",
            lambda: param.image(work.image_size), thresholds=(work.steps,), progress=False,
            show_image=False))

    times, images = [], []
    for unit in work.units:
        unit_times, unit_images = timed(one(unit), work.repeats)
        times.extend(unit_times)
        images.append(unit_images)
    seconds = per_channel_step(times, work, 1)
    return Result("torch-lucent, one render_vis per channel (the seeds' way)", seconds,
                  mean_activation(loaded, work.layer, work.units, torch.cat(images)),
                  len(times))


def lucent_best(work: Workload, loaded: LoadedModel) -> Result:
    """One `render_vis` over a batch with a summed per-image objective, at the
    native size (fixed_image_size), so no 224 upsampling."""
    from lucent.optvis import objectives as lucent_objectives
    from lucent.optvis import param, render

    layer = _lucent_layer(work.layer)
    objective = sum(lucent_objectives.channel(layer, unit, batch=index)
                    for index, unit in enumerate(work.units))

    def run() -> torch.Tensor:
        return _from_lucent(render.render_vis(
            loaded.module, objective, lambda: param.image(work.image_size, batch=work.channels),
            thresholds=(work.steps,), progress=False, show_image=False,
            fixed_image_size=work.image_size))

    times, images = timed(run, work.repeats)
    return Result("torch-lucent at its best (batch= objective, fixed_image_size)",
                  per_channel_step(times, work, work.channels),
                  mean_activation(loaded, work.layer, work.units, images), len(times))


def atlas_engine(work: Workload, loaded: LoadedModel) -> Result:
    """atlas's engine: every channel one image of one batch, forward truncated
    after the layer, hooks only on that layer."""
    def run() -> torch.Tensor:
        image = ImageParam(work.image_size, seeds=work.units).to(work.device)
        result = optimize(loaded.module, objectives.channel(work.layer, work.units), image,
                          standard_transforms(work.image_size).to(work.device), work.steps,
                          transform_seeds=work.units, preprocess=loaded.preprocess)
        return result.images

    times, images = timed(run, work.repeats)
    return Result("atlas", per_channel_step(times, work, work.channels),
                  mean_activation(loaded, work.layer, work.units, images), len(times))


def floor(work: Workload, loaded: LoadedModel) -> Result:
    """Forward to the layer and backward to the input for the same batch, and
    nothing else: no parameterization, transforms or optimizer."""
    generator = torch.Generator().manual_seed(0)
    pixels = torch.rand(work.channels, 3, work.image_size, work.image_size,
                        generator=generator).to(work.device).requires_grad_(True)

    def run() -> torch.Tensor:
        with frozen(loaded.module), capture(loaded.module, [work.layer]) as forward:
            for _ in range(work.steps):
                pixels.grad = None
                acts = forward(loaded.preprocess(pixels))[work.layer]
                acts[:, 0].sum().backward()
        return pixels.detach()

    times, _ = timed(run, work.repeats)
    return Result("floor: forward to the layer + backward to the input",
                  per_channel_step(times, work, work.channels), None, len(times))


METHODS = {"seeds": lucent_seed_way, "lucent": lucent_best, "atlas": atlas_engine,
           "floor": floor}
