"""`atlas build`: model → plan → optimize in batches → store → analyse → site."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from atlas import __version__
from atlas.config import BuildConfig
from atlas.datasets import Dataset
from atlas.models.layers import LayerInfo
from atlas.models.receptive_field import ReceptiveField, receptive_field
from atlas.models.registry import LoadedModel
from atlas.optvis import precision
from atlas.optvis.param import describe_param
from atlas.pipeline.analysis.evidence import DataEvidence
from atlas.pipeline.analysis.questions import analyse
from atlas.pipeline.compare.compute import run_compare
from atlas.pipeline.control.interrupt import StopAfterBatch
from atlas.pipeline.control.lock import BuildLock
from atlas.pipeline.control.publish import publish_site, remove_leftovers
from atlas.pipeline.cost.example_bytes import scan_concentrations
from atlas.pipeline.cost.site_budget import ExampleChoice, fit
from atlas.pipeline.cost.site_price import SitePrice
from atlas.pipeline.cost.site_size import limit_warnings, measure_site, size_line
from atlas.pipeline.dataset.accent import VIEW as ACCENT_VIEW
from atlas.pipeline.dataset.accent import run_accents
from atlas.pipeline.dataset.caricature import VIEW as CARICATURE_VIEW
from atlas.pipeline.dataset.caricature import run_caricatures
from atlas.pipeline.dataset.examples import crop_format, store_examples
from atlas.pipeline.dataset.scan import (
    ScanLayer,
    load_scan,
    run_scan,
    scan_key,
    scan_settings,
    stored_field,
)
from atlas.pipeline.execution.tasks import Executor
from atlas.pipeline.jobs import image_count
from atlas.pipeline.manifest import build_manifest
from atlas.pipeline.optimize.memory import peak_memory
from atlas.pipeline.optimize.schedule import run_batches
from atlas.pipeline.prepare import Prepared, prepare_build
from atlas.pipeline.weights.connections import store_connections, stored_map_side
from atlas.pipeline.weights.kernels import first_conv_layer, store_kernels
from atlas.sizes import format_size, parse_size
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

# The views optimized from dataset images, each a phase after the dataset pass.
FROM_DATASET_IMAGES = ((ACCENT_VIEW, run_accents), (CARICATURE_VIEW, run_caricatures))


def _scan_common(config: BuildConfig, loaded: LoadedModel, dataset: Dataset,
                 image_size: int) -> dict:
    """The settings the dataset pass and the examples are keyed by."""
    return scan_settings(__version__, loaded.spec, loaded.weights_sha256, image_size,
                         loaded.preprocess.description, dataset, config.example_count)


def scan_dataset(config: BuildConfig, loaded: LoadedModel, dataset: Dataset, chosen: list,
                 store: ResultStore, image_size: int, device: torch.device, executor: Executor,
                 progress: bool) -> tuple[dict, dict, list[str]]:
    """The dataset pass over every chosen layer. Returns (layer -> LayerScan, layer ->
    receptive field, report lines)."""
    common = _scan_common(config, loaded, dataset, image_size)
    report = run_scan(executor, dataset, [ScanLayer.of(info) for info, _ in chosen],
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
    if report.cached:
        notes.append(f"dataset: pass cached for {len(report.cached)} layer(s)")
    scans, fields = {}, {}
    for info, _ in chosen:
        scans[info.name] = load_scan(store.site_dir, info.name,
                                     scan_key(common, ScanLayer.of(info)))
        fields[info.name] = stored_field(scans[info.name], lambda name=info.name: receptive_field(
            loaded.module, loaded.preprocess, name, image_size, device))
    return scans, fields, notes


def cut_examples(ready: Prepared, scans: dict, fields: dict, pairs: list,
                 progress: bool) -> list[str]:
    """Each unit's dataset examples, as many and as large as the site budget allows
    (the build's own where none is set); returns report lines."""
    config, loaded, store = ready.config, ready.loaded, ready.store
    choice = ExampleChoice(config.example_count, crop_format(store))
    notes = []
    if config.site_budget is not None:
        optimized = measure_site(store.site_dir).bytes_by_kind["optimized images"]
        layers = [(info.name, tuple(info.shape)) for info, _ in ready.chosen]
        fitted = fit(parse_size(config.site_budget, "site_budget"), choice.count, choice.crops,
                     SitePrice(ready, optimized,
                               scan_concentrations(layers, scans, config.example_count),
                               stored_map_side(store, pairs)))
        choice = fitted.choice
        notes.append(fitted.line())
    common = _scan_common(config, loaded, ready.scanned, ready.image_size)
    written = 0
    for info, units in ready.chosen:
        written += store_examples(store, ready.scanned, scans[info.name], fields[info.name],
                                  info.shape, units, common, choice.count, progress,
                                  choice.crops)
    total = sum(len(units) for _, units in ready.chosen)
    notes.append(f"dataset examples: {written} of {total} units written "
                 f"({total - written} unchanged)")
    return notes


def dataset_info(dataset: Dataset, scans: dict) -> dict:
    """The manifest's `dataset` entry."""
    count = max((scan.count for scan in scans.values()), default=0)
    return {"spec": dataset.spec, "description": dataset.describe(), "images": count,
            "skipped": len(dataset.skipped),
            "skipped_sources": [source for source, _ in dataset.skipped[:5]],
            "label_keys": list(dataset.label_keys), "fingerprint": dataset.fingerprint}


@contextmanager
def _phase(timings: dict[str, float], name: str) -> Iterator[None]:
    """Adds the seconds the block takes to `timings[name]`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = time.perf_counter() - started


def build_atlas(config: BuildConfig, progress: bool = True) -> BuildReport:
    """Builds (or resumes) the atlas that `config` describes and publishes its site."""
    started = time.perf_counter()
    ready = prepare_build(config)
    config, loaded, image_size = ready.config, ready.loaded, ready.image_size
    run, chosen, joint, compared = ready.run, ready.chosen, ready.joint, ready.compared
    scanned, store, engine, executor = ready.scanned, ready.store, ready.engine, ready.executor
    device, site_dir = engine.device, store.site_dir
    notes = [f"executor: {executor.describe()}"] if executor.name != "local" else []
    timings: dict[str, float] = {}
    with executor, BuildLock(site_dir) as lock, StopAfterBatch() as stop:
        executor.start(engine)
        if lock.took_over:
            notes.append(f"took over the lock of a build that is gone (pid "
                         f"{lock.took_over.get('pid')}, started {lock.took_over.get('started')})")
        remove_leftovers(site_dir)
        scans, fields = {}, {}
        with _phase(timings, "dataset"):
            if scanned is not None:
                scans, fields, data_notes = scan_dataset(config, loaded, scanned, chosen, store,
                                                         image_size, device, executor, progress)
                notes += data_notes
        todo = ready.todo()
        with _phase(timings, "memory"):
            if any(todo) or compared:
                with tqdm(total=0, unit="layer", desc="memory", disable=not progress,
                          dynamic_ncols=True) as bar:
                    ready.size_batches(todo if any(todo) else ready.layer_jobs, bar)
                notes.append(memory_note(ready))
        batches = ready.batches(todo)
        with _phase(timings, "optimize"), tqdm(
                total=len(batches) * config.steps, unit="step", desc="optimize",
                disable=not progress, dynamic_ncols=True) as bar:
            run_batches(executor, batches, store, bar, stop, config.steps, config.lr,
                        image_size)
        with _phase(timings, "compare"):
            if compared:
                with tqdm(total=0, unit="step", desc="compare", disable=not progress,
                          dynamic_ncols=True) as bar:
                    notes.append(run_compare(engine, executor, compared, store,
                                             ready.smallest_limit(), bar, stop).note())

        for view, run_view in FROM_DATASET_IMAGES:
            if view in config.views and scans:
                with _phase(timings, view), tqdm(total=0, unit="step", desc=view,
                                                 disable=not progress, dynamic_ncols=True) as bar:
                    notes.append(run_view(ready, scans, executor, bar, stop))

        kernel_layer = first_conv_layer(loaded.module, [info.name for info in run.layers])
        if "kernel" in config.views:
            for info, units in chosen:
                if info.name == kernel_layer:
                    store_kernels(store, loaded.module, info.name, units, ready.common)
        with _phase(timings, "connections"):
            pairs, computed = store_connections(store, loaded.module, loaded.preprocess,
                                                image_size, ready.forward_layers(),
                                                config.connections, ready.common, device,
                                                ready.budget_bytes())
        if computed:
            notes.append(f"connections: {computed} of {len(pairs)} layer pairs computed")
        with _phase(timings, "examples"):  # last: a site budget weighs all the rest
            if scanned is not None:
                notes += cut_examples(ready, scans, fields, pairs, progress)
        record = build_record(config, loaded, run.layers, chosen, joint, image_size,
                              engine.transforms.describe(), kernel_layer, fields)
        record["connections"] = {"top": config.connections, "pairs": pairs}
        record["dataset"] = dataset_info(scanned, scans) if scanned is not None else None
        if compared:
            record["compare"] = {"units": [[plan.layer, plan.unit] for plan in compared]}
            record["settings"].update(compare_units=config.compare_units,
                                      class_weight=config.class_weight,
                                      logits_layer=config.logits_layer)
        record["settings"]["magnitude"] = ready.magnitude_name
        image_format = store.image_format
        record["settings"].update(precision=precision.describe(engine.autocast),
                                  channels_last=engine.channels_last,
                                  images=image_format if image_format == "png"
                                  else f"{image_format} (quality {config.image_quality})")
        store.save_json("build.json", record)
        store.save_json("analysis.json", analyse(loaded, store, chosen, config, device,
                                                 DataEvidence(scanned, scans) if scans else None))
        manifest = build_manifest(store)
        with _phase(timings, "site"):
            publish_site(manifest, site_dir, progress=progress)
        published = measure_site(site_dir)
        notes.append(size_line(published, sum(len(units) for _, units in chosen)))
        notes += [f"warning: {line}" for line in limit_warnings(published.total,
                                                               *published.largest)]
    peak = peak_memory(device)
    if peak is not None:
        notes.append(f"peak memory: {format_size(peak)} ("
                     + ("the GPU's most allocated" if device.type == "cuda"
                        else "the process's resident high-water mark") + ")")
    return BuildReport(
        site_dir, sum(len(units) for _, units in chosen),
        sum(len(jobs) for jobs in ready.layer_jobs), sum(len(jobs) for jobs in todo),
        sum(image_count(jobs) for jobs in todo),
        time.perf_counter() - started, count_failures(manifest), notes, timings)


def memory_note(ready: Prepared) -> str:
    """The budget and each layer's batch size, as the build reports them."""
    budget = ready.budget
    return (f"memory: budget {format_size(budget.bytes) if budget.bytes else 'none'} "
            f"({budget.description}); batches: "
            + "; ".join(sized.line() for sized in ready.memory.values()))


def _field_size(field: ReceptiveField | None) -> list[int] | None:
    return None if field is None or field.whole_image else list(field.size)


def count_failures(manifest: dict) -> int:
    return sum(layer["failed_views"] for layer in manifest["layers"])


def build_record(config: BuildConfig, loaded: LoadedModel, table: list[LayerInfo],
                 chosen: list, joint: list, image_size: int, transforms: str,
                 kernel_layer: str | None, fields: dict) -> dict:
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
                    "pre_activation": ({"floor": info.floor.value, "source": info.floor.source}
                                       if info.floor is not None else None),
                    "kernel": info.name == kernel_layer,
                    "receptive_field": _field_size(fields.get(info.name))}
                   for info, units in chosen],
        "joint": [expression for expression, _ in joint],
    }
