"""`atlas build`: model → plan → optimize in batches → store → analyse → site,
as the named phases of `phases.py`, each timed."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atlas.config import BuildConfig
from atlas.models.registry import LoadedModel
from atlas.pipeline.control.interrupt import StopAfterBatch
from atlas.pipeline.control.lock import BuildLock
from atlas.pipeline.control.ownership import claim_site, mark_site
from atlas.pipeline.control.publish import remove_leftovers
from atlas.pipeline.jobs import image_count
from atlas.pipeline.optimize.memory import peak_memory
from atlas.pipeline.phases import PHASES, BuildRun
from atlas.pipeline.prepare import prepare_build
from atlas.sizes import format_size


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
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase that ran

    def timing_note(self) -> str:
        return ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in self.timings.items())

    def lines(self) -> list[str]:
        """What a build says when it ends: its notes, counts, phases and where to look."""
        return [*self.notes,
                f"{self.units} units, {self.jobs_computed} of {self.jobs_total} views computed "
                f"({self.images_optimized} images optimized, "
                f"{self.jobs_total - self.jobs_computed} unchanged) in {self.seconds:.1f} s",
                f"time by phase: {self.timing_note()}",
                *([f"{self.failed} view(s) failed (NaN or Inf); their units are marked failed "
                   "on the site"] if self.failed else []),
                f"open {self.site_dir / 'index.html'}"]


def build_atlas(config: BuildConfig, progress: bool = True, model: LoadedModel | None = None,
                dataset: Any = None) -> BuildReport:
    """Builds (or resumes) the atlas that `config` describes and publishes its site;
    `model` and `dataset` stand for its spec and dataset where given (`prepare_build`)."""
    started = time.perf_counter()
    ownership = claim_site(Path(config.out), config.force)  # before anything is touched
    ready = prepare_build(config, model, dataset)
    executor, site_dir, device = ready.executor, ready.store.site_dir, ready.engine.device
    timings: dict[str, float] = {}
    mark_site(ownership)
    with executor, BuildLock(site_dir) as lock, StopAfterBatch() as stop:
        build = BuildRun(ready, executor, stop, progress)
        if executor.name != "local":
            build.notes.append(f"executor: {executor.describe()}")
        executor.start(ready.engine)
        if lock.took_over:
            build.notes.append(f"took over the lock of a build that is gone (pid "
                               f"{lock.took_over.get('pid')}, started "
                               f"{lock.took_over.get('started')})")
        remove_leftovers(ownership)
        build.todo = ready.todo()
        for phase in PHASES:
            if phase.applies(build):
                phase_started = time.perf_counter()
                phase.run(build)
                timings[phase.name] = time.perf_counter() - phase_started
    notes = build.notes + ready.store.broken_lines()  # records read as missing
    peak = peak_memory(device)
    if peak is not None:
        notes.append(f"peak memory: {format_size(peak)} ("
                     + ("the GPU's most allocated" if device.type == "cuda"
                        else "the process's resident high-water mark") + ")")
    return BuildReport(
        site_dir, sum(len(units) for _, units in ready.chosen),
        sum(len(jobs) for jobs in ready.layer_jobs), sum(len(jobs) for jobs in build.todo),
        sum(image_count(jobs) for jobs in build.todo),
        time.perf_counter() - started, count_failures(build.manifest), notes, timings)


def count_failures(manifest: Mapping[str, Any]) -> int:
    return sum(layer["failed_views"] for layer in manifest["layers"])
