"""`atlas bench --executor ray`: the same build on the local executor (one
process, N torch threads) and on a local Ray instance (N workers of one thread
each), in one run, phase by phase, as a ratio: what Ray costs on one machine.

The workload is the default model's four layers with many equal batches, so
that two workers share the work evenly; both builds must give the same site.
"""

from __future__ import annotations

import dataclasses
import platform
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from atlas.bench.dataset_pass import cpu_name
from atlas.config import make_config
from atlas.pipeline.build import BuildReport, build_atlas

PHASES = ("dataset", "optimize", "compare")
WORKLOAD: dict[str, Any] = {"views": ["positive", "negative", "diversity", "examples"],
                            "batch_size": 24, "connections": 0}


def _build(config, progress: bool) -> tuple[BuildReport, float]:
    report = build_atlas(config, progress=progress)
    return report, sum(report.timings[phase] for phase in PHASES)


def _same_results(first: Path, second: Path) -> bool:
    """Every stored result of the two builds is the same bytes."""
    ours = {path.relative_to(first): path.read_bytes()
            for path in sorted((first / "results").rglob("*")) if path.is_file()}
    theirs = {path.relative_to(second): path.read_bytes()
              for path in sorted((second / "results").rglob("*")) if path.is_file()}
    return ours == theirs


def run_executor_bench(steps: int, workers: int, repeats: int,
                       echo: Callable[[str], None]) -> dict[str, list[float]]:
    threads = torch.get_num_threads()
    echo(f"atlas bench --executor ray: the default model, 4 layers, views "
         f"{', '.join(WORKLOAD['views'])}, {steps} steps, batches of {WORKLOAD['batch_size']} "
         f"images")
    echo(f"machine: {platform.machine()} ({cpu_name()}), torch {torch.__version__}; local: "
         f"1 process, {threads} threads; ray: {workers} workers of 1 thread")
    timings: dict[str, list[float]] = {"local": [], "ray": [], "local build": [],
                                       "ray build": []}
    phases: dict[str, dict[str, list[float]]] = {"local": {}, "ray": {}}
    identical = True
    with tempfile.TemporaryDirectory(prefix="atlas-bench-ray-") as folder:
        for repeat in range(repeats):
            sites = {}
            for executor in ("local", "ray"):
                site = Path(folder) / f"{executor}-{repeat}"
                config = make_config({}, {**WORKLOAD, "steps": steps, "out": str(site),
                                          "executor": executor})
                if executor == "ray":
                    config = dataclasses.replace(config, ray_workers=workers, ray_threads=1)
                report, compute = _build(config, progress=False)
                timings[executor].append(compute)
                timings[f"{executor} build"].append(report.seconds)
                for phase in PHASES:
                    phases[executor].setdefault(phase, []).append(report.timings[phase])
                sites[executor] = site
            identical &= _same_results(sites["local"], sites["ray"])
    median = statistics.median
    echo("")
    echo(f"{'phase':<26} {'local':>9} {'ray':>9} {'ray/local':>10}")
    for phase in PHASES:
        local, ray = median(phases["local"][phase]), median(phases["ray"][phase])
        if max(local, ray) < 0.05:
            continue  # not part of this workload
        echo(f"{phase:<26} {local:>8.1f}s {ray:>8.1f}s {ray / max(local, 1e-9):>9.2f}x")
    local, ray = median(timings["local"]), median(timings["ray"])
    echo(f"{'compute (the three)':<26} {local:>8.1f}s {ray:>8.1f}s {ray / local:>9.2f}x"
         f"   <- Ray's overhead: {ray / local - 1:+.0%} (bar: at most +10%)")
    local, ray = median(timings["local build"]), median(timings["ray build"])
    echo(f"{'whole build (Ray start-up)':<26} {local:>8.1f}s {ray:>8.1f}s {ray / local:>9.2f}x")
    echo(f"results identical: {'yes' if identical else 'NO'} ({repeats} run"
         f"{'s' if repeats > 1 else ''} each, medians)")
    return timings
