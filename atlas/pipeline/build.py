"""`atlas build`: model → plan → optimize in batches → store → analyse → site."""

from __future__ import annotations

import dataclasses
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy
import torch
from torch import nn
from tqdm import tqdm

from atlas import __version__
from atlas.config import (DEFAULT_JOINT, BuildConfig, parse_channels, resolve_image_format,
                          with_sized_defaults)
from atlas.errors import AtlasError
from atlas.models.layers import DryRun, LayerInfo, dry_run, resolve_layers
from atlas.models.registry import LoadedModel, load_model
from atlas.models.specs import DEFAULT_SPEC
from atlas.optvis import precision
from atlas.optvis.objectives import parse_terms
from atlas.optvis.param import describe_param
from atlas.optvis.transforms import no_transforms, standard_transforms
from atlas.pipeline import plan
from atlas.datasets import Dataset, open_dataset
from atlas.models.receptive_field import ReceptiveField, receptive_field
from atlas.pipeline.analysis import analyse
from atlas.pipeline.compare_plan import compare_plans
from atlas.pipeline.compare_run import run_compare
from atlas.pipeline.data_analysis import DataEvidence
from atlas.pipeline.examples import store_examples
from atlas.pipeline.scan import load_scan, run_scan, scan_key, scan_settings, stored_field
from atlas.pipeline.views import DATASET, VIEWS, with_needs
from atlas.pipeline.execute import Engine, job_is_done
from atlas.pipeline.executor import open_executor
from atlas.pipeline.interrupt import StopAfterBatch
from atlas.pipeline.lock import BuildLock
from atlas.pipeline.magnitude import maco_magnitude
from atlas.pipeline.plan import Job
from atlas.pipeline.publish import publish_site, remove_leftovers
from atlas.pipeline.schedule import run_batches
from atlas.pipeline.connections import store_connections
from atlas.pipeline.kernels import first_conv_layer, store_kernels
from atlas.pipeline.manifest import build_manifest
from atlas.store import ResultStore


@dataclass
class BuildReport:
    site_dir: Path
    units: int
    jobs_total: int
    jobs_computed: int
    images_optimized: int
    seconds: float
    failed: int = 0  # views that could not be computed (NaN/Inf even after a retry)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase

    def timing_note(self) -> str:
        return ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in self.timings.items())


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise AtlasError("--device cuda was given but no CUDA GPU is available; use --device cpu")
    return torch.device(name)


def choose_layers(
    config: BuildConfig, loaded: LoadedModel, run: DryRun, image_size: int
) -> list[tuple[LayerInfo, list[int]]]:
    names = config.layers or loaded.defaults_from(run.layers)
    infos = resolve_layers(loaded.module, image_size, loaded.preprocess, names, run)
    chosen = []
    for info in infos:
        units = (parse_channels(config.channels, info.channels, info.name)
                 if config.channels else list(range(info.channels)))
        chosen.append((info, units))
    return chosen


def parse_joint(config: BuildConfig, loaded: LoadedModel, run: DryRun,
                image_size: int) -> list[tuple[str, list]]:
    """The joint objectives to optimize, each checked against the model's layers."""
    if "joint" not in config.views:
        return []
    expressions = config.joint
    if expressions is None:
        expressions = DEFAULT_JOINT if loaded.spec == DEFAULT_SPEC else []
    parsed = []
    for expression in expressions:
        try:
            terms = parse_terms(expression)
        except ValueError as error:
            raise AtlasError(f"joint objective: {error}") from None
        infos = resolve_layers(loaded.module, image_size, loaded.preprocess,
                               [term.layer for term in terms], run)
        for term, info in zip(terms, infos):
            parse_channels(str(term.unit), info.channels, term.layer)
        parsed.append((expression, terms))
    return parsed


def class_output(config: BuildConfig, loaded: LoadedModel, run: DryRun,
                 image_size: int) -> tuple[Optional[str], str]:
    """The layer whose units are the class logits (class-conditional objectives):
    `logits_layer` where given, the model's own (the default model's fc), else the
    last linear layer the forward pass reaches at this size. None, with the reason,
    where there is none."""
    if config.logits_layer:
        info = resolve_layers(loaded.module, image_size, loaded.preprocess,
                              [config.logits_layer], run)[0]
        if len(info.shape) != 1:
            raise AtlasError(f"logits_layer {info.name!r} outputs {list(info.shape)} per image, "
                             "not one value per class; name a linear layer")
        return info.name, ""
    if loaded.probe is not None:
        return loaded.probe.logits_layer, ""
    modules = dict(loaded.module.named_modules())
    for info in reversed(run.layers):
        if len(info.shape) == 1 and isinstance(modules.get(info.name), nn.Linear):
            return info.name, ""
    where = ("the model has no linear layer for its classes" if run.ok else
             f"the forward pass at {image_size} px stops before the model's class output")
    return None, f"{where} (logits_layer names one)"


def check_objective(config: BuildConfig, run: DryRun, no_logits: str) -> None:
    """A class objective needs a class output with that class."""
    spec = config.objective_spec()
    if spec["kind"] != "class":
        return
    if spec["logits"] is None:
        raise AtlasError(f"objective {config.objective!r} needs a class output, but {no_logits}")
    count = next(info.channels for info in run.layers if info.name == spec["logits"])
    if spec["class"] >= count:
        raise AtlasError(f"objective {config.objective!r}: class {spec['class']} is out of range "
                         f"for {spec['logits']!r}, which has {count} units (0-{count - 1})")


NO_DATASET = "none"  # --dataset none: no dataset, even for a model that has its own


def open_build_dataset(config: BuildConfig, loaded: LoadedModel,
                       image_size: int) -> Optional[Dataset]:
    """The dataset this build scans: the one asked for, else the model's own, else none."""
    spec = config.dataset if config.dataset is not None else loaded.default_dataset
    if spec is None or spec == NO_DATASET:
        return None
    return open_dataset(spec, image_size, config.dataset_limit, config.seed,
                        config.dataset_resize)


def scan_dataset(config: BuildConfig, loaded: LoadedModel, dataset: Dataset, chosen: list,
                 store: ResultStore, image_size: int, device: torch.device, executor: Any,
                 progress: bool) -> tuple[dict, dict, list[str]]:
    """The dataset pass over every chosen layer, then each unit's examples.
    Returns (layer -> LayerScan, layer -> receptive field, report lines)."""
    common = scan_settings(__version__, loaded.spec, loaded.weights_sha256, image_size,
                           loaded.preprocess.description, dataset, config.example_count)
    report = run_scan(executor, dataset, [(info.name, info.channels) for info, _ in chosen],
                      common, store.site_dir, config.example_count, config.dataset_batch,
                      progress)
    notes = []
    if report.images:
        notes.append(f"dataset: {report.images} images scanned in {report.seconds:.1f} s "
                     f"({report.images / max(report.seconds, 1e-9):.0f} images/s)")
    if dataset.skipped:
        first = ", ".join(source for source, _ in dataset.skipped[:3])
        notes.append(f"dataset: {len(dataset.skipped)} file(s) could not be read and were "
                     f"skipped (first: {first})")
    scans, fields, written = {}, {}, 0
    for info, units in chosen:
        scan = load_scan(store.site_dir, info.name, scan_key(common, info.name))
        field = stored_field(scan, lambda name=info.name: receptive_field(
            loaded.module, loaded.preprocess, name, image_size, device))
        written += store_examples(store, dataset, scan, field, info.shape, units, common,
                                  config.example_count, progress)
        scans[info.name], fields[info.name] = scan, field
    total = sum(len(units) for _, units in chosen)
    cached = f", pass cached for {len(report.cached)} layer(s)" if report.cached else ""
    notes.append(f"dataset examples: {written} of {total} units written "
                 f"({total - written} unchanged{cached})")
    return scans, fields, notes


def dataset_info(dataset: Dataset, scans: dict) -> dict:
    """The manifest's `dataset` entry."""
    count = max((scan.count for scan in scans.values()), default=0)
    return {"spec": dataset.spec, "description": dataset.describe(), "images": count,
            "skipped": len(dataset.skipped),
            "skipped_sources": [source for source, _ in dataset.skipped[:5]],
            "label_keys": list(dataset.label_keys), "fingerprint": dataset.fingerprint}


def versions() -> dict[str, str]:
    from importlib.metadata import version  # not importing torch-lucent: it is not used

    return {"atlas": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "torch-lucent": version("torch-lucent"), "python": platform.python_version()}


@dataclass
class Prepared:
    """A build planned and ready to run: what `atlas build` runs and `atlas plan`
    prices. Nothing is computed or written yet; the executor is connected."""

    config: BuildConfig  # resolved: sized defaults, views with their needs, logits layer
    loaded: LoadedModel
    device: torch.device  # the driver's
    image_size: int
    run: DryRun
    chosen: list  # (LayerInfo, units) per layer
    joint: list
    compared: list  # compare UnitPlans
    dataset: Optional[Dataset]  # what MACO's spectrum or the dataset views read
    scanned: Optional[Dataset]  # the dataset the pass and the pages use
    store: ResultStore
    common: dict
    layer_jobs: list[list[Job]]
    engine: Engine
    executor: Any
    transforms_text: str
    magnitude_name: Optional[str]
    autocast: Optional[torch.dtype]
    image_format: str

    def batches(self, jobs: list[list[Job]]) -> list[list[Job]]:
        """`jobs` (one list per layer) packed the way the build runs them."""
        return [batch for layer in jobs for batch in plan.batches(layer, self.config.batch_size)]


def prepare_build(config: BuildConfig, progress: bool = True) -> Prepared:
    """Loads the model, checks the settings against it, plans every job and
    connects the executor."""
    config = dataclasses.replace(config.validate(), views=with_needs(config.views))
    loaded = load_model(config.model, Path(config.weights) if config.weights else None,
                        config.pretrained, config.preprocess, config.mean, config.std)
    # On Ray the workers bring their own devices; the driver uses what it has.
    device = resolve_device(config.device if config.executor == "local" else "auto")
    image_size = config.image_size or loaded.input_size
    config = with_sized_defaults(config, image_size)
    loaded.module.to(device)
    loaded.preprocess.to(device)
    run = dry_run(loaded.module, image_size, loaded.preprocess)
    chosen = choose_layers(config, loaded, run, image_size)
    joint = parse_joint(config, loaded, run, image_size)
    logits, no_logits = class_output(config, loaded, run, image_size)
    config = dataclasses.replace(config, logits_layer=logits)
    check_objective(config, run, no_logits)
    wants_data = any(VIEWS[name].produced_by == DATASET for name in config.views)
    # MACO reads its magnitude spectrum from the dataset even without dataset views.
    dataset = (open_build_dataset(config, loaded, image_size)
               if wants_data or config.param == "maco" else None)
    scanned = dataset if wants_data else None
    magnitude, magnitude_name = (maco_magnitude(dataset, image_size)
                                 if config.param == "maco" else (None, None))
    image_format = resolve_image_format(config, image_size)
    store = ResultStore(Path(config.out), image_format, config.image_quality)

    transforms = (standard_transforms if config.transforms == "standard" else no_transforms)(
        image_size).to(device)
    executor = open_executor(config, device, progress)
    autocast = precision.autocast_dtype(config.precision, executor.device, loaded.bfloat16,
                                        executor.fast_bfloat16)
    common = plan.common_settings(config, loaded.spec, loaded.weights_sha256, image_size,
                                  transforms.describe(), precision.describe(autocast),
                                  image_format, magnitude_name)
    layer_jobs = plan_jobs(config, common, chosen, joint)
    compared = compare_plans(config, chosen, image_size, no_logits, common)
    channels_last = loaded.channels_last if config.channels_last is None else config.channels_last
    if channels_last:
        loaded.module.to(memory_format=torch.channels_last)
    engine = Engine(loaded.module, loaded.preprocess, transforms, device, image_size,
                    config.steps, config.lr, config.param, config.decorrelate,
                    config.valid, config.tv_weight, config.l2_weight, versions(), channels_last,
                    autocast, magnitude, store.encoder)
    return Prepared(config, loaded, device, image_size, run, chosen, joint, compared, dataset,
                    scanned, store, common, layer_jobs, engine, executor, transforms.describe(),
                    magnitude_name, autocast, image_format)


def build_atlas(config: BuildConfig, progress: bool = True) -> BuildReport:
    """Builds (or resumes) the atlas that `config` describes and publishes its site."""
    started = time.perf_counter()
    ready = prepare_build(config, progress)
    config, loaded, device, image_size = ready.config, ready.loaded, ready.device, ready.image_size
    run, chosen, joint, compared = ready.run, ready.chosen, ready.joint, ready.compared
    scanned, store, common, layer_jobs = ready.scanned, ready.store, ready.common, ready.layer_jobs
    engine, executor, site_dir = ready.engine, ready.executor, store.site_dir
    magnitude_name, autocast, image_format = (ready.magnitude_name, ready.autocast,
                                              ready.image_format)
    notes = [f"executor: {executor.describe()}"] if executor.name != "local" else []
    timings: dict[str, float] = {}
    with executor, BuildLock(site_dir) as lock, StopAfterBatch() as stop:
        executor.start(engine)
        if lock.took_over:
            notes.append(f"took over the lock of a build that is gone (pid "
                         f"{lock.took_over.get('pid')}, started {lock.took_over.get('started')})")
        remove_leftovers(site_dir)
        scans, fields = {}, {}
        clock = time.perf_counter()
        if scanned is not None:
            scans, fields, data_notes = scan_dataset(config, loaded, scanned, chosen, store,
                                                     image_size, device, executor, progress)
            notes += data_notes
        timings["dataset"] = time.perf_counter() - clock
        todo = [[job for job in jobs if not job_is_done(store, job)] for jobs in layer_jobs]
        batches = ready.batches(todo)
        clock = time.perf_counter()
        with tqdm(total=len(batches) * config.steps, unit="step", desc="optimize",
                  disable=not progress, dynamic_ncols=True) as bar:
            run_batches(executor, batches, store, bar, stop, config.steps, config.lr,
                        image_size)
        timings["optimize"] = time.perf_counter() - clock
        clock = time.perf_counter()
        if compared:
            with tqdm(total=0, unit="step", desc="compare", disable=not progress,
                      dynamic_ncols=True) as bar:
                notes.append(run_compare(engine, executor, compared, store, config.batch_size,
                                         bar, stop).note())
        timings["compare"] = time.perf_counter() - clock

        kernel_layer = first_conv_layer(loaded.module, [info.name for info in run.layers])
        if "kernel" in config.views:
            for info, units in chosen:
                if info.name == kernel_layer:
                    store_kernels(store, loaded.module, info.name, units, common)
        order = {info.name: i for i, info in enumerate(run.layers)}  # forward order
        forward = sorted(((info.name, units) for info, units in chosen),
                         key=lambda item: order.get(item[0], len(order)))
        pairs, computed = store_connections(store, loaded.module, loaded.preprocess,
                                            image_size, forward, config.connections, common,
                                            device)
        if computed:
            notes.append(f"connections: {computed} of {len(pairs)} layer pairs computed")
        record = build_record(config, loaded, run.layers, chosen, joint, image_size,
                              ready.transforms_text, kernel_layer, fields)
        record["connections"] = {"top": config.connections, "pairs": pairs}
        record["dataset"] = dataset_info(scanned, scans) if scanned is not None else None
        if compared:
            record["compare"] = {"units": [[plan.layer, plan.unit] for plan in compared]}
            record["settings"].update(compare_units=config.compare_units,
                                      class_weight=config.class_weight,
                                      logits_layer=config.logits_layer)
        record["settings"]["magnitude"] = magnitude_name
        record["settings"].update(precision=precision.describe(autocast),
                                  channels_last=engine.channels_last,
                                  images=image_format if image_format == "png"
                                  else f"{image_format} (quality {config.image_quality})")
        store.save_json("build.json", record)
        store.save_json("analysis.json", analyse(loaded, store, chosen, config, device,
                                                 DataEvidence(scanned, scans) if scans else None))
        manifest = build_manifest(store)
        clock = time.perf_counter()
        publish_site(manifest, site_dir, progress=progress)
        timings["site"] = time.perf_counter() - clock
    return BuildReport(
        site_dir, sum(len(units) for _, units in chosen),
        sum(len(jobs) for jobs in layer_jobs), sum(len(jobs) for jobs in todo),
        sum(len(job.images) for jobs in todo for job in jobs),
        time.perf_counter() - started, count_failures(manifest), notes, timings)


def _field_size(field: Optional[ReceptiveField]) -> Optional[list[int]]:
    return None if field is None or field.whole_image else list(field.size)


def plan_jobs(config: BuildConfig, common: dict, chosen: list, joint: list) -> list[list[Job]]:
    """One list of jobs per layer (view-major, so packed batches have long
    segments of one view), then the joint jobs."""
    view_order = {view: i for i, view in enumerate(VIEWS)}
    layer_jobs = []
    for info, units in chosen:
        jobs = [job for unit in units
                for job in plan.unit_jobs(config, common, info.name, info.shape, unit)]
        layer_jobs.append(sorted(jobs, key=lambda job: view_order[job.view]))
    layer_jobs.append(plan.joint_jobs(config, common, joint))
    return layer_jobs


def count_failures(manifest: dict) -> int:
    return sum(len(unit.get("failed_views", {})) for layer in manifest["layers"]
               for unit in layer["units"])


def build_record(config: BuildConfig, loaded: LoadedModel, table: list[LayerInfo],
                 chosen: list, joint: list, image_size: int, transforms: str,
                 kernel_layer: Optional[str], fields: dict) -> dict:
    """What `atlas render` needs to rebuild the manifest without the model."""
    shown = set(loaded.defaults_from(table)) | {info.name for info, _ in chosen}
    return {
        "model": {
            "spec": loaded.spec, "title": loaded.title, "description": loaded.description,
            "weights": loaded.weights_path.name if loaded.weights_path else None,
            "weights_sha256": loaded.weights_sha256, "input_size": image_size,
            "parameters": loaded.parameter_count,
            "preprocess": loaded.preprocess.description,
            "architecture": [{"name": i.name, "type": i.type, "shape": list(i.shape),
                              "channels": i.channels} for i in table if i.name in shown],
            "accuracy": loaded.metrics.get("accuracy", {}),
        },
        "settings": {
            "steps": config.steps, "image_size": image_size, "seed": config.seed,
            "lr": config.lr, "param": describe_param(config.param, config.decorrelate,
                                                     config.valid),
            "transforms": transforms, "tv_weight": config.tv_weight,
            "l2_weight": config.l2_weight, "objective": config.objective,
            "diversity_weight": config.diversity_weight,
            "views": list(config.views),
        },
        "layers": [{"name": info.name, "type": info.type, "shape": list(info.shape),
                    "channels": info.channels, "units": units,
                    "branches": loaded.branches(info.name) or [],
                    "kernel": info.name == kernel_layer,
                    "receptive_field": _field_size(fields.get(info.name))}
                   for info, units in chosen],
        "joint": [expression for expression, _ in joint],
    }
