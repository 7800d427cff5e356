"""`atlas build`: model → plan → optimize in batches → store → analyse → site."""

from __future__ import annotations

import difflib
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy
import torch
from tqdm import tqdm

from atlas import __version__
from atlas.config import VIEWS, BuildConfig, parse_channels
from atlas.errors import AtlasError
from atlas.models.registry import LayerInfo, LoadedModel, list_layers, load_model
from atlas.optvis.objectives import parse_terms
from atlas.optvis.transforms import no_transforms, standard_transforms
from atlas.pipeline import plan
from atlas.pipeline.analysis import analyse
from atlas.pipeline.execute import Engine, job_is_done, run_batch
from atlas.pipeline.kernels import first_conv_layer, store_kernels
from atlas.pipeline.manifest import write_manifest
from atlas.site import render_site
from atlas.store import ResultStore


@dataclass
class BuildReport:
    site_dir: Path
    units: int
    jobs_total: int
    jobs_computed: int
    images_optimized: int
    seconds: float


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise AtlasError("--device cuda was given but no CUDA GPU is available; use --device cpu")
    return torch.device(name)


def layer_table(loaded: LoadedModel, image_size: int) -> list[LayerInfo]:
    try:
        return list_layers(loaded.module, image_size)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise AtlasError(
            f"model {loaded.spec!r} cannot run at image size {image_size} ({first}); "
            f"try --image-size {loaded.input_size}"
        ) from None


def choose_layers(
    config: BuildConfig, loaded: LoadedModel, table: list[LayerInfo]
) -> list[tuple[LayerInfo, list[int]]]:
    by_name = {info.name: info for info in table}
    chosen = []
    for name in config.layers or loaded.default_layers:
        if name not in by_name:
            close = difflib.get_close_matches(name, list(by_name), n=3)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise AtlasError(
                f"unknown layer {name!r}{hint}; run `atlas layers` to list the valid layers"
            )
        info = by_name[name]
        units = (parse_channels(config.channels, info.channels, name)
                 if config.channels else list(range(info.channels)))
        chosen.append((info, units))
    return chosen


def parse_joint(config: BuildConfig, table: list[LayerInfo]) -> list[tuple[str, list]]:
    by_name = {info.name: info for info in table}
    parsed = []
    for expression in config.joint if "joint" in config.views else []:
        try:
            terms = parse_terms(expression)
        except ValueError as error:
            raise AtlasError(f"joint objective: {error}") from None
        for term in terms:
            if term.layer not in by_name:
                raise AtlasError(f"joint objective {expression!r}: unknown layer {term.layer!r}; "
                                 "run `atlas layers` to list the valid layers")
            parse_channels(str(term.unit), by_name[term.layer].channels, term.layer)
        parsed.append((expression, terms))
    return parsed


def versions() -> dict[str, str]:
    import lucent  # noqa: F401  (recorded: the reference implementation in use)
    from importlib.metadata import version

    return {"atlas": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "torch-lucent": version("torch-lucent"), "python": platform.python_version()}


def build_atlas(config: BuildConfig, progress: bool = True) -> BuildReport:
    started = time.perf_counter()
    config.validate()
    loaded = load_model(config.model, Path(config.weights) if config.weights else None)
    device = resolve_device(config.device)
    image_size = config.image_size or loaded.input_size
    loaded.module.to(device)
    table = layer_table(loaded, image_size)
    chosen = choose_layers(config, loaded, table)
    joint = parse_joint(config, table)
    site_dir = Path(config.out)
    store = ResultStore(site_dir)

    transforms = (standard_transforms if config.transforms == "standard" else no_transforms)(
        image_size).to(device)
    common = plan.common_settings(config, loaded.spec, loaded.weights_sha256, image_size,
                                  transforms.describe())
    view_order = {view: i for i, view in enumerate(VIEWS)}
    layer_jobs = []
    for info, units in chosen:
        jobs = [job for unit in units for job in plan.unit_jobs(config, common, info.name,
                                                                  info.shape, unit)]
        layer_jobs.append(sorted(jobs, key=lambda job: view_order[job.view]))
    layer_jobs.append(plan.joint_jobs(config, common, joint))
    all_jobs = [job for jobs in layer_jobs for job in jobs]
    todo = [[job for job in jobs if not job_is_done(store, job)] for jobs in layer_jobs]
    batches = [batch for jobs in todo for batch in plan.batches(jobs, config.batch_size)]

    engine = Engine(loaded.module, loaded.preprocess.to(device), transforms, device, image_size,
                    config.steps, config.lr, config.fft, config.decorrelate,
                    config.valid, config.tv_weight, config.l2_weight, versions())
    with tqdm(total=len(batches) * config.steps, unit="step", desc="optimize",
              disable=not progress, dynamic_ncols=True) as bar:
        for batch in batches:
            first = batch[0]
            bar.set_postfix_str(f"{first.layer or 'joint'} ({sum(len(j.images) for j in batch)} images)")
            run_batch(engine, batch, store, on_step=lambda _: bar.update(1))

    kernel_layer = first_conv_layer(loaded.module, [info.name for info in table])
    if "kernel" in config.views:
        for info, units in chosen:
            if info.name == kernel_layer:
                store_kernels(store, loaded.module, info.name, units, common)

    store.save_json("build.json", build_record(config, loaded, table, chosen, joint, image_size,
                                              transforms.describe(), kernel_layer))
    store.save_json("analysis.json", analyse(loaded, store, chosen, config, device))
    manifest = write_manifest(store)
    render_site(manifest, site_dir, progress=progress)
    return BuildReport(site_dir, sum(len(units) for _, units in chosen), len(all_jobs),
                       sum(len(jobs) for jobs in todo),
                       sum(len(job.images) for jobs in todo for job in jobs),
                       time.perf_counter() - started)


def build_record(config: BuildConfig, loaded: LoadedModel, table: list[LayerInfo],
                 chosen: list, joint: list, image_size: int, transforms: str,
                 kernel_layer: Optional[str]) -> dict:
    """What `atlas render` needs to rebuild the manifest without the model."""
    return {
        "model": {
            "spec": loaded.spec, "title": loaded.title, "description": loaded.description,
            "weights": loaded.weights_path.name if loaded.weights_path else None,
            "weights_sha256": loaded.weights_sha256, "input_size": image_size,
            "parameters": loaded.parameter_count,
            "architecture": [{"name": i.name, "type": i.type, "shape": list(i.shape),
                              "channels": i.channels} for i in table
                             if i.type in ("Conv2d", "Linear")],
            "accuracy": loaded.metrics.get("accuracy", {}),
        },
        "settings": {
            "steps": config.steps, "image_size": image_size, "seed": config.seed,
            "lr": config.lr, "param": f"{'fft' if config.fft else 'pixel'}"
            f"{'+decorrelate' if config.decorrelate else ''}, {config.valid}",
            "transforms": transforms, "tv_weight": config.tv_weight,
            "l2_weight": config.l2_weight, "diversity_weight": config.diversity_weight,
            "views": list(config.views),
        },
        "layers": [{"name": info.name, "type": info.type, "shape": list(info.shape),
                    "channels": info.channels, "units": units,
                    "kernel": info.name == kernel_layer} for info, units in chosen],
        "joint": [expression for expression, _ in joint],
    }
