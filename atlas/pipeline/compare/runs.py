"""The vocabulary of the technique comparison (the `compare` view): one
optimization run, one variant (a choice on one axis), and what every axis
reads to make its variants.

A run is named by everything that shapes its pixels, so two variants that ask
for the same run (the build's own settings appear on every axis) share one
image, computed once. Every run of a unit starts from the seed of the unit's
positive view: the variants differ by their technique only, and the reference
run is the positive view's own optimization.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from atlas.config import BuildConfig
from atlas.views.images import image_seed

PREDICTED = "predicted"
"""The class of a class-conditional variant when the build names none: the class
the model predicts on the unit's own channel-mean image of the same comparison."""

SEED_VIEW = "positive"  # runs start from the positive view's seed


@dataclass(frozen=True)
class Layer:
    name: str
    shape: tuple[int, ...]  # one image's output shape at the layer

    @property
    def spatial(self) -> bool:
        return len(self.shape) == 3


@dataclass(frozen=True)
class Run:
    """One image to optimize: its target unit and every setting of its technique."""

    layer: str
    unit: int
    param: str
    decorrelate: bool
    lr: float
    transforms: str  # a name of `compare_run.TRANSFORMS`
    objective: str  # canonical JSON of `objective_spec.parse_objective`'s dict
    tv_weight: float
    l2_weight: float
    seed: int

    @property
    def spec(self) -> dict[str, Any]:
        return json.loads(self.objective)

    @property
    def predicted(self) -> bool:
        """Whether its class is read from another run's image (see `source`)."""
        return self.spec.get("class") == PREDICTED

    @property
    def source(self) -> Run:
        """The run whose image the predicted class is read from: this one with the
        channel mean as its objective."""
        return dataclasses.replace(self, objective=objective_json({"kind": "channel"}))

    @property
    def setup(self) -> tuple[str, bool, float, str]:
        """What one batch shares (its image parameterization and transforms); the
        objective and the regularizers may differ image by image."""
        return self.param, self.decorrelate, self.lr, self.transforms

    @property
    def target(self) -> str:
        return f"{self.layer}:{self.unit}"

    def settings(self) -> dict[str, Any]:
        """The run as it joins its unit's cache key."""
        settings = dataclasses.asdict(self)
        settings["objective"] = self.spec
        return settings


@dataclass(frozen=True)
class Variant:
    """One cell of the comparison: a choice on one axis, and the run that shows it
    (None where the choice does not apply; `skipped` says why)."""

    axis: str
    choice: str  # the choice's name, e.g. "fourier+decorrelate" or a layer name
    label: str  # as the page heads its column
    reference: bool  # the build's own setting on this axis
    run: Run | None = None
    skipped: str | None = None
    note: str | None = None  # what the caption adds, e.g. "k = 5 of 49" (positions)


@dataclass(frozen=True)
class Context:
    """What the axes read: the build's settings (after `with_sized_defaults`, so
    with a parameterization and a learning rate), its layers in forward order,
    and its class output (None: `no_logits` says why)."""

    config: BuildConfig
    layers: tuple[Layer, ...]
    image_size: int
    logits: str | None = None
    no_logits: str = "the model has no class output"


def objective_json(spec: dict[str, Any]) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


def on_layer(spec: dict[str, Any], layer: Layer) -> dict[str, Any]:
    """`spec` as it acts on `layer`: a linear unit has no positions, so there the
    spatial neuron and the top-k mean are its channel mean (one run, not three)."""
    if not layer.spatial and spec["kind"] in ("neuron", "top_k"):
        return {"kind": "channel"}
    return spec


def reference(context: Context, layer: Layer, unit: int, **changes: Any) -> Run:
    """The run of `layer`:`unit` at the build's own settings, with `changes`
    (`objective` as a spec dict) on one axis."""
    config = context.config
    assert config.lr is not None  # the build's config, its lr set (with_sized_defaults)
    spec = changes.pop("objective", config.objective_spec())
    run = Run(layer.name, unit, str(config.param), config.decorrelate, float(config.lr),
              config.transforms, objective_json(on_layer(spec, layer)), config.tv_weight,
              config.l2_weight, image_seed(config.seed, layer.name, unit, SEED_VIEW))
    return dataclasses.replace(run, **changes)
