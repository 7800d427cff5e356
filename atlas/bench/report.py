"""Runs the methods in one process and prints the table, ratios and targets."""

from __future__ import annotations

import platform
import tempfile
from pathlib import Path
from typing import cast

import torch

from atlas.bench.dataset_pass import cpu_name
from atlas.bench.methods import METHODS
from atlas.bench.time_to_quality import reach
from atlas.bench.time_to_quality import table as quality_table
from atlas.bench.workload import Result, Workload, mean

BASELINES = ("lucent", "seeds")  # the time-to-quality bars, in the order printed

# The targets, on a 2-core CPU with the default workload.
TARGETS = {"seeds": 8.0, "lucent": 1.5}
QUALITY_TARGET = 0.95
FLOOR_TARGET = 1.3


def run_bench(work: Workload, methods: list[str], echo=print) -> dict[str, Result]:
    """Runs `methods`, prints the per-step table, then time to quality against
    each baseline that ran (with atlas)."""
    loaded = work.load()
    weights = work.weights or "random weights"
    echo(f"atlas bench: {work.model} ({weights}), layer {work.layer}, {work.channels} channels, "
         f"{work.image_size}x{work.image_size}, {work.steps} steps, device {work.device}, "
         f"{work.repeats} run(s) each"
         + (f", atlas's precision {work.precision}" if work.precision != "auto" else ""))
    echo(f"machine: {platform.machine()} ({cpu_name()}), {torch.get_num_threads()} torch "
         f"threads, torch {torch.__version__}"
         + (f", {torch.cuda.get_device_name()}" if work.device.startswith("cuda") else ""))
    results = {}
    with tempfile.TemporaryDirectory(prefix="atlas-bench-") as scratch:
        folder = Path(scratch)
        for key in methods:
            echo(f"  running {key} …")
            results[key] = METHODS[key](work, loaded, folder)
        builds: dict = {}
        reaches = [reach(work, loaded, key, results[key], results["atlas"], folder, echo, builds)
                   for key in BASELINES if key in results and "atlas" in results]
    for line in table(results) + quality_table(work, reaches):
        echo(line)
    return results


def _ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x"


def _relative(result: Result, best: Result | None) -> str:
    """`result`'s mean activation over lucent best's on the same channels (the
    seeds' way runs only the first ones)."""
    if best is None or result.activations is None:
        return "-"
    units = list(range(len(result.activations)))
    assert best.activations is not None  # lucent best's images were measured
    baseline = mean(best.activations, units)
    # not None: result.activations is not
    return f"{cast(float, result.mean_activation) / baseline:.3f}" if baseline else "-"


def table(results: dict[str, Result]) -> list[str]:
    atlas = results.get("atlas")
    best = results.get("lucent")
    rows = [("method", "ms/channel-step", "÷ atlas", "mean activation", "÷ lucent best")]
    for result in results.values():
        rows.append((
            result.name, f"{result.seconds_per_channel_step * 1000:.2f}",
            _ratio(result.seconds_per_channel_step, atlas.seconds_per_channel_step)
            if atlas else "-",
            f"{result.mean_activation:.3f}" if result.mean_activation is not None else "-",
            _relative(result, best)))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["", "  ".join(rows[0][i].ljust(widths[i]) if i == 0 else rows[0][i].rjust(widths[i])
                           for i in range(5))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows[1:]:
        lines.append("  ".join(row[i].ljust(widths[i]) if i == 0 else row[i].rjust(widths[i])
                               for i in range(5)))
    lines.append("")
    lines.extend(targets(results))
    return lines


def targets(results: dict[str, Result]) -> list[str]:
    atlas = results.get("atlas")
    if atlas is None:
        return []
    lines = []
    for key, target in TARGETS.items():
        if key in results and key != "atlas":
            speedup = results[key].seconds_per_channel_step / atlas.seconds_per_channel_step
            lines.append(f"atlas vs {key}: {speedup:.2f}x faster (target ≥ {target:g}x): "
                         f"{'met' if speedup >= target else 'NOT met'}")
    best: Result | None = results.get("lucent")
    if best and best.mean_activation and atlas.mean_activation is not None:
        quality = atlas.mean_activation / best.mean_activation
        lines.append(f"atlas activation / lucent best: {quality:.3f} (target ≥ {QUALITY_TARGET}): "
                     f"{'met' if quality >= QUALITY_TARGET else 'NOT met'}")
    if "floor" in results:
        over = atlas.seconds_per_channel_step / results["floor"].seconds_per_channel_step
        lines.append(f"atlas / floor: {over:.2f}x (target ≤ {FLOOR_TARGET}x): "
                     f"{'met' if over <= FLOOR_TARGET else 'NOT met'}")
    return lines
