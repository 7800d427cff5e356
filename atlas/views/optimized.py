"""Views whose images are optimized: each says which images a unit gets, what
they maximize, which settings join their cache key and what their record adds.

Objectives are built from `atlas.optvis.objectives`, imported when a batch is
packed rather than here, so reading the declarations stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from atlas.views.base import OPTIMIZE, SNAPSHOTS, View, Where
from atlas.views.images import ImageSpec, image_seed

if TYPE_CHECKING:
    from atlas.config import BuildConfig
    from atlas.optvis.objectives import Objective
    from atlas.pipeline.jobs import Job

# Measures an objective on images: one float per image (used by record extras).
Measure = Callable[["Objective", Any], list]


@dataclass(frozen=True)
class OptimizedView(View):
    produced_by: str = OPTIMIZE
    snapshots: str | None = None  # the view this run's snapshots are stored as
    # Its images may stop once their objective settles (optvis/stopping.py): not where
    # the objective itself changes over the steps.
    settles: bool = True

    def optimizes_pre(self, config: BuildConfig) -> bool:
        """On a clamped layer (models/floors.py), whether this view optimizes the
        pre-activation; it reports the pre-activation's values whatever this says."""
        return config.pre_activation == "all"

    def planned(self, views: Sequence[str]) -> bool:
        """Whether a build asking for `views` runs this view's optimization."""
        return self.name in views or (self.snapshots is not None and self.snapshots in views)

    def settings(self, config: BuildConfig, shape: Sequence[int]) -> dict[str, Any]:
        """Settings beyond the common ones that shape this view's pixels (cache key)."""
        if self.snapshots is None:
            return objective_setting(config)
        return {"snapshot_every": config.snapshot_every if self.snapshots in config.views else 0,
                **objective_setting(config)}

    def images(self, config: BuildConfig, layer: str, unit: int,
               shape: Sequence[int]) -> list[ImageSpec]:
        return [ImageSpec(image_seed(config.seed, layer, unit, self.name))]

    def objective(self, layer: str, jobs: Sequence[Job]) -> tuple[Objective, Objective]:
        """(what the optimizer maximizes, each image's reported activation) for
        consecutive `jobs` of this view at `layer`, one unit per image."""
        return _target(layer, jobs), _measure(layer, jobs)

    def record_extras(self, job: Job, images: Any, measure: Measure) -> dict[str, Any]:
        return {}


def objective_setting(config: BuildConfig) -> dict[str, Any]:
    """The build's `objective` as it joins the keys of the views that maximize it:
    nothing for the channel mean (the original objective: older results keep their keys)."""
    spec = config.objective_spec()
    return {} if spec["kind"] == "channel" else {"objective": spec}


def unit_objective(spec: dict[str, Any] | None, layer: str, units: Any) -> Objective:
    """The objective `spec` (`objective_spec.parse_objective`'s form; None: the channel mean) for
    `units` of `layer`, one unit per image. A class objective's class may be one per image."""
    from atlas.optvis import objectives as obj

    kind = spec["kind"] if spec else "channel"
    if kind == "neuron":
        return obj.neuron(layer, units)
    if kind == "top_k":
        assert spec is not None  # kind came from it
        return obj.top_k(layer, units, spec["k"])
    channel = obj.channel(layer, units)
    if kind == "class":
        assert spec is not None  # kind came from it
        return obj.class_conditional(channel, spec["logits"], spec["class"], spec["weight"])
    return channel


def _units(jobs: Sequence[Job]) -> list[int]:
    return [job.unit for job in jobs for _ in job.images]


# A job's "pre_activation" setting on a clamped layer: its view optimizes the
# pre-activation, or optimizes the output and reports the pre-activation.
OPTIMIZED_PRE = "optimized"
REPORTED_PRE = "reported"


def read_name(layer: str, jobs: Sequence[Job], optimized: bool = False) -> str:
    """The tensor `jobs` read at `layer`: its pre-activation where their settings say the
    layer is clamped (and, with `optimized`, that their view optimizes it), else its output."""
    from atlas.models.floors import pre_name

    pre = jobs[0].settings.get("pre_activation")
    wanted = pre == OPTIMIZED_PRE if optimized else pre is not None
    return pre_name(layer) if wanted else layer


def _target(layer: str, jobs: Sequence[Job]) -> Objective:
    """What `jobs` maximize: the build's objective (their settings say which)."""
    return unit_objective(jobs[0].settings.get("objective"),
                          read_name(layer, jobs, optimized=True), _units(jobs))


def _measure(layer: str, jobs: Sequence[Job]) -> Objective:
    """What their records report, whatever the objective: the unit's channel mean (of
    the pre-activation on a clamped layer), so every view's activations stay comparable
    with each other and with the dataset's values."""
    from atlas.optvis import objectives as obj

    return obj.channel(read_name(layer, jobs), _units(jobs))


@dataclass(frozen=True)
class Negative(OptimizedView):
    def optimizes_pre(self, config: BuildConfig) -> bool:
        # below a clamp the output has no gradient and nothing to show
        return config.pre_activation != "off"

    def objective(self, layer: str, jobs: Sequence[Job]) -> tuple[Objective, Objective]:
        return -_target(layer, jobs), _measure(layer, jobs)


@dataclass(frozen=True)
class Diversity(OptimizedView):
    settles: bool = False  # its push starts, waits and ends by step

    def settings(self, config: BuildConfig, shape: Sequence[int]) -> dict[str, Any]:
        settings: dict[str, Any] = {"diversity_weight": config.diversity_weight,
                                    "diversity_images": config.diversity_images,
                                    "diversity_keep": config.diversity_keep}
        if config.diversity_window != [0.0, 1.0]:  # only then in the key: older results keep theirs
            settings["diversity_window"] = config.diversity_window
        return {**settings, **objective_setting(config)}

    def images(self, config: BuildConfig, layer: str, unit: int,
               shape: Sequence[int]) -> list[ImageSpec]:
        return [ImageSpec(image_seed(config.seed, layer, unit, self.name, i))
                for i in range(config.diversity_images)]

    def objective(self, layer: str, jobs: Sequence[Job]) -> tuple[Objective, Objective]:
        from atlas.optvis import objectives as obj

        target = _target(layer, jobs)
        group = len(jobs[0].images)  # images optimized apart from each other
        settings = jobs[0].settings
        push_steps = None
        if "diversity_window" in settings:
            start, end = settings["diversity_window"]
            push_steps = (round(settings["steps"] * start) + 1, round(settings["steps"] * end))
        return obj.diverse(target, read_name(layer, jobs, optimized=True), group,
                           settings["diversity_weight"],
                           settings["diversity_keep"], push_steps), _measure(layer, jobs)


def neuron_positions(height: int, width: int, count: int) -> list[tuple[int, int]]:
    """`count` (h, w) positions evenly spaced on the diagonal; for an odd count
    the centre is among them."""
    if count == 1:
        return [(height // 2, width // 2)]
    fractions = [(i + 1) / (count + 1) for i in range(count)]
    return [(min(height - 1, int(f * height)), min(width - 1, int(f * width))) for f in fractions]


def _position(spec: ImageSpec) -> tuple[int, int]:
    """A neuron view image's (h, w): `Neuron.images` gives every one a position."""
    assert spec.position is not None
    return spec.position


@dataclass(frozen=True)
class Neuron(OptimizedView):
    def optimizes_pre(self, config: BuildConfig) -> bool:
        # One position of a clamped unit is often below its floor at the start: only the
        # pre-activation has a gradient there (lucid's neuron objectives read *_pre_relu).
        return config.pre_activation != "off"

    def applies(self, where: Where) -> bool:
        return len(where.shape) == 3  # linear units have no positions

    def _positions(self, config: BuildConfig, shape: Sequence[int]) -> list[tuple[int, int]]:
        return neuron_positions(shape[1], shape[2], config.neuron_positions)

    def settings(self, config: BuildConfig, shape: Sequence[int]) -> dict[str, Any]:
        return {"positions": [list(p) for p in self._positions(config, shape)]}

    def images(self, config: BuildConfig, layer: str, unit: int,
               shape: Sequence[int]) -> list[ImageSpec]:
        return [ImageSpec(image_seed(config.seed, layer, unit, self.name, i), position=p)
                for i, p in enumerate(self._positions(config, shape))]

    def objective(self, layer: str, jobs: Sequence[Job]) -> tuple[Objective, Objective]:
        from atlas.optvis import objectives as obj

        specs = [spec for job in jobs for spec in job.images]
        units = [job.unit for job in jobs for _ in job.images]
        target = obj.neuron(read_name(layer, jobs), units, [_position(s)[0] for s in specs],
                            [_position(s)[1] for s in specs])
        return target, target

    def record_extras(self, job: Job, images: Any, measure: Measure) -> dict[str, Any]:
        return {"positions": [list(_position(spec)) for spec in job.images]}


@dataclass(frozen=True)
class Seeds(OptimizedView):
    def settings(self, config: BuildConfig, shape: Sequence[int]) -> dict[str, Any]:
        return {"seed_count": config.seed_count, **objective_setting(config)}

    def images(self, config: BuildConfig, layer: str, unit: int,
               shape: Sequence[int]) -> list[ImageSpec]:
        return [ImageSpec(image_seed(config.seed, layer, unit, self.name, i), seed_index=i)
                for i in range(config.seed_count)]

    def record_extras(self, job: Job, images: Any, measure: Measure) -> dict[str, Any]:
        return {"seed_indices": [spec.seed_index for spec in job.images]}


POSITIVE = OptimizedView("positive", snapshots="evolution")
NEGATIVE = Negative("negative")
DIVERSITY = Diversity("diversity")
NEURON = Neuron("neuron", manifest_fields={"positions": "positions"})
SEEDS = Seeds("seeds", manifest_fields={"seed_indices": "seeds"})
# Stored by the positive view's run: its snapshots, their steps and the objective per step.
EVOLUTION = View("evolution", SNAPSHOTS, manifest_fields={"steps": "steps", "loss": "loss"})
