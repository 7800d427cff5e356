"""The four ways the benchmark optimizes the workload."""

from __future__ import annotations

import torch

from atlas.bench.workload import Result, Workload, mean_activation, per_channel_step, timed
from atlas.models.registry import LoadedModel
from atlas.optvis import objectives, precision
from atlas.optvis.hooks import capture, frozen
from atlas.optvis.param import ImageParam
from atlas.optvis.render import optimize
from atlas.optvis.transforms import standard_transforms


def lucent_as_shipped(loaded: LoadedModel) -> torch.nn.Module:
    """The model torch-lucent users have: for InceptionV1, lucent's own module
    (with its slow redirected-ReLU backward) holding the same weights."""
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


def lucent_layer(layer: str) -> str:
    # lucent names nested modules by joining their path with "_"
    return layer.replace(".", "_")


def lucent_transforms(loaded: LoadedModel) -> list:
    """lucent's standard transforms, then atlas's preprocessing of the model, so
    every method feeds the model the same normalization (render_vis is called
    with preprocess=False; for InceptionV1 and torchvision models this is exactly
    what its own preprocessing would add)."""
    from lucent.optvis import transform

    return [*transform.standard_transforms, loaded.preprocess]


def from_lucent(images) -> torch.Tensor:
    array = images[-1] if isinstance(images, list) else images
    return torch.as_tensor(array).permute(0, 3, 1, 2).float()


def lucent_seed_way(work: Workload, loaded: LoadedModel) -> Result:
    """One `render_vis` per channel with its defaults, as the seed notebooks do:
    a 128x128 Fourier image, upsampled to 224 before every forward pass."""
    from lucent.optvis import param, render

    model = lucent_as_shipped(loaded)

    def one(unit: int):
        return lambda: from_lucent(render.render_vis(
            model, f"{lucent_layer(work.layer)}:{unit}",
            lambda: param.image(work.image_size), transforms=lucent_transforms(loaded),
            thresholds=(work.steps,), progress=False, show_image=False, preprocess=False))

    times, images = [], []
    for unit in work.units:
        unit_times, unit_images = timed(one(unit), work.repeats)
        times.extend(unit_times)
        images.append(unit_images)
    seconds = per_channel_step(times, work, 1)
    return Result("torch-lucent, one render_vis per channel (the seeds' way)", seconds,
                  mean_activation(loaded, work.layer, work.units, torch.cat(images)),
                  len(times))


def lucent_best(work: Workload, loaded: LoadedModel, model=None,
                name: str = "torch-lucent at its best (batch= objective, fixed_image_size)"
                ) -> Result:
    """One `render_vis` over a batch with a summed per-image objective, at the
    native size (fixed_image_size), so no 224 upsampling."""
    from lucent.optvis import objectives as lucent_objectives
    from lucent.optvis import param, render

    model = model if model is not None else lucent_as_shipped(loaded)
    layer = lucent_layer(work.layer)
    objective = sum(lucent_objectives.channel(layer, unit, batch=index)
                    for index, unit in enumerate(work.units))

    def run() -> torch.Tensor:
        return from_lucent(render.render_vis(
            model, objective, lambda: param.image(work.image_size, batch=work.channels),
            transforms=lucent_transforms(loaded), thresholds=(work.steps,), progress=False,
            show_image=False, preprocess=False, fixed_image_size=work.image_size))

    times, images = timed(run, work.repeats)
    return Result(name, per_channel_step(times, work, work.channels),
                  mean_activation(loaded, work.layer, work.units, images), len(times))


def lucent_on_atlas_model(work: Workload, loaded: LoadedModel) -> Result:
    """torch-lucent at its best, but on the model as atlas loads it (for
    InceptionV1: the fast redirected-ReLU backward): separates what the engine
    gains from what the model fix gains."""
    return lucent_best(work, loaded, loaded.module,
                       "torch-lucent at its best, on atlas's model (fast ReLU gradient)")


def atlas_fp32(work: Workload, loaded: LoadedModel) -> Result:
    """atlas with the model forced to float32 (`precision = "fp32"`)."""
    return atlas_engine(work, loaded, "fp32")


def atlas_engine(work: Workload, loaded: LoadedModel, precision_setting: str = "auto") -> Result:
    """atlas's engine as `atlas build` runs it: every channel one image of one
    batch, forward truncated after the layer, hooks only on that layer,
    channels-last and bfloat16 where the model and device allow them."""
    autocast = precision.autocast_dtype(precision_setting, torch.device(work.device),
                                        loaded.bfloat16)
    name = f"atlas ({precision.describe(autocast)}" + (
        ", the default)" if precision_setting == "auto" else ")")

    def run() -> torch.Tensor:
        image = ImageParam(work.image_size, seeds=work.units).to(work.device)
        result = optimize(loaded.module, objectives.channel(work.layer, work.units), image,
                          standard_transforms(work.image_size).to(work.device), work.steps,
                          transform_seeds=work.units, preprocess=loaded.preprocess,
                          channels_last=nhwc, autocast=autocast)
        return result.images

    with _NHWC(loaded) as nhwc:
        times, images = timed(run, work.repeats)
    return Result(name, per_channel_step(times, work, work.channels),
                  mean_activation(loaded, work.layer, work.units, images), len(times))


def floor(work: Workload, loaded: LoadedModel) -> Result:
    """Forward to the layer and backward to the input for the same batch, and
    nothing else (no parameterization, transforms or optimizer), on the model,
    memory format and precision that atlas runs by default."""
    autocast = precision.autocast_dtype("auto", torch.device(work.device), loaded.bfloat16)
    generator = torch.Generator().manual_seed(0)
    pixels = torch.rand(work.channels, 3, work.image_size, work.image_size,
                        generator=generator).to(work.device).requires_grad_(True)

    def run() -> torch.Tensor:
        with frozen(loaded.module), capture(loaded.module, [work.layer]) as forward:
            for _ in range(work.steps):
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
                  per_channel_step(times, work, work.channels), None, len(times))


METHODS = {"seeds": lucent_seed_way, "lucent": lucent_best,
           "lucent-atlas-model": lucent_on_atlas_model, "atlas": atlas_engine,
           "atlas-fp32": atlas_fp32, "floor": floor}
