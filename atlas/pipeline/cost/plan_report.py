"""`atlas plan`'s report: a Forecast as the lines the command prints."""

from __future__ import annotations

from atlas.pipeline.cost.forecast import Forecast
from atlas.pipeline.cost.site_size import limit_warnings
from atlas.sizes import format_size


def report_lines(result: Forecast, workers: list[int] | None = None) -> list[str]:
    counts = workers or sorted({1, 2, 4, 8, result.workers})
    total_bytes = sum(result.storage.values())
    lines = [
        f"atlas plan: {result.model} on {result.executor}",
        f"  units:              {result.units:,}",
        f"  jobs (unit-views):  {result.jobs:,} ({result.jobs - result.jobs_todo:,} already "
        "stored)",
        f"  images to optimize: {result.images:,} in {result.batches:,} batches",
        f"  image-steps:        {result.image_steps:,} ({result.images:,} images x "
        f"{result.steps} steps)",
        f"  dataset images:     {result.dataset_images:,} (one pass for "
        f"{result.dataset_layers} layers)" if result.dataset_layers else
        "  dataset images:     none (no dataset)",
        f"  compare images:     {result.compare_images:,}",
        *([f"  from dataset images: {result.from_data_images:,} (accent and caricature "
           "views)"] if result.from_data_images else []),
        f"  storage:            {format_size(total_bytes)} published ("
        + ", ".join(f"{name} {format_size(size)}" for name, size in result.storage.items()
                    if size) + f"); {format_size(total_bytes / max(1, result.units))} a unit; "
        f"largest file about {format_size(result.largest_file)}",
        *([f"  {result.budget_line}"] if result.budget_line else []),
        *[f"  warning: {line}" for line in limit_warnings(total_bytes, result.largest_file,
                                                         "a layer's unit file")],
        *result.memory,
        *connection_lines(result),
        *concept_lines(result),
        *([f"  class pages:        {result.class_images:,} dataset images, "
           f"{result.class_compute * 1e3:.3g} ms per image (a forward and a backward pass)"]
          if result.class_images else []),
        f"  calibration ({result.calibration_seconds:.1f} s): "
        + "; ".join(f"{cost.layer} {cost.per_image_step * 1e3:.3g} ms per image-step "
                    f"({cost.images} images)" for cost in result.costs),
    ]
    if result.dataset_images:
        lines.append(f"  dataset pass:       {result.scan_read * 1e3:.3g} ms per image to read, "
                     f"{result.scan_compute * 1e3:.3g} ms per image through the model")
    settles = ("; images that settle stop sooner, so the optimization's is the most it takes"
               if result.stopping else "")
    lines.append("  wall time (concepts + dataset pass + optimization + compare + connections + "
                 "class pages; "
                 f"model loading and pages not included{settles}):")
    for count in counts:
        lines.append(f"    {count:>4} worker{'s' if count > 1 else ' '}: "
                     f"{_duration(result.seconds(count))} "
                     f"({_concepts_part(result, count)}dataset "
                     f"{_duration(result.dataset_seconds(count))}, optimize "
                     f"{_duration(result.optimize_seconds(count))}, compare "
                     f"{_duration(result.compare_seconds(count))}, connections "
                     f"{_duration(result.connections_seconds())}"
                     + (f", accent and caricature {_duration(result.from_data_seconds_on(count))}"
                        if result.from_data_images else "")
                     + (f", class pages {_duration(result.classes_seconds(count))}"
                        if result.class_images else "") + ")")
    return lines


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.1f} min"
    return f"{minutes / 60:,.1f} h"


def connection_lines(result: Forecast) -> list[str]:
    if not result.connections:
        return []
    peak = max((pair.peak or 0 for pair in result.connections), default=0)
    pairs = len(result.connections)
    return [f"  connections:        {pairs} layer pair{'s' if pairs > 1 else ''} in "
            f"{sum(pair.chunks for pair in result.connections)} chunks, "
            f"{_duration(result.connections_seconds())} on the driver"
            + (f", peak of a chunk {format_size(peak)}" if peak else "")] + [
        f"    {pair.earlier} -> {pair.later}: {pair.chunks} chunk{'s' if pair.chunks > 1 else ''} "
        f"of {pair.chunk} units, {_duration(pair.seconds)}, maps {pair.map_side}x{pair.map_side}"
        + (f", {format_size(pair.peak)}" if pair.peak else "") for pair in result.connections]


def _concepts_part(result: Forecast, workers: int) -> str:
    if not result.concepts:
        return ""
    return f"concepts {_duration(result.concepts_seconds(workers))}, "


def concept_lines(result: Forecast) -> list[str]:
    if not result.concepts:
        return []
    return [f"  concepts:           {len(result.concepts)} dictionar"
            f"{'ies' if len(result.concepts) > 1 else 'y'} to fit, sampled from "
            f"{result.concept_images:,} dataset images"] + [
        f"    {cost.layer} {cost.method}:{cost.count} on {cost.vectors:,} vectors: fits "
        f"{_duration(cost.fit_seconds)} on the driver" for cost in result.concepts]
