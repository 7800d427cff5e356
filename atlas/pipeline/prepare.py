"""Before a build computes anything: the model loaded, the settings checked
against it, every job planned and the executor connected (`prepare_build`).
`atlas build` runs what this prepares; `atlas plan` prices it."""

from __future__ import annotations

import dataclasses
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy
import torch
from torch import nn

from atlas.config import (
    DEFAULT_JOINT,
    BuildConfig,
    parse_channels,
    resolve_image_format,
    with_sized_defaults,
)
from atlas.datasets import Dataset, open_dataset
from atlas.errors import AtlasError
from atlas.models.concept_reads import concept_base, concept_layer
from atlas.models.floors import find_floor
from atlas.models.layers import Chosen, DryRun, LayerInfo, dry_run, resolve_layers
from atlas.models.registry import LoadedModel, load_model
from atlas.models.specs import DEFAULT_SPEC
from atlas.optvis import precision
from atlas.optvis.objectives import parse_terms
from atlas.optvis.transforms import no_transforms, standard_transforms
from atlas.pipeline.classes.plan import ClassPlan, class_plan
from atlas.pipeline.compare.plan import compare_plans
from atlas.pipeline.concepts.plan import ConceptPlan, concept_plans
from atlas.pipeline.dataset.scan import data_settings
from atlas.pipeline.execution.executors import open_executor
from atlas.pipeline.execution.tasks import Executor
from atlas.pipeline.jobs import Job, common_settings, joint_jobs, unit_jobs
from atlas.pipeline.jobs import batches as packed_batches
from atlas.pipeline.optimize.batch import Engine, job_is_done
from atlas.pipeline.optimize.magnitude import maco_magnitude
from atlas.pipeline.optimize.memory import JOINT, Budget, LayerMemory, batch_limits, memory_budget
from atlas.pipeline.weights.kernels import first_conv_layer
from atlas.sizes import format_size
from atlas.store import ResultStore
from atlas.version import __version__
from atlas.views import DATASET, FROM_DATASET_IMAGES, VIEWS, with_needs


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise AtlasError("--device cuda was given but no CUDA GPU is available; use --device cpu")
    return torch.device(name)


def choose_layers(
    config: BuildConfig, loaded: LoadedModel, run: DryRun, image_size: int
) -> list[tuple[LayerInfo, list[int]]]:
    names = config.layers or loaded.defaults_from(run.layers)
    infos = resolve_layers(loaded.module, image_size, loaded.preprocess, names, run,
                           loaded.input_size)
    probe = loaded.preprocess(torch.rand(1, 3, image_size, image_size,
                                         generator=torch.Generator().manual_seed(0)).to(
        next(loaded.module.parameters()).device))
    chosen = []
    for info in infos:
        if config.pre_activation != "off":
            info = dataclasses.replace(info, floor=find_floor(loaded.module, info.name, probe))
        units = (parse_channels(config.channels, info.channels, info.name)
                 if config.channels else list(range(info.channels)))
        chosen.append((info, units))
    return chosen


def parse_joint(config: BuildConfig, loaded: LoadedModel, run: DryRun,
                image_size: int) -> list[tuple[str, list]]:
    """The joint objectives to optimize, each checked against the model's layers."""
    if "joint" not in config.views:
        return []
    expressions = config.joint
    if expressions is None:
        expressions = DEFAULT_JOINT if loaded.spec == DEFAULT_SPEC else []
    parsed = []
    for expression in expressions:
        try:
            terms = parse_terms(expression)
        except ValueError as error:
            raise AtlasError(f"joint objective: {error}") from None
        infos = resolve_layers(loaded.module, image_size, loaded.preprocess,
                               [term.layer for term in terms], run, loaded.input_size)
        for term, info in zip(terms, infos):
            parse_channels(str(term.unit), info.channels, term.layer)
        parsed.append((expression, terms))
    return parsed


def class_output(config: BuildConfig, loaded: LoadedModel, run: DryRun,
                 image_size: int) -> tuple[str | None, str]:
    """The layer whose units are the class logits (class-conditional objectives):
    `logits_layer` where given, the model's own (the default model's fc), else the
    last linear layer the forward pass reaches at this size. None, with the reason,
    where there is none."""
    if config.logits_layer:
        info = resolve_layers(loaded.module, image_size, loaded.preprocess,
                              [config.logits_layer], run, loaded.input_size)[0]
        if len(info.shape) != 1:
            raise AtlasError(f"logits_layer {info.name!r} outputs {list(info.shape)} per image, "
                             "not one value per class; name a linear layer")
        return info.name, ""
    if loaded.probe is not None:
        return loaded.probe.logits_layer, ""
    modules = dict(loaded.module.named_modules())
    for info in reversed(run.layers):
        if len(info.shape) == 1 and isinstance(modules.get(info.name), nn.Linear):
            return info.name, ""
    where = ("the model has no linear layer for its classes" if run.ok else
             f"the forward pass at {image_size} px stops before the model's class output")
    return None, f"{where} (logits_layer names one)"


def check_objective(config: BuildConfig, run: DryRun, no_logits: str) -> None:
    """A class objective needs a class output with that class."""
    spec = config.objective_spec()
    if spec["kind"] != "class":
        return
    if spec["logits"] is None:
        raise AtlasError(f"objective {config.objective!r} needs a class output, but {no_logits}")
    count = next(info.channels for info in run.layers if info.name == spec["logits"])
    if spec["class"] >= count:
        raise AtlasError(f"objective {config.objective!r}: class {spec['class']} is out of range "
                         f"for {spec['logits']!r}, which has {count} units (0-{count - 1})")


def check_image_memory(loaded: LoadedModel, image_size: int, budget: Budget) -> None:
    """Refuses an image size whose one image's forward pass alone would take more
    than `budget`, before any forward pass at that size: the layers' outputs are
    measured at the model's own size and scaled by the area (a step of optimization
    keeps them all, and more, for the backward pass)."""
    native = loaded.input_size
    if image_size <= native or budget.bytes is None:
        return
    measured = dry_run(loaded.module, native, loaded.preprocess).activation_bytes
    needed = measured * (image_size / native) ** 2
    if needed > budget.bytes:
        largest = int(native * math.sqrt(budget.bytes / measured))
        raise AtlasError(f"image_size {image_size} needs at least {format_size(needed)} for one "
                         f"image's forward pass ({format_size(measured)} at the model's "
                         f"{native} px, scaled by the area), more than the "
                         f"{format_size(budget.bytes)} a batch may take ({budget.description}); "
                         f"the largest that fits is about {largest}")


NO_DATASET = "none"  # --dataset none: no dataset, even for a model that has its own


def open_build_dataset(config: BuildConfig, loaded: LoadedModel, image_size: int,
                       given: Any = None) -> Dataset | None:
    """The dataset this build scans: the one asked for (`given`: one from Python), else
    the model's own, else none."""
    if given is not None:
        from atlas.datasets.in_memory import ItemsDataset

        return ItemsDataset(given, image_size, config.dataset_limit, config.seed,
                            config.dataset_resize, config.dataset)
    spec = config.dataset if config.dataset is not None else loaded.default_dataset
    if spec is None or spec == NO_DATASET:
        return None
    return open_dataset(spec, image_size, config.dataset_limit, config.seed,
                        config.dataset_resize, config.dataset_links, exclude=Path(config.out))



def versions() -> dict[str, str]:
    from importlib.metadata import version  # not importing torch-lucent: it is not used

    return {"atlas": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "torch-lucent": version("torch-lucent"), "python": platform.python_version()}


@dataclass
class Prepared:
    """A build planned and ready to run: what `atlas build` runs and `atlas plan`
    prices. Nothing is computed or written yet; the executor is connected."""

    config: BuildConfig  # resolved: sized defaults, views with their needs, logits layer
    loaded: LoadedModel
    device: torch.device  # the driver's
    image_size: int
    run: DryRun
    chosen: Chosen
    joint: list
    compared: list  # compare UnitPlans
    dataset: Dataset | None  # what MACO's spectrum or the dataset views read
    scanned: Dataset | None  # the dataset the pass and the pages use
    store: ResultStore
    common: dict
    layer_jobs: list[list[Job]]
    engine: Engine
    executor: Executor
    magnitude_name: str | None  # MACO's spectrum, by the hash that joins the keys
    concepts: list[ConceptPlan] = field(default_factory=list)  # the dictionaries to fit
    classes: ClassPlan | None = None  # the class pages' measure, where the build has one
    budget: Budget | None = None  # the memory a batch may take, once sized
    memory: dict[str, LayerMemory] = field(default_factory=dict)  # layer (or joint) -> sizes

    def todo(self) -> list[list[Job]]:
        """The jobs not already stored with their key, one list per layer."""
        return [[job for job in jobs if not job_is_done(self.store, job)]
                for jobs in self.layer_jobs]

    def size_batches(self, jobs: list[list[Job]], bar: Any) -> None:
        """Measures the memory per image of each layer of `jobs` on the started
        executor and sizes its batches to the budget (see `optimize/memory.py`)."""
        # Ray workers on one machine share its memory; a local build has it alone.
        sharing = self.executor.workers if self.executor.name != "local" else 1
        self.budget = memory_budget(self.config.memory_limit, self.executor.device, sharing)
        self.memory = batch_limits(self.executor, jobs, self.budget, self.config.batch_size,
                                   bar)

    def budget_bytes(self) -> int | None:
        """The memory budget for work on the driver (connections): the batches' where
        sized, else read now."""
        budget = self.budget or memory_budget(self.config.memory_limit, self.device)
        return budget.bytes

    def batch_limit(self, jobs: list[Job]) -> int:
        """The most images a batch of `jobs` (one layer's, or the joint ones) holds."""
        sized = self.memory.get((jobs[0].layer or JOINT) if jobs else "")
        return sized.images if sized is not None else self.config.batch_size

    def smallest_limit(self) -> int:
        """The batch size of a batch that mixes layers (the compare page's runs)."""
        return min([sized.images for sized in self.memory.values()],
                   default=self.config.batch_size)

    def forward_layers(self) -> list[tuple[str, list[int]]]:
        """The chosen (layer, units) in the order the forward pass reaches them: the
        order connections pair them in. Concept layers have no weights: not among them."""
        return forward_order(self.run, [(info, units) for info, units in self.chosen
                                        if concept_base(info.name) is None])

    def kernel_layer(self) -> str | None:
        """The first conv layer, reading the RGB image: the kernel view's layer."""
        return first_conv_layer(self.loaded.module, [info.name for info in self.run.layers])

    def batches(self, jobs: list[list[Job]]) -> list[list[Job]]:
        """`jobs` (one list per layer) packed the way the build runs them."""
        return [batch for layer in jobs for batch in packed_batches(layer, self.batch_limit(layer))]


def forward_order(run: DryRun, chosen: Chosen) -> list[tuple[str, list[int]]]:
    """(layer, units) of `chosen` in the order the forward pass reaches them."""
    order = {info.name: i for i, info in enumerate(run.layers)}
    return sorted(((info.name, units) for info, units in chosen),
                  key=lambda item: order.get(item[0], len(order)))


def prepare_build(config: BuildConfig, model: LoadedModel | None = None,
                  dataset: Any = None) -> Prepared:
    """Loads the model, checks the settings against it, plans every job and
    connects the executor. `model` and `dataset`, where given, are objects from
    Python (`atlas.build`) that stand for `config.model` and `config.dataset`."""
    config = dataclasses.replace(config.validate(), views=with_needs(config.views))
    loaded = model if model is not None else load_model(
        config.model, Path(config.weights) if config.weights else None, config.pretrained,
        config.preprocess, config.mean, config.std)
    # On Ray the workers bring their own devices; the driver uses what it has.
    device = resolve_device(config.device if config.executor == "local" else "auto")
    image_size = config.image_size or loaded.input_size
    config = with_sized_defaults(config, image_size)
    loaded.module.to(device)
    loaded.preprocess.to(device)
    room = memory_budget(config.memory_limit, device)  # the batches' own is sized later
    check_image_memory(loaded, image_size, room)
    run = dry_run(loaded.module, image_size, loaded.preprocess)
    chosen = choose_layers(config, loaded, run, image_size)
    joint = parse_joint(config, loaded, run, image_size)
    logits, no_logits = class_output(config, loaded, run, image_size)
    config = dataclasses.replace(config, logits_layer=logits)
    check_objective(config, run, no_logits)
    wants_data = any(VIEWS[name].produced_by in (DATASET, *FROM_DATASET_IMAGES)
                     for name in config.views)
    # MACO reads its magnitude spectrum from the dataset even without dataset views.
    dataset = (open_build_dataset(config, loaded, image_size, given=dataset)
               if wants_data or config.param == "maco" else None)
    scanned = dataset if wants_data else None
    magnitude, magnitude_name = (maco_magnitude(dataset, image_size)
                                 if config.param == "maco" else (None, None))
    image_format = resolve_image_format(config, image_size)
    store = ResultStore(Path(config.out), image_format, config.image_quality)

    transforms = (standard_transforms(image_size, config.jitter, config.scale, config.rotate)
                  if config.transforms == "standard" else no_transforms(image_size)).to(device)
    executor = open_executor(config, device)
    autocast = precision.autocast_dtype(config.precision, executor.device, loaded.bfloat16,
                                        executor.fast_bfloat16)
    common = common_settings(config, loaded.spec, loaded.weights_sha256, image_size,
                                  transforms.describe(), precision.describe(autocast),
                                  image_format, magnitude_name)
    compared = compare_plans(config, chosen, image_size, no_logits, common)
    read_from_data = data_settings(loaded, scanned, image_size) if scanned is not None else None
    concepts = concept_plans(config, [info for info, _ in chosen], read_from_data, room.bytes)
    class_pages = class_plan(
        config.class_pages, config.logits_layer,
        [name for name, _ in forward_order(run, chosen)],
        next((info.channels for info in run.layers if info.name == config.logits_layer), None),
        loaded.class_names, concepts, read_from_data)
    chosen = with_concept_layers(chosen, concepts)
    layer_jobs = plan_jobs(config, common, chosen, joint)
    channels_last = loaded.channels_last if config.channels_last is None else config.channels_last
    if channels_last:
        loaded.module.to(memory_format=torch.channels_last)
    assert config.lr is not None and config.param is not None  # with_sized_defaults set them
    engine = Engine(loaded.module, loaded.preprocess, transforms, device, image_size,
                    config.steps, config.lr, config.param, config.decorrelate,
                    config.valid, config.tv_weight, config.l2_weight, versions(), channels_last,
                    autocast, magnitude, store.encoder, config.stop_tolerance, config.stop_window)
    return Prepared(config, loaded, device, image_size, run, chosen, joint, compared, dataset,
                    scanned, store, common, layer_jobs, engine, executor, magnitude_name,
                    concepts, class_pages)


def with_concept_layers(chosen: Chosen, concepts: list[ConceptPlan]) -> Chosen:
    """`chosen` with each planned dictionary's concepts as a layer of their own
    (models/concept_reads.py), right after the layer they read, every concept chosen."""
    plans = {plan.layer: plan for plan in concepts}
    layers: Chosen = []
    for info, units in chosen:
        layers.append((info, units))
        plan = plans.get(info.name)
        if plan is not None:
            layers.append((LayerInfo(concept_layer(info.name), "Concepts",
                                     (plan.count, *info.shape[1:]), dictionary=plan.key),
                           list(range(plan.count))))
    return layers


def plan_jobs(config: BuildConfig, common: dict, chosen: Chosen, joint: list
              ) -> list[list[Job]]:
    """One list of jobs per layer (view-major, so packed batches have long
    segments of one view), then the joint jobs."""
    view_order = {view: i for i, view in enumerate(VIEWS)}
    layer_jobs = []
    for info, units in chosen:
        jobs = [job for unit in units
                for job in unit_jobs(config, {**common, **info.key_settings()}, info, unit)]
        layer_jobs.append(sorted(jobs, key=lambda job: view_order[job.view]))
    layer_jobs.append(joint_jobs(config, common, joint))
    return layer_jobs
