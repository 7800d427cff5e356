"""`atlas bench --dataset`: the dataset pass against a bare forward pass over
the same images, in one run.

Three timings over the same dataset, batches and device:
- decode: loading the images only (the part both passes share);
- bare: decode, preprocess and a forward pass stopped after the deepest layer
  by one hook that records nothing (the least any pass must do);
- pass: atlas's dataset pass (hooks on every layer, per-unit extremes,
  the on-disk value matrices), exactly as a build runs it.
Prints images/s, the ratio pass / bare, the peak memory of each, and a
projection for 50,000 images.
"""

from __future__ import annotations

import io
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from atlas.datasets import Dataset, open_dataset
from atlas.models.registry import LoadedModel
from atlas.optvis.hooks import capture, frozen
from atlas.pipeline.dataset.scan import ScanLayer, local_scanner, run_scan, scan_settings
from atlas.pipeline.optimize.memory import peak_memory, reset_peak

PHOTOS = "photos"  # the built-in bench dataset: crops of scikit-learn's sample photographs
PROJECTED_IMAGES = 50_000
RATIO_TARGET = 0.8
EXAMPLES = 10  # per column, the build's default
INCEPTION_MIXED = ("mixed3a,mixed3b,mixed4a,mixed4b,mixed4c,mixed4d,mixed4e,mixed5a,mixed5b")


def sample_photos(folder: Path, count: int, seed: int = 0) -> Path:
    """`count` JPEG crops (256 px) of the two photographs scikit-learn ships,
    at random places and scales: real photos, offline."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    generator = np.random.default_rng(seed)
    for i in range(count):
        photo = photos[i % len(photos)]
        side = int(generator.integers(160, min(photo.shape[:2])))
        top = int(generator.integers(0, photo.shape[0] - side))
        left = int(generator.integers(0, photo.shape[1] - side))
        crop = Image.fromarray(photo[top:top + side, left:left + side]).resize((256, 256))
        buffer = io.BytesIO()
        crop.save(buffer, format="JPEG", quality=90)
        (folder / f"photo-{i:05d}.jpg").write_bytes(buffer.getvalue())
    return folder


def cpu_name() -> str:
    """The CPU's model name (Linux), so a timing names the machine it ran on."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _peak_mb() -> float | None:
    """The process's resident high-water mark in MiB (Linux), since `reset_peak`."""
    peak = peak_memory(torch.device("cpu"))
    return peak / 2**20 if peak is not None else None


def _timed(run: Callable[[], int]) -> tuple[float, int, float | None]:
    """(seconds, images, peak MB) of one run."""
    reset_peak()
    started = time.perf_counter()
    images = run()
    return time.perf_counter() - started, images, _peak_mb()


def _batches(dataset: Dataset, batch: int):
    for start in range(0, len(dataset), batch):
        yield dataset.load(range(start, min(start + batch, len(dataset))))


def decode_only(dataset: Dataset, batch: int) -> int:
    return sum(len(indices) for _, indices in _batches(dataset, batch))


def bare_forward(loaded: LoadedModel, dataset: Dataset, layers: list[str], batch: int,
                 device: torch.device) -> int:
    """The forward pass stopped after the deepest layer; nothing recorded."""
    deepest = _deepest(loaded, layers, dataset.image_size, device)
    count = 0
    with frozen(loaded.module), capture(loaded.module, [deepest]) as run, torch.no_grad():
        for images, indices in _batches(dataset, batch):
            run(loaded.preprocess(images.to(device)))
            count += len(indices)
    return count


def _deepest(loaded: LoadedModel, layers: list[str], size: int, device: torch.device) -> str:
    order: list[str] = []
    with frozen(loaded.module), capture(loaded.module, layers) as run, torch.no_grad():
        hooks = [module.register_forward_hook(lambda m, i, o, name=name: order.append(name))
                 for name, module in loaded.module.named_modules() if name in layers]
        try:
            run(loaded.preprocess(torch.rand(1, 3, size, size, device=device)))
        finally:
            for hook in hooks:
                hook.remove()
    return order[-1]


def run_dataset_bench(loaded: LoadedModel, spec: str | None, layers: list[str],
                      image_size: int, images: int, batch: int, device: torch.device,
                      echo=print) -> dict[str, float]:
    loaded.module.to(device).eval()
    loaded.preprocess.to(device)
    with tempfile.TemporaryDirectory(prefix="atlas-bench-") as tmp:
        folder = Path(tmp)
        if spec in (None, PHOTOS):
            (folder / "photos").mkdir()
            spec = str(sample_photos(folder / "photos", images))
        dataset = open_dataset(spec, image_size, limit=images)
        echo(f"atlas bench --dataset: {loaded.spec}, layers {','.join(layers)}, "
             f"{len(dataset)} images at {image_size} px, batch {batch}, device {device}")
        echo(f"machine: {platform.machine()} ({cpu_name()}), "
             f"{torch.get_num_threads()} torch threads, torch {torch.__version__}")
        decode_only(dataset, batch)  # warm the file cache and the decoder
        shapes = _channels(loaded, layers, image_size, device)
        _warm_up(loaded, dataset, batch, device)
        common = scan_settings(loaded, dataset, image_size, EXAMPLES)
        rows = {}
        rows["decode"] = _timed(lambda: decode_only(dataset, batch))
        rows["bare"] = _timed(lambda: bare_forward(loaded, dataset, layers, batch, device))
        executor = local_scanner(loaded.module, loaded.preprocess, device)
        rows["pass"] = _timed(lambda: run_scan(
            executor, dataset, [ScanLayer(n, shapes[n], n) for n in layers], common,
            folder / "site",
            EXAMPLES, batch, progress=False).images)
    return _report(rows, echo)


def _warm_up(loaded: LoadedModel, dataset: Dataset, batch: int, device: torch.device) -> None:
    """One full-size batch through the model first: one-time kernel set-up costs
    would otherwise land on whichever method runs first."""
    images, _ = dataset.load(range(min(batch, len(dataset))))
    with frozen(loaded.module), torch.no_grad():
        loaded.module(loaded.preprocess(images.to(device)))


def _channels(loaded: LoadedModel, layers: list[str], size: int,
              device: torch.device) -> dict[str, int]:
    with frozen(loaded.module), capture(loaded.module, layers) as run, torch.no_grad():
        acts = run(loaded.preprocess(torch.rand(1, 3, size, size, device=device)))
    return {name: int(acts[name].shape[1]) for name in layers}


def _report(rows: dict[str, tuple[float, int, float | None]], echo) -> dict[str, float]:
    rates = {name: count / seconds for name, (seconds, count, _) in rows.items()}
    labels = {"decode": "decode only (shared by both)",
              "bare": "bare forward, stopped at the deepest layer",
              "pass": "atlas dataset pass"}
    echo("")
    echo(f"{'method':<44} {'images/s':>9} {'seconds':>8} {'peak MB':>8}")
    for name, (seconds, _count, peak) in rows.items():
        echo(f"{labels[name]:<44} {rates[name]:>9.1f} {seconds:>8.2f} "
             f"{peak if peak is not None else float('nan'):>8.0f}")
    ratio = rates["pass"] / rates["bare"]
    echo("")
    echo(f"pass / bare forward throughput: {ratio:.2f} (target ≥ {RATIO_TARGET}): "
         f"{'met' if ratio >= RATIO_TARGET else 'NOT met'}")
    hours = PROJECTED_IMAGES / rates["pass"] / 3600
    echo(f"projection: {PROJECTED_IMAGES:,} images at this size and these layers: "
         f"{hours * 60:.0f} min ({hours:.2f} h) on this machine")
    return {"ratio": ratio, **{f"{name}_images_per_s": rate for name, rate in rates.items()}}
