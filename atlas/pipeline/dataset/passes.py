"""The dataset pass of a build and the examples cut from it: the two ends of
what a build does with its dataset (the views optimized from dataset images run
between them)."""

from __future__ import annotations

from typing import cast

import torch

from atlas.config import BuildConfig
from atlas.datasets import Dataset
from atlas.datasets.base import plural
from atlas.models.layers import Chosen
from atlas.models.receptive_field import receptive_field
from atlas.models.registry import LoadedModel
from atlas.pipeline.cost.example_bytes import scan_concentrations
from atlas.pipeline.cost.site_budget import ExampleChoice, fit
from atlas.pipeline.cost.site_price import SitePrice
from atlas.pipeline.cost.site_size import measure_site
from atlas.pipeline.dataset.examples import crop_format, store_examples
from atlas.pipeline.dataset.scan import (
    LayerScan,
    ScanLayer,
    load_scan,
    run_scan,
    scan_key,
    scan_settings,
    stored_field,
)
from atlas.pipeline.execution.tasks import Executor
from atlas.pipeline.prepare import Prepared
from atlas.pipeline.weights.connections import stored_map_side
from atlas.sizes import parse_size
from atlas.store import ResultStore


def _scan_common(config: BuildConfig, loaded: LoadedModel, dataset: Dataset,
                 image_size: int) -> dict:
    """The settings the dataset pass and the examples are keyed by."""
    return scan_settings(loaded, dataset, image_size, config.example_count)


def scan_dataset(config: BuildConfig, loaded: LoadedModel, dataset: Dataset, chosen: Chosen,
                 store: ResultStore, image_size: int, device: torch.device, executor: Executor,
                 progress: bool) -> tuple[dict, dict, list[str]]:
    """The dataset pass over every chosen layer. Returns (layer -> LayerScan, layer ->
    receptive field, report lines)."""
    common = _scan_common(config, loaded, dataset, image_size)
    report = run_scan(executor, dataset, [ScanLayer.of(info) for info, _ in chosen],
                      common, store.site_dir, config.example_count, config.dataset_batch,
                      progress)
    notes = list(dataset.notes)
    if report.damaged:
        notes.append(f"dataset: the stored pass of {', '.join(report.damaged)} did not load "
                     "(truncated or changed files); scanned again")
    if report.images:
        notes.append(f"dataset: {plural(report.images, 'image')} scanned in "
                     f"{report.seconds:.1f} s "
                     f"({report.images / max(report.seconds, 1e-9):.0f} images/s)")
    if dataset.skipped:
        notes.append(f"dataset: {len(dataset.skipped)} file(s) could not be read and were "
                     f"skipped (first: {dataset.skipped_names()})")
    if report.cached:
        notes.append(f"dataset: pass cached for {len(report.cached)} layer(s)")
    scans, fields = {}, {}
    for info, _ in chosen:
        scans[info.name] = load_scan(store.site_dir, info.name,
                                     scan_key(common, ScanLayer.of(info)), info.channels)
        # The pass above has just stored every chosen layer's scan. The lambda's default
        # binds the layer, which mypy cannot infer a lambda with.
        fields[info.name] = stored_field(
            cast(LayerScan, scans[info.name]),
            lambda name=info.name: receptive_field(  # type: ignore[misc]
                loaded.module, loaded.preprocess, name, image_size, device))
    notes.extend(few_images_note(scans, config.example_count))
    return scans, fields, notes


def few_images_note(scans: dict, k: int) -> list[str]:
    """A line where the data is too small to fill every example column: the top and
    bottom columns take k images each, and the two near-threshold columns k each side
    of the median (extremes.near_threshold), so 2k fill all four."""
    count = max((scan.count for scan in scans.values() if scan is not None), default=0)
    if count >= 2 * k:
        return []
    return [f"dataset: {plural(count, 'image')} scanned, fewer than the {2 * k} that fill "
            f"every example column ({k} a column, example_count); the columns show what "
            "there is"]


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
    assert ready.scanned is not None  # the examples phase runs only with a dataset
    common = _scan_common(config, loaded, ready.scanned, ready.image_size)
    written = 0
    for info, units in ready.chosen:
        written += store_examples(store, ready.scanned, scans[info.name], fields[info.name],
                                  info.shape, units, {**common, **info.key_settings()},
                                  choice.count, progress,
                                  choice.crops)
    total = sum(len(units) for _, units in ready.chosen)
    notes.append(f"dataset examples: {written} of {total} units written "
                 f"({total - written} unchanged)")
    return notes
