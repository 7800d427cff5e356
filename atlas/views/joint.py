"""The joint view: one image per joint objective (e.g. `fc:0 + fc:7`), not per unit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from atlas.views.base import JOINT
from atlas.views.optimized import Measure, OptimizedView

if TYPE_CHECKING:
    from atlas.manifest_types import JointEntry
    from atlas.optvis.objectives import Objective
    from atlas.pipeline.jobs import Job


@dataclass(frozen=True)
class Joint(OptimizedView):
    produced_by: str = JOINT
    per_unit: bool = False

    def objective(self, layer: str, jobs: Sequence[Job]) -> tuple[Objective, Objective]:
        from atlas.optvis import objectives as obj

        objective = obj.from_terms(jobs[0].terms)
        return objective, objective

    def record_extras(self, job: Job, images: Any, measure: Measure) -> dict[str, Any]:
        from atlas.optvis import objectives as obj

        return {
            "terms": [{"label": t.label, "layer": t.layer, "unit": t.unit, "weight": t.weight}
                      for t in job.terms],
            "term_activations": [measure(obj.channel(t.layer, t.unit), images)
                                 for t in job.terms],
        }

    def joint_entry(self, expression: str, record: dict[str, Any]) -> JointEntry:
        """One entry of atlas.json's `joint` list."""
        per_image = [list(values) for values in zip(*record["term_activations"])]
        return {"label": expression, "terms": record["terms"], "images": record["images"],
                "activations": per_image}


JOINT_VIEW = Joint("joint")
