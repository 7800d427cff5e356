"""Packs the jobs of one batch into one objective over one image batch.

Consecutive images of the same view and layer form a segment scored by one
vectorized objective (one unit per image), so a whole layer costs a handful
of tensor operations per step rather than one objective per unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Sequence

from atlas.optvis import objectives as obj
from atlas.optvis.objectives import Objective
from atlas.pipeline.plan import Job


@dataclass
class PackedBatch:
    jobs: list[Job]
    objective: Objective  # what the optimizer maximizes
    measure: Objective  # each image's target activation (what the pages report)
    offsets: list[int]  # first image index of each job


def _segment(view: str, layer: str, jobs: Sequence[Job]) -> tuple[Objective, Objective]:
    units = [job.unit for job in jobs for _ in job.images]
    target = obj.channel(layer, units)
    if view in ("positive", "seeds"):
        return target, target
    if view == "negative":
        return -target, target
    if view == "diversity":
        weight = jobs[0].settings["diversity_weight"]
        return obj.diverse(target, layer, len(jobs[0].images), weight), target
    if view == "neuron":
        positions = [spec.position for job in jobs for spec in job.images]
        ys = [p[0] for p in positions]
        xs = [p[1] for p in positions]
        target = obj.neuron(layer, units, ys, xs)
        return target, target
    raise ValueError(f"view {view!r} is not optimized")


def _regularized(objective: Objective, tv_weight: float, l2_weight: float) -> Objective:
    if tv_weight:
        objective = objective - tv_weight * obj.total_variation()
    if l2_weight:
        objective = objective - l2_weight * obj.l2()
    return objective


def job_objective(job: Job, tv_weight: float, l2_weight: float) -> Objective:
    """The objective one job's images are optimized for, as if it ran alone:
    its readable description goes into the job's record."""
    if job.view == "joint":
        objective = obj.from_terms(job.terms)
    else:
        objective, _ = _segment(job.view, job.layer, [job])
    return _regularized(objective, tv_weight, l2_weight)


def pack(jobs: list[Job], tv_weight: float, l2_weight: float) -> PackedBatch:
    pieces, measures = [], []
    offsets = [sum(len(job.images) for job in jobs[:i]) for i in range(len(jobs))]
    start = 0
    groups = groupby(jobs, key=lambda j: (j.view, j.layer) if j.view != "joint" else id(j))
    for _, group_iter in groups:
        group = list(group_iter)
        stop = start + sum(len(job.images) for job in group)
        if group[0].view == "joint":
            objective = obj.from_terms(group[0].terms)
            measure = objective
        else:
            objective, measure = _segment(group[0].view, group[0].layer, group)
        pieces.append(objective.on_images(start, stop))
        measures.append(measure.on_images(start, stop))
        start = stop
    total = _regularized(sum(pieces, 0), tv_weight, l2_weight)
    return PackedBatch(list(jobs), total, sum(measures, 0), offsets)
