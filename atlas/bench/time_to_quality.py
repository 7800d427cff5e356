"""Time to quality: how soon atlas's images are as good as a baseline's.

A baseline (torch-lucent at its best, the seeds' way) runs its S steps; its
final mean activation A, measured on its images, is the bar. atlas's run kept
its images along the way (`methods.atlas_engine`); the first kept images whose
mean activation reaches A give the steps atlas needs and the time its engine
took to get there. Then an `atlas build` of the same channels at that many
steps is timed as a whole process, like the baseline's, and its own images are
measured: if they fall short of A (other seeds), the build runs again with a
quarter more steps, up to BUILD_TRIES times.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from atlas.bench.processes import BuildRun, build_process, weights_file
from atlas.bench.workload import Checkpoint, Result, Workload, mean
from atlas.models.registry import LoadedModel

BUILD_TRIES = 4
GOAL = 4.0  # atlas's whole process reaches torch-lucent-at-its-best's bar this much sooner


@dataclass
class Reach:
    baseline: str  # the METHODS key
    name: str
    bar: float  # A: the baseline's final mean activation over `units`
    units: list[int]
    baseline_seconds: float  # its whole process (for every channel)
    checkpoint: Checkpoint | None  # atlas's first images at or above the bar
    build: BuildRun | None  # the timed `atlas build` that reached it, or the last try

    @property
    def reached(self) -> bool:
        return self.build is not None and mean(self.build.activations, self.units) >= self.bar

    @property
    def ratio(self) -> float | None:
        # reached: the build is there
        return (self.baseline_seconds / cast(BuildRun, self.build).wall if self.reached
                else None)


def first_reaching(trajectory: list[Checkpoint], bar: float,
                   units: list[int]) -> Checkpoint | None:
    return next((point for point in trajectory if mean(point.activations, units) >= bar), None)


def reach(work: Workload, loaded: LoadedModel, key: str, baseline: Result, atlas: Result,
          folder: Path, echo: Callable[[str], None], builds: dict[int, BuildRun]) -> Reach:
    """`builds` (by steps) are the builds timed so far: one per step count."""
    # a baseline (BASELINES): torch-lucent's images, timed as a process of its own
    assert baseline.activations is not None and baseline.process_seconds is not None
    units = list(range(len(baseline.activations)))
    bar = mean(baseline.activations)
    point = first_reaching(atlas.trajectory, bar, units)
    found = Reach(key, baseline.name, bar, units, baseline.process_seconds, point, None)
    if point is None:
        return found
    steps = max(point.step, 1)
    for _ in range(BUILD_TRIES):
        if steps not in builds:
            echo(f"  atlas build, {steps} steps, to reach {key}'s {bar:.3f} …")
            builds[steps] = build_process(work, weights_file(work, loaded, folder), steps,
                                          folder)
        found.build = builds[steps]
        if found.reached:
            break
        steps = math.ceil(steps * 1.25)
    return found


def table(work: Workload, reaches: list[Reach]) -> list[str]:
    rows = [("bar: a baseline's mean activation after its steps", "baseline, whole process",
             "atlas engine: steps, time", "atlas build: steps, whole process, activation",
             "sooner")]
    for found in reaches:
        point, build = found.checkpoint, found.build
        channels = (f"channels 0-{found.units[-1]}" if len(found.units) < work.channels
                    else f"{work.channels} channels")
        rows.append((
            f"{found.baseline}: {found.bar:.3f} ({channels}, {work.steps} steps)",
            f"{found.baseline_seconds:.1f} s",
            f"{point.step}, {point.seconds:.1f} s" if point else f"not within {work.steps}",
            f"{build.steps}, {build.wall:.1f} s, {mean(build.activations, found.units):.3f}"
            if build else "-",
            f"{found.ratio:.2f}x" if found.ratio else "not reached"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]

    def line(row: tuple) -> str:
        return "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                         for i, cell in enumerate(row))

    lines = ["", "time to quality (the baseline's time for all "
             f"{work.channels} channels; the seeds' way's from its first channels, per channel):",
             line(rows[0]), "  ".join("-" * w for w in widths)]
    lines += [line(row) for row in rows[1:]]
    for found in reaches:
        if found.baseline == "lucent":
            met = found.ratio is not None and found.ratio >= GOAL
            lines.append(f"atlas reaches lucent's {work.steps}-step activation "
                         + (f"{found.ratio:.2f}x sooner" if found.ratio else "never")
                         + f", whole process (target ≥ {GOAL:g}x): {'met' if met else 'NOT met'}")
    return lines
