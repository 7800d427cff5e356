"""What to compute: one job per (layer, unit, view), each a list of images.

A job's `settings` are everything that shapes its pixels; their hash is the
key the store compares, so a rebuild recomputes exactly the jobs whose
settings changed. Each image has its own initialization seed derived from
(build seed, layer, unit, view, index), independent of batch packing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from atlas.config import BuildConfig, with_sized_defaults
from atlas.models.layers import LayerInfo
from atlas.optvis.objectives import Term
from atlas.store import settings_key
from atlas.version import __version__
from atlas.views import OPTIMIZED, VIEWS, OptimizedView, Where
from atlas.views.images import ImageSpec, image_seed
from atlas.views.optimized import OPTIMIZED_PRE, REPORTED_PRE, neuron_positions

__all__ = ["ImageSpec", "Job", "image_seed", "neuron_positions", "common_settings", "unit_jobs",
           "joint_jobs", "batches", "image_count"]


@dataclass
class Job:
    layer: str | None  # None for a joint job
    unit: int  # unit index, or the joint pair's index
    view: str
    images: list[ImageSpec]
    settings: dict[str, Any]
    terms: list[Term] = field(default_factory=list)  # joint jobs only

    @property
    def key(self) -> str:
        return settings_key(self.settings)


def common_settings(config: BuildConfig, model_spec: str, weights_sha256: str | None,
                    image_size: int, transforms: str, precision: str = "fp32",
                    image_format: str = "png", magnitude: str | None = None
                    ) -> dict[str, Any]:
    """`magnitude` names MACO's magnitude spectrum (see `param_settings`)."""
    config = with_sized_defaults(config, image_size)
    settings = {
        "atlas": __version__,
        "model": model_spec,
        "weights_sha256": weights_sha256,
        "image_size": image_size,
        "steps": config.steps,
        "lr": config.lr,
        "seed": config.seed,
        "param": param_settings(config, magnitude),
        "transforms": transforms,
        "tv_weight": config.tv_weight,
        "l2_weight": config.l2_weight,
    }
    # Settings added later join the key only when not at their original value,
    # so existing results keep their keys.
    if precision != "fp32":
        settings["precision"] = precision
    if image_format != "png":
        settings["image_format"] = f"{image_format} q{config.image_quality}"
    return settings


def param_settings(config: BuildConfig, magnitude: str | None) -> dict[str, Any]:
    """The parameterization as it joins the key: pixel and Fourier as they always
    have (stored results keep their keys), MACO with the hash of its magnitude
    spectrum, so another dataset's spectrum makes other images."""
    shape = {"decorrelate": config.decorrelate, "valid": config.valid}
    if config.param == "maco":
        return {"maco": magnitude, **shape}
    return {"fft": config.param == "fourier", **shape}


def unit_jobs(config: BuildConfig, common: dict[str, Any], info: LayerInfo,
              unit: int) -> list[Job]:
    """The optimized views of one unit that `config.views` asks for, in view order."""
    layer, shape = info.name, info.shape
    base = {**common, "layer": layer, "unit": unit}
    where = Where(tuple(shape))
    return [
        Job(layer, unit, view.name, view.images(config, layer, unit, shape),
            {**base, **pre_activation_setting(config, info, view), "view": view.name,
             **view.settings(config, shape), **stopping_settings(config, view.settles)})
        for view in OPTIMIZED if view.planned(config.views) and view.applies(where)
    ]


def pre_activation_setting(config: BuildConfig, info: LayerInfo,
                           view: OptimizedView) -> dict[str, Any]:
    """On a clamped layer a view reports the pre-activation and may optimize it (see
    `OptimizedView.optimizes_pre`), which its key says; a layer without a clamp adds
    nothing (its results keep their keys)."""
    if info.floor is None:
        return {}
    return {"pre_activation": OPTIMIZED_PRE if view.optimizes_pre(config) else REPORTED_PRE}


def stopping_settings(config: BuildConfig, settles: bool) -> dict[str, Any]:
    """Convergence-aware stopping as it joins the key of the views it stops:
    nothing when off (results made without it keep their keys)."""
    if not settles or config.stop_tolerance <= 0:
        return {}
    return {"stopping": {"tolerance": config.stop_tolerance, "window": config.stop_window}}


def joint_jobs(config: BuildConfig, common: dict[str, Any],
               parsed: Sequence[tuple[str, list[Term]]]) -> list[Job]:
    jobs = []
    for index, (expression, terms) in enumerate(parsed):
        name = VIEWS["joint"].name
        settings = {**common, "view": name, "expression": expression,
                    **stopping_settings(config, cast(OptimizedView, VIEWS["joint"]).settles)}
        spec = ImageSpec(image_seed(config.seed, name, expression))
        jobs.append(Job(None, index, name, [spec], settings, list(terms)))
    return jobs


def image_count(jobs: Sequence[Job]) -> int:
    """The images `jobs` optimize together."""
    return sum(len(job.images) for job in jobs)


def batches(jobs: Sequence[Job], batch_size: int) -> list[list[Job]]:
    """Consecutive jobs packed into batches of at most `batch_size` images
    (a job is never split; a job larger than the limit gets a batch alone)."""
    packed: list[list[Job]] = []
    current: list[Job] = []
    count = 0
    for job in jobs:
        size = len(job.images)
        if current and count + size > batch_size:
            packed.append(current)
            current, count = [], 0
        current.append(job)
        count += size
    if current:
        packed.append(current)
    return packed
