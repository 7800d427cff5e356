"""How long the site takes to render for a large atlas, and in how much memory: a
synthetic manifest of many units (HTML only; the images it names need not exist),
with what a full build gives each unit: every optimized view, dataset examples
(four columns of 10, histogram, statistics) and the spectrum, labels, scores,
families, connections (12 each way, 5x5 maps), and the search index. It is
written as a build writes it (an index and a file of units per layer) and
rendered from those files, a layer at a time."""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from atlas.synthetic_atlas import write_synthetic


@dataclass
class RenderRun:
    pages: int
    seconds: float
    peak_bytes: int | None  # the process's resident high-water mark during the render
    largest_file: int  # bytes: the largest page or manifest file


def time_render(layers: int = 10, units_per_layer: int = 1000,
                workers: int | None = None) -> RenderRun:
    """Renders the synthetic atlas once from its sharded files, with `workers`
    processes (None: as `atlas render` chooses)."""
    from atlas.pipeline.optimize.memory import peak_memory, reset_peak
    from atlas.site import render_site

    with tempfile.TemporaryDirectory() as folder:
        index = write_synthetic(layers, units_per_layer, Path(folder))
        gc.collect()
        reset_peak()
        started = time.perf_counter()
        pages = render_site(index, Path(folder), progress=False, workers=workers)
        seconds = time.perf_counter() - started
        peak = peak_memory(torch_cpu())
        largest = max(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file())
        return RenderRun(len(pages), seconds, peak, largest)


def torch_cpu():
    import torch

    return torch.device("cpu")


def report_lines(sizes: list[int]) -> Iterator[str]:
    """One run per atlas size, as rows: time, pages/s, seconds per 1,000 units (flat when
    rendering grows linearly), the render's peak memory and its largest file."""
    from atlas.site.parallel import default_workers
    from atlas.sizes import format_size

    yield ("render: synthetic atlases (layers of at most 1,000 units; every view, dataset "
           "examples and spectrum, connections, families), sharded as a build writes them")
    yield (f"{'units':>8} {'pages':>8} {'processes':>9} {'seconds':>8} {'pages/s':>8} "
           f"{'s per 1k units':>14} {'peak memory':>12} {'largest file':>12}")
    for units in sizes:
        layers = max(1, -(-units // 1000))
        run = time_render(layers, units // layers)
        peak = format_size(run.peak_bytes) if run.peak_bytes else "-"
        yield (f"{units:>8,} {run.pages:>8,} {default_workers(run.pages):>9} "
               f"{run.seconds:>8.1f} {run.pages / run.seconds:>8.0f} "
               f"{run.seconds / units * 1000:>14.2f} {peak:>12} "
               f"{format_size(run.largest_file):>12}")
