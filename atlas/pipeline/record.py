"""build.json: what a build was made with and of, so `atlas render` can rebuild
the manifest without the model."""

from __future__ import annotations

from typing import cast

from atlas.config import BuildConfig
from atlas.datasets import Dataset
from atlas.manifest_types import Branch, DatasetInfo
from atlas.models.layers import Chosen, LayerInfo
from atlas.models.receptive_field import ReceptiveField
from atlas.models.registry import LoadedModel
from atlas.optvis import precision
from atlas.optvis.param import describe_param
from atlas.pipeline.classes.contributions import record_path
from atlas.pipeline.concepts.fit import concepts_folder
from atlas.pipeline.prepare import Prepared
from atlas.record_types import BuildRecord


def build_record(ready: Prepared, scans: dict, fields: dict, pairs: list) -> BuildRecord:
    """The build's record, from what it prepared and what its phases left."""
    config, loaded, engine, store = ready.config, ready.loaded, ready.engine, ready.store
    record = model_and_layers(config, loaded, ready.run.layers, ready.chosen, ready.joint,
                              ready.image_size, engine.transforms.describe(),
                              ready.kernel_layer(), fields)
    record["connections"] = {"top": config.connections, "pairs": pairs}
    record["dataset"] = (dataset_info(ready.scanned, scans) if ready.scanned is not None
                         else None)
    if ready.compared:
        record["compare"] = {"units": [[plan.layer, plan.unit] for plan in ready.compared]}
        settings = record["settings"]
        settings["compare_units"] = config.compare_units
        settings["class_weight"] = config.class_weight
        settings["logits_layer"] = config.logits_layer
    if ready.concepts:
        record["concepts"] = {plan.layer: concepts_folder(store.site_dir, plan).name
                              for plan in ready.concepts}
    if ready.classes is not None:
        record["classes"] = record_path(store.site_dir, ready.classes).name
    settings = record["settings"]
    settings["magnitude"] = ready.magnitude_name
    settings["precision"] = precision.describe(engine.autocast)
    settings["channels_last"] = engine.channels_last
    image_format = store.image_format
    settings["images"] = (image_format if image_format == "png"
                          else f"{image_format} (quality {config.image_quality})")
    return record


def dataset_info(dataset: Dataset, scans: dict) -> DatasetInfo:
    """The manifest's `dataset` entry."""
    count = max((scan.count for scan in scans.values()), default=0)
    return {"spec": dataset.spec, "description": dataset.describe(), "images": count,
            "skipped": len(dataset.skipped),
            "skipped_sources": [source for source, _ in dataset.skipped[:5]],
            "label_keys": list(dataset.label_keys), "fingerprint": dataset.fingerprint}


def _field_size(field: ReceptiveField | None) -> list[int] | None:
    return None if field is None or field.whole_image else list(field.size)


def model_and_layers(config: BuildConfig, loaded: LoadedModel, table: list[LayerInfo],
                     chosen: Chosen, joint: list, image_size: int, transforms: str,
                     kernel_layer: str | None, fields: dict) -> BuildRecord:
    """The model, the settings and the chosen layers, as the record gives them."""
    assert config.param is not None  # the build's config: with_sized_defaults set it
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
                    "branches": cast(list[Branch], loaded.branches(info.name) or []),
                    "pre_activation": ({"floor": info.floor.value, "source": info.floor.source}
                                       if info.floor is not None else None),
                    "kernel": info.name == kernel_layer,
                    "receptive_field": _field_size(fields.get(info.name))}
                   for info, units in chosen],
        "joint": [expression for expression, _ in joint],
    }
