"""Every view atlas computes, declared once. The planner, the executor and
the manifest iterate over `VIEWS`; the site has one section builder per name
(`atlas.site.sections`). The order is the order of a unit page."""

from __future__ import annotations

from atlas.views.base import (
    ACCENTUATE,
    COMPARE,
    COMPOSED,
    DATASET,
    EXAGGERATE,
    FROM_DATASET_IMAGES,
    JOINT,
    OPTIMIZE,
    SNAPSHOTS,
    WEIGHTS,
    View,
    Where,
)
from atlas.views.compare import COMPARE_VIEW
from atlas.views.dataset import ACCENT, CARICATURE, EXAMPLES, SPECTRUM
from atlas.views.joint import JOINT_VIEW
from atlas.views.optimized import (
    DIVERSITY,
    EVOLUTION,
    NEGATIVE,
    NEURON,
    POSITIVE,
    SEEDS,
    OptimizedView,
)
from atlas.views.weights import KERNEL

VIEWS: dict[str, View] = {view.name: view for view in (
    SPECTRUM, POSITIVE, NEGATIVE, DIVERSITY, NEURON, SEEDS, EVOLUTION, KERNEL, EXAMPLES,
    ACCENT, CARICATURE, JOINT_VIEW, COMPARE_VIEW)}
VIEW_NAMES = tuple(VIEWS)
DEFAULT_VIEWS = tuple(name for name, view in VIEWS.items() if view.default)

UNIT_VIEWS = tuple(view for view in VIEWS.values() if view.per_unit)
OPTIMIZED = tuple(view for view in UNIT_VIEWS if isinstance(view, OptimizedView))


def with_needs(names: list[str]) -> list[str]:
    """`names` and every view they are made from, in declaration order."""
    wanted = set(names)
    for name in names:
        wanted.update(VIEWS[name].needs)
    return [name for name in VIEWS if name in wanted]


__all__ = ["ACCENTUATE", "COMPARE", "COMPOSED", "DATASET", "DEFAULT_VIEWS", "EXAGGERATE",
           "FROM_DATASET_IMAGES", "JOINT", "OPTIMIZE",
           "OPTIMIZED", "SNAPSHOTS", "UNIT_VIEWS", "VIEWS", "VIEW_NAMES", "WEIGHTS",
           "OptimizedView", "View", "Where", "with_needs"]
