"""Packs the jobs of one batch into one objective over one image batch.

Consecutive images of the same view and layer form a segment scored by one
vectorized objective (one unit per image), so a whole layer costs a handful
of tensor operations per step rather than one objective per unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import cast

from atlas.optvis import objectives as obj
from atlas.optvis.objectives import Objective
from atlas.pipeline.jobs import Job
from atlas.views import VIEWS, OptimizedView


@dataclass
class PackedBatch:
    jobs: list[Job]
    objective: Objective  # what the optimizer maximizes
    measure: Objective  # each image's target activation (what the pages report)
    offsets: list[int]  # first image index of each job


def _optimized(name: str) -> OptimizedView:
    view = VIEWS[name]
    if not isinstance(view, OptimizedView):
        raise ValueError(f"view {name!r} is not optimized")
    return view


def regularized(objective: Objective, tv_weight: float, l2_weight: float) -> Objective:
    """`objective` less the image penalties (total variation, L2) at their weights."""
    if tv_weight:
        objective = objective - tv_weight * obj.total_variation()
    if l2_weight:
        objective = objective - l2_weight * obj.l2()
    return objective


def job_objective(job: Job, tv_weight: float, l2_weight: float) -> Objective:
    """The objective one job's images are optimized for, as if it ran alone:
    its readable description goes into the job's record."""
    # job.layer is None only for a joint job, whose objective does not read it
    objective, _ = _optimized(job.view).objective(cast(str, job.layer), [job])
    return regularized(objective, tv_weight, l2_weight)


def pack(jobs: list[Job], tv_weight: float, l2_weight: float) -> PackedBatch:
    pieces, measures = [], []
    offsets = [sum(len(job.images) for job in jobs[:i]) for i in range(len(jobs))]
    start = 0
    # A view that is not per unit (joint) has its own objective per job.
    groups = groupby(jobs, key=lambda j: (j.view, j.layer) if VIEWS[j.view].per_unit else id(j))
    for _, group_iter in groups:
        group = list(group_iter)
        stop = start + sum(len(job.images) for job in group)
        objective, measure = _optimized(group[0].view).objective(cast(str, group[0].layer),
                                                                 group)
        pieces.append(objective.on_images(start, stop))
        measures.append(measure.on_images(start, stop))
        start = stop
    # Objectives: a batch has at least one job, and 0 + an Objective is one
    total = regularized(cast(Objective, sum(pieces, 0)), tv_weight, l2_weight)
    return PackedBatch(list(jobs), total, cast(Objective, sum(measures, 0)), offsets)
