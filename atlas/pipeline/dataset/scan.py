"""The dataset pass: one streaming forward pass over the data for every
chosen layer at once, keeping per unit its top and bottom images (with the
position of the extreme) and, per layer, the per-image value matrices the
near-threshold examples and the analyses read.

Batched, no gradients, the forward stopped after the deepest chosen layer by
one set of scoped hooks. Memory is bounded by the batch and the per-unit
buffers: the (images × units) matrices are memory-mapped files on disk.

Each layer's results live in `results/_dataset/<layer slug>-<key>/`, the key
hashing model, weights, dataset fingerprint, image size and preprocessing.
A layer whose folder loads, every array of the shape the others say, is not
scanned again; one that does not (truncated, garbage) is scanned again and the
report says so. The folder is written under a temporary name and renamed into
place when the pass ends, so a pass that is killed leaves no half-written result
behind, only a leftover that the next build deletes. The matrices' disk space is
taken before the pass starts, so a full disk is one line up front rather than a
crash (SIGBUS) when a memory-mapped page cannot be written.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import shutil
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, cast

import numpy as np
import torch
from numpy.lib.format import open_memmap
from torch import nn
from tqdm import tqdm

from atlas.datasets import Dataset
from atlas.errors import AtlasError
from atlas.fsio import raise_if_disk_full, write_json_atomic
from atlas.models.layers import LayerInfo
from atlas.models.receptive_field import ReceptiveField
from atlas.models.registry import LoadedModel
from atlas.optvis.hooks import capture, frozen
from atlas.pipeline.dataset.extremes import (
    Extremes,
    ExtremesResult,
    RunningExtremes,
    spatial_extremes,
)
from atlas.pipeline.execution.local import LocalExecutor
from atlas.pipeline.execution.tasks import Executor, Task
from atlas.slugs import slugify
from atlas.store import RESULTS, settings_key
from atlas.version import __version__

DATASET_DIR = "_dataset"
PARTIAL = ".partial-"  # prefix of a layer folder still being written
# Each layer's (images x units) matrices, by file: what a row of it holds.
MATRICES = {"peaks.npy": np.float32, "peak_positions.npy": np.int32, "means.npy": np.float16}
ROW_BYTES = sum(np.dtype(dtype).itemsize for dtype in MATRICES.values())  # per unit
# What reading a damaged pass can raise; none of it runs code (no pickles are allowed).
DAMAGED = (OSError, ValueError, KeyError, TypeError, AttributeError, EOFError,
           zipfile.BadZipFile)


@dataclass(frozen=True)
class LayerScan:
    """One layer's pass results, read back from its folder."""

    layer: str
    folder: Path
    key: str
    count: int  # images scanned (rows of the matrices)
    indices: np.ndarray  # (count,) dataset index of each row
    top: dict[str, np.ndarray]  # values/images/positions, each (C, k); images are rows
    bottom: dict[str, np.ndarray]
    value_max: np.ndarray  # (C,)
    mean_max: np.ndarray  # (C,)

    def peaks(self) -> np.ndarray:
        """(count, C) float32: each image's value, the spatial maximum (memory-mapped)."""
        return np.load(self.folder / "peaks.npy", mmap_mode="r")[: self.count]

    def peak_positions(self) -> np.ndarray:
        """(count, C) int32: flat position of that maximum, -1 for a linear layer."""
        return np.load(self.folder / "peak_positions.npy", mmap_mode="r")[: self.count]

    def means(self) -> np.ndarray:
        """(count, C) float16: each image's spatial-mean activation (for the analyses)."""
        return np.load(self.folder / "means.npy", mmap_mode="r")[: self.count]


def stored_field(scan: LayerScan, measure: Callable[[], ReceptiveField]) -> ReceptiveField:
    """The layer's receptive field, measured once and kept beside its pass
    results (it depends only on the model and the image size, which the pass
    key covers): a rebuild does not pay the backward passes again."""
    path = scan.folder / "receptive_field.json"
    try:
        return _checked_field(json.loads(path.read_text()))
    except DAMAGED:
        field = measure()
        write_json_atomic(path, dataclasses.asdict(field))
        return field


def _checked_field(stored: dict[str, Any]) -> ReceptiveField:
    """A stored receptive field, its lists as tuples; ValueError where a value is not
    what a measurement gives."""
    field = ReceptiveField(**cast("dict[str, Any]",
                                  {key: tuple(value) if isinstance(value, list) else value
                                   for key, value in stored.items()}))
    numbers = [*field.size, *field.stride, *field.offset, field.image_size]
    if (len(numbers) != 7 or not all(isinstance(n, (int, float)) and math.isfinite(n)
                                     for n in numbers)
            or min(*field.size, field.image_size) < 1 or not isinstance(field.whole_image, bool)):
        raise ValueError("not a receptive field")
    return field


class ScanLayer(NamedTuple):
    """One layer the pass scans: its name, its channels and the name a capture reads
    its values under (`LayerInfo.read`: the pre-activation of a clamped layer)."""

    name: str
    channels: int
    read: str
    dictionary: str | None = None  # a concept layer's (LayerInfo.dictionary)

    @classmethod
    def of(cls, info: LayerInfo) -> ScanLayer:
        return cls(info.name, info.channels, info.read, info.dictionary)


def scan_key(common: dict[str, Any], layer: ScanLayer) -> str:
    """A clamped layer's values are its pre-activation's, which its key says; other
    layers' keys are as they always were."""
    pre = {"pre_activation": True} if layer.read != layer.name else {}
    dictionary = {"dictionary": layer.dictionary} if layer.dictionary else {}
    return settings_key({**common, "layer": layer.name, "view": "scan", **pre, **dictionary})


def data_settings(loaded: LoadedModel, dataset: Dataset, image_size: int) -> dict[str, Any]:
    """What any result read from the dataset's activations depends on: the model and its
    weights, the image size, the preprocessing and the dataset's selection."""
    return {"atlas": __version__, "model": loaded.spec, "weights_sha256": loaded.weights_sha256,
            "image_size": image_size, "preprocess": loaded.preprocess.description,
            "dataset": dataset.fingerprint}


def scan_settings(loaded: LoadedModel, dataset: Dataset, image_size: int,
                  example_count: int) -> dict[str, Any]:
    """What shapes a layer's pass results: its cache key without the layer
    (the pass keeps the top and bottom `example_count` images of every unit)."""
    return {**data_settings(loaded, dataset, image_size), "example_count": example_count}


def _root(site_dir: Path) -> Path:
    return Path(site_dir) / RESULTS / DATASET_DIR


def _folder(site_dir: Path, layer: str, key: str) -> Path:
    return _root(site_dir) / f"{slugify(layer)}-{key}"


def remove_partial(site_dir: Path) -> None:
    """Deletes layer folders a killed pass left half-written."""
    root = _root(site_dir)
    if root.is_dir():
        for entry in root.iterdir():
            if entry.name.startswith(PARTIAL):
                shutil.rmtree(entry, ignore_errors=True)


def load_scan(site_dir: Path, layer: str, key: str,
              channels: int | None = None) -> LayerScan | None:
    """The layer's stored pass, or None where there is none or it does not load whole
    (`channels`, where given, is what the layer has)."""
    try:
        return _read_scan(_folder(site_dir, layer, key), layer, key, channels)
    except DAMAGED:
        return None


def is_stored(site_dir: Path, layer: str, key: str) -> bool:
    """Whether the layer's pass has a folder (loaded or not)."""
    return _folder(site_dir, layer, key).is_dir()


def _read_scan(folder: Path, layer: str, key: str, channels: int | None) -> LayerScan:
    """Raises one of DAMAGED where a file is missing, unreadable or of the wrong shape."""
    meta = json.loads((folder / "scan.json").read_text())
    if meta["key"] != key:
        raise ValueError("the pass of another key")
    count = int(meta["count"])
    with np.load(folder / "extremes.npz") as arrays:
        stored = {name: arrays[name] for name in arrays.files}
    indices = np.load(folder / "indices.npy")
    units = stored["value_max"].shape[0] if channels is None else channels
    top = {part: stored[f"top_{part}"] for part in ("values", "images", "positions")}
    bottom = {part: stored[f"bottom_{part}"] for part in ("values", "images", "positions")}
    kept = top["values"].shape
    same = (count >= 1 and indices.shape == (count,) and kept[0] == units
            and stored["value_max"].shape == stored["mean_max"].shape == (units,)
            and all(array.shape == kept for array in (*top.values(), *bottom.values()))
            and all(0 <= rows.min(initial=0) and rows.max(initial=0) < count
                    for rows in (top["images"], bottom["images"])))
    for name, dtype in MATRICES.items():
        matrix = np.load(folder / name, mmap_mode="r")
        same = same and (matrix.dtype == dtype and matrix.ndim == 2
                         and matrix.shape[0] >= count and matrix.shape[1] == units)
    if not same:
        raise ValueError("arrays of the wrong shape")
    return LayerScan(layer, folder, key, count, indices, top, bottom,
                     stored["value_max"], stored["mean_max"])


@dataclass
class _Writer:
    """One layer's matrices and running extremes while the pass runs."""

    layer: str
    partial: Path
    final: Path
    key: str
    running: RunningExtremes
    peaks: np.memmap
    positions: np.memmap
    means: np.memmap

    @classmethod
    def open(cls, site_dir: Path, layer: str, key: str, rows: int, channels: int,
             k: int) -> _Writer:
        final = _folder(site_dir, layer, key)
        partial = final.with_name(f"{PARTIAL}{final.name}")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        shape = (max(rows, 1), channels)
        try:
            matrices = [_allocated(partial / name, dtype, shape)
                        for name, dtype in MATRICES.items()]
        except OSError as error:
            shutil.rmtree(partial, ignore_errors=True)
            raise_if_disk_full(error, partial.parent, shape[0] * shape[1] * ROW_BYTES)
            raise
        return cls(layer, partial, final, key, RunningExtremes(channels, k), *matrices)

    def add(self, extremes: Extremes, rows: torch.Tensor) -> None:
        """One chunk's extremes; chunks may come in any order (the running
        top and bottom images merge exactly whatever the order)."""
        self.running.update(extremes, rows)
        start, stop = int(rows[0]), int(rows[-1]) + 1  # rows are consecutive
        self.peaks[start:stop] = extremes.max_values.cpu().numpy()
        self.positions[start:stop] = extremes.max_positions.cpu().numpy()
        self.means[start:stop] = extremes.means.cpu().numpy()

    def close(self, indices: np.ndarray) -> None:
        for matrix in (self.peaks, self.positions, self.means):
            matrix.flush()
        result: ExtremesResult = self.running.result()
        np.save(self.partial / "indices.npy", indices)
        np.savez(self.partial / "extremes.npz",
                 top_values=result.top_values.numpy(), top_images=result.top_images.numpy(),
                 top_positions=result.top_positions.numpy(),
                 bottom_values=result.bottom_values.numpy(),
                 bottom_images=result.bottom_images.numpy(),
                 bottom_positions=result.bottom_positions.numpy(),
                 value_max=result.value_max.numpy(), mean_max=result.mean_max.numpy())
        # No timing in it: the same data gives the same bytes, on any executor.
        write_json_atomic(self.partial / "scan.json",
                          {"key": self.key, "layer": self.layer, "count": result.count})
        del self.peaks, self.positions, self.means  # release the memory maps
        slug = slugify(self.layer)
        for stale in self.final.parent.iterdir():  # older keys of this layer only
            name, _, key = stale.name.rpartition("-")
            if name == slug and len(key) == len(self.key):
                shutil.rmtree(stale, ignore_errors=True)
        os.replace(self.partial, self.final)


def _allocated(path: Path, dtype: Any, shape: tuple[int, int]) -> np.memmap:
    """A new memory-mapped matrix whose disk blocks are taken now: written through a
    map, a sparse file would crash the process (SIGBUS) on a full disk."""
    matrix = open_memmap(path, "w+", dtype, shape)
    allocate = getattr(os, "posix_fallocate", None)  # not on macOS
    if allocate is not None:
        fd = os.open(path, os.O_RDWR)
        try:
            allocate(fd, 0, os.fstat(fd).st_size)
        except OSError as error:
            if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise  # a file system that cannot allocate ahead is written as before
        finally:
            os.close(fd)
    return matrix


@dataclass
class ScanReport:
    images: int  # images scanned in this build (0 when every layer was cached)
    seconds: float
    cached: list[str]  # layers whose pass results were already stored
    damaged: list[str] = dataclasses.field(default_factory=list)  # stored, but scanned again


@dataclass
class ScanModel:
    """What the dataset pass reads of a build's engine: its tasks take either."""

    model: nn.Module
    preprocess: nn.Module
    device: torch.device
    channels_last: bool = False


def local_scanner(model: nn.Module, preprocess: nn.Module, device: torch.device) -> LocalExecutor:
    """An executor for a dataset pass in this process, outside a build."""
    executor = LocalExecutor(device)
    executor.start(ScanModel(model, preprocess, device))
    return executor


def scan_chunk(engine: Any, layers: list[str], images: torch.Tensor,
               on_progress: Callable[[int], None]) -> dict[str, Extremes]:
    """An executor task: one chunk of images through the model, and per capture name
    in `layers` (`ScanLayer.read`) the per-image extremes (all a writer keeps), on the CPU."""
    images = images.to(engine.device)
    if engine.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    with frozen(engine.model), capture(engine.model, layers) as run, torch.no_grad():
        acts = run(engine.preprocess(images))
    result = {}
    for layer in layers:
        extremes = spatial_extremes(acts[layer])
        # (not dataclasses.astuple: it deep-copies every tensor first)
        result[layer] = Extremes(*(getattr(extremes, part.name).cpu()
                                   for part in dataclasses.fields(extremes)))
    on_progress(len(images))
    return result


def run_scan(executor: Executor, dataset: Dataset, layers: Sequence[ScanLayer],
             common: dict[str, Any], site_dir: Path, k: int, batch_size: int,
             progress: bool = True) -> ScanReport:
    """Scans `dataset` for every layer not already stored; one pass for all. The
    driver reads the images in order and the executor runs the chunks (on a
    cluster, spread over its workers); results merge in any order."""
    remove_partial(site_dir)
    keys = {layer.name: scan_key(common, layer) for layer in layers}
    todo = [layer for layer in layers
            if load_scan(site_dir, layer.name, keys[layer.name], layer.channels) is None]
    cached = [layer.name for layer in layers if layer not in todo]
    damaged = [layer.name for layer in todo if is_stored(site_dir, layer.name, keys[layer.name])]
    if not todo:
        return ScanReport(0, 0.0, cached)
    started = time.perf_counter()
    # keyed by the name the pass captures each layer's values under
    writers = {layer.read: _Writer.open(site_dir, layer.name, keys[layer.name], len(dataset),
                                        layer.channels, k)
               for layer in todo}
    loaded: list[int] = []
    chunk_rows: list[torch.Tensor] = []  # rows of each chunk, by task index

    def chunks():
        for start in range(0, len(dataset), batch_size):
            chunk = range(start, min(start + batch_size, len(dataset)))
            images, indices = dataset.load(chunk)
            bar.update(len(chunk) - len(indices))  # unreadable files count as passed
            if not indices:
                continue
            chunk_rows.append(torch.arange(len(loaded), len(loaded) + len(indices)))
            loaded.extend(indices)
            yield Task(scan_chunk, (list(writers), images), len(indices))

    with tqdm(total=len(dataset), unit="img", desc="dataset", disable=not progress,
              dynamic_ncols=True) as bar:
        # A chunk waits on each worker while it runs another, so the driver's
        # reading never leaves a worker idle.
        for index, extremes in executor.map(chunks(), bar, queued=1):
            if isinstance(extremes, BaseException):  # out of memory, or lost with its workers
                raise AtlasError(f"the dataset pass failed on a chunk of {batch_size} images "
                                 f"({extremes}); lower dataset_batch if the device ran out of "
                                 "memory, then run the same command again")
            for read, writer in writers.items():
                writer.add(extremes[read], chunk_rows[index])
    seconds = time.perf_counter() - started
    if not loaded:
        for writer in writers.values():
            shutil.rmtree(writer.partial, ignore_errors=True)
        raise AtlasError(f"none of the {len(dataset)} image files of dataset {dataset.spec!r} "
                         f"could be read (e.g. {dataset.skipped_names()}); check that they "
                         "are images")
    for writer in writers.values():
        writer.close(np.asarray(loaded, dtype=np.int64))
    return ScanReport(len(loaded), seconds, cached, damaged)
