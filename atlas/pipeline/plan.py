"""What to compute: one job per (layer, unit, view), each a list of images.

A job's `settings` are everything that shapes its pixels; their hash is the
key the store compares, so a rebuild recomputes exactly the jobs whose
settings changed. Each image has its own initialization seed derived from
(build seed, layer, unit, view, index), independent of batch packing.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from atlas import __version__
from atlas.config import BuildConfig
from atlas.optvis.objectives import Term
from atlas.store import settings_key

# Views produced by optimizing images; `evolution` rides on `positive`'s run.
OPTIMIZED_VIEWS = ("positive", "negative", "diversity", "neuron", "seeds")


def image_seed(seed: int, *parts: object) -> int:
    """A stable 31-bit seed for one image, from the build seed and its identity."""
    text = "/".join(str(p) for p in (seed, *parts))
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


def neuron_positions(height: int, width: int, count: int) -> list[tuple[int, int]]:
    """`count` (h, w) positions evenly spaced on the diagonal; for an odd count
    the centre is among them."""
    if count == 1:
        return [(height // 2, width // 2)]
    fractions = [(i + 1) / (count + 1) for i in range(count)]
    return [(min(height - 1, int(f * height)), min(width - 1, int(f * width))) for f in fractions]


@dataclass(frozen=True)
class ImageSpec:
    seed: int  # initialization seed
    position: Optional[tuple[int, int]] = None  # neuron view: (h, w)
    seed_index: Optional[int] = None  # seeds view: which of the seeds


@dataclass
class Job:
    layer: Optional[str]  # None for a joint job
    unit: int  # unit index, or the joint pair's index
    view: str
    images: list[ImageSpec]
    settings: dict[str, Any]
    terms: list[Term] = field(default_factory=list)  # joint jobs only

    @property
    def key(self) -> str:
        return settings_key(self.settings)


def common_settings(config: BuildConfig, model_spec: str, weights_sha256: Optional[str],
                    image_size: int, transforms: str, precision: str = "fp32",
                    image_format: str = "png") -> dict[str, Any]:
    settings = {
        "atlas": __version__,
        "model": model_spec,
        "weights_sha256": weights_sha256,
        "image_size": image_size,
        "steps": config.steps,
        "lr": config.lr,
        "seed": config.seed,
        "param": {"fft": config.fft, "decorrelate": config.decorrelate, "valid": config.valid},
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


def unit_jobs(
    config: BuildConfig, common: dict[str, Any], layer: str, shape: Sequence[int], unit: int
) -> list[Job]:
    """The optimized views of one unit that `config.views` asks for."""
    views, jobs = config.views, []
    base = {**common, "layer": layer, "unit": unit}

    def add(view: str, images: list[ImageSpec], **extra: Any) -> None:
        jobs.append(Job(layer, unit, view, images, {**base, "view": view, **extra}))

    if "positive" in views or "evolution" in views:
        snapshot = config.snapshot_every if "evolution" in views else 0
        add("positive", [ImageSpec(image_seed(config.seed, layer, unit, "positive"))],
            snapshot_every=snapshot)
    if "negative" in views:
        add("negative", [ImageSpec(image_seed(config.seed, layer, unit, "negative"))])
    if "diversity" in views:
        add("diversity",
            [ImageSpec(image_seed(config.seed, layer, unit, "diversity", i))
             for i in range(config.diversity_images)],
            diversity_weight=config.diversity_weight, diversity_images=config.diversity_images)
    if "neuron" in views and len(shape) == 3:  # linear units have no positions
        positions = neuron_positions(shape[1], shape[2], config.neuron_positions)
        add("neuron",
            [ImageSpec(image_seed(config.seed, layer, unit, "neuron", i), position=p)
             for i, p in enumerate(positions)],
            positions=[list(p) for p in positions])
    if "seeds" in views:
        add("seeds",
            [ImageSpec(image_seed(config.seed, layer, unit, "seeds", i), seed_index=i)
             for i in range(config.seed_count)],
            seed_count=config.seed_count)
    return jobs


def joint_jobs(config: BuildConfig, common: dict[str, Any],
               parsed: Sequence[tuple[str, list[Term]]]) -> list[Job]:
    jobs = []
    for index, (expression, terms) in enumerate(parsed):
        settings = {**common, "view": "joint", "expression": expression}
        spec = ImageSpec(image_seed(config.seed, "joint", expression))
        jobs.append(Job(None, index, "joint", [spec], settings, list(terms)))
    return jobs


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
