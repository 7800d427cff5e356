"""The concepts phase: activation vectors sampled over the dataset, a dictionary
fitted per planned layer, measured, and stored under `results/_concepts/`.

Vectors: for each image, `PER_IMAGE` positions of the layer's output (a linear layer:
its one vector) drawn by a generator seeded with (the build's seed, the image's row),
so the sample is the same whichever executor ran which chunk; images are read in the
dataset's order until `MOST_VECTORS`. The layer's output is what the dictionary
reads, as CRAFT reads it: for a layer clamped by a ReLU, the values after the clamp.

Measures, on the sample: R² (the share of the vectors' variance the dictionary
reconstructs), the dead concepts (never active) and stability (a second fit with the
next seed, matched to the first by the Hungarian algorithm on cosine similarity: the
mean matched cosine). A layer's folder is written under a temporary name and renamed
when complete; a layer whose folder holds its key is not fitted again.
"""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from atlas.datasets import Dataset
from atlas.dictionaries import dead_concepts, encode, explained_variance, fit_dictionary
from atlas.dictionaries import stability as dictionary_stability
from atlas.dictionaries.dictionary import Dictionary
from atlas.dictionaries.fit import reconstruct
from atlas.errors import AtlasError
from atlas.fsio import read_json, write_json_atomic
from atlas.models.concept_reads import attach
from atlas.optvis.hooks import capture, frozen
from atlas.pipeline.concepts.plan import MOST_VECTORS, PER_IMAGE, ConceptPlan, sampled_rows
from atlas.pipeline.execution.gather import gather
from atlas.pipeline.execution.tasks import Executor, Task
from atlas.slugs import slugify
from atlas.store import RESULTS

FOLDER = "_concepts"
PARTIAL = ".partial-"


def concepts_folder(site_dir: Path, plan: ConceptPlan) -> Path:
    return Path(site_dir) / RESULTS / FOLDER / f"{slugify(plan.layer)}-{plan.key[:16]}"


def load_concepts_record(folder: Path) -> dict[str, Any] | None:
    """The record in a dictionary's folder, None where there is none."""
    return read_json(folder / "concepts.json")


def load_concepts(site_dir: Path, plan: ConceptPlan) -> dict[str, Any] | None:
    """The stored record of `plan`'s dictionary, or None where it is not fitted yet (or
    its arrays no longer load whole: then it is fitted again)."""
    folder = concepts_folder(site_dir, plan)
    record = load_concepts_record(folder)
    if record is None or record.get("key") != plan.key:
        return None
    try:
        stored_directions(folder)
    except AtlasError:
        return None
    return record


def stored_directions(folder: Path) -> np.ndarray:
    """The directions (count, channels) of the dictionary stored in `folder`; an
    AtlasError where its file does not load (truncated, changed by hand)."""
    try:
        with np.load(folder / "dictionary.npz") as arrays:
            directions = np.asarray(arrays["directions"], dtype=np.float32)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise AtlasError(f"the dictionary stored in {folder} does not load ({error}); run "
                         "`atlas build` with the same settings to fit it again") from None
    if directions.ndim != 2 or not np.isfinite(directions).all():
        raise AtlasError(f"the dictionary stored in {folder} is not a table of finite "
                         "directions; run `atlas build` with the same settings to fit it again")
    return directions


def load_dictionary(site_dir: Path, plan: ConceptPlan) -> Dictionary:
    """`plan`'s fitted dictionary as stored: its directions and, for an SAE, its encoder."""
    folder = concepts_folder(site_dir, plan)
    record = load_concepts_record(folder) or {}
    with np.load(folder / "dictionary.npz") as arrays:
        encoder = {name.removeprefix("encoder_"): np.asarray(arrays[name])
                   for name in arrays.files if name.startswith("encoder_")}
        return Dictionary(plan.method, np.asarray(arrays["directions"], dtype=np.float32),
                          int(record.get("seed", 0)), record.get("fit", {}), encoder or None)


def attach_dictionaries(model: torch.nn.Module, site_dir: Path,
                        plans: Sequence[ConceptPlan]) -> None:
    """Makes each fitted dictionary of `plans` readable on `model` as its concept layer."""
    for plan in plans:
        attach(model, plan.layer,
               torch.from_numpy(stored_directions(concepts_folder(site_dir, plan))))


def positions(seed: int, row: int, count: int, per_image: int) -> np.ndarray:
    """The positions (flat indices of `count`) sampled of the image at `row`."""
    rng = np.random.default_rng([seed, row])
    return np.sort(rng.choice(count, size=min(per_image, count), replace=False))


def sample_chunk(engine: Any, layers: list[str], images: torch.Tensor, rows: list[int],
                 seed: int, per_image: int, on_progress: Callable[[int], None]
                 ) -> dict[str, np.ndarray]:
    """An executor task: per layer, the sampled activation vectors of a chunk of images
    (vectors, channels) float32, in the order of `rows`."""
    images = images.to(engine.device)
    with frozen(engine.model), capture(engine.model, layers) as run, torch.no_grad():
        acts = run(engine.preprocess(images))
    sampled = {}
    for layer in layers:
        values = acts[layer].float()
        if values.dim() == 4:
            n, channels, height, width = values.shape
            flat = values.permute(0, 2, 3, 1).reshape(n, height * width, channels).cpu()
            sampled[layer] = np.concatenate([
                flat[i, torch.from_numpy(positions(seed, row, height * width, per_image))]
                .numpy() for i, row in enumerate(rows)])
        else:
            sampled[layer] = values.reshape(len(rows), -1).cpu().numpy()
    on_progress(len(images))
    return sampled


def sample_vectors(executor: Executor, dataset: Dataset, layers: Sequence[str], seed: int,
                   batch_size: int, bar: Any) -> dict[str, np.ndarray]:
    """Each layer's sampled vectors over the dataset, up to MOST_VECTORS."""
    rows = sampled_rows(len(dataset))

    def tasks():
        for start in range(0, rows, batch_size):
            chunk = range(start, min(start + batch_size, rows))
            images, indices = dataset.load(chunk)
            if indices:
                yield Task(sample_chunk, (list(layers), images, list(indices), seed,
                                          PER_IMAGE), len(indices))

    found = gather(executor, tasks(), bar, "sampling the concepts' activations",
                   "the concepts")
    return {layer: np.concatenate([chunk[layer] for chunk in found])[:MOST_VECTORS]
            for layer in layers}


def fit_and_store(site_dir: Path, plan: ConceptPlan, vectors: np.ndarray, seed: int
                  ) -> dict[str, Any]:
    """Fits `plan`'s dictionary (and the second one stability compares it with), measures
    it and writes its folder; returns its record."""
    fitted = fit_dictionary(plan.method, vectors, plan.count, seed)
    codes = encode(fitted, vectors)
    second = fit_dictionary(plan.method, vectors, plan.count, seed + 1)
    record = {
        "key": plan.key, "layer": plan.layer, "method": plan.method, "count": plan.count,
        "seed": seed, "fit": fitted.settings, "vectors": int(len(vectors)),
        "per_image": PER_IMAGE,
        "r2": round(explained_variance(vectors, reconstruct(fitted, codes)), 4),
        "dead": dead_concepts(codes),
        "stability": round(dictionary_stability(fitted.directions, second.directions), 4),
    }
    final = concepts_folder(site_dir, plan)
    partial = final.with_name(PARTIAL + final.name)
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    arrays: dict[str, Any] = {"directions": fitted.directions}
    if fitted.encoder is not None:
        arrays.update({f"encoder_{name}": value for name, value in fitted.encoder.items()})
    np.savez(partial / "dictionary.npz", **arrays)
    write_json_atomic(partial / "concepts.json", record)
    for stale in final.parent.iterdir():  # this layer's older dictionaries
        if stale.name.rpartition("-")[0] == final.name.rpartition("-")[0] and stale != partial:
            shutil.rmtree(stale, ignore_errors=True)
    os.replace(partial, final)
    return record
