"""The phases of `atlas build`, in the order they run: each named, timed and
reported. A phase that makes a kind of view says which sources it serves (the
`produced_by` of views), and runs only when the build wants a view of one of
them; a view with a new source adds a phase to PHASES, not an `if` to the
build.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from tqdm import tqdm

from atlas.pipeline.analysis.evidence import DataEvidence
from atlas.pipeline.analysis.questions import analyse
from atlas.pipeline.classes.contributions import load_classes, measure_classes
from atlas.pipeline.compare.compute import run_compare
from atlas.pipeline.concepts.fit import (
    attach_dictionaries,
    fit_and_store,
    load_concepts,
    sample_vectors,
)
from atlas.pipeline.control.interrupt import StopAfterBatch
from atlas.pipeline.control.publish import publish_site
from atlas.pipeline.cost.site_size import limit_warnings, measure_site, size_line
from atlas.pipeline.dataset.accent import run_accents
from atlas.pipeline.dataset.caricature import run_caricatures
from atlas.pipeline.dataset.passes import cut_examples, scan_dataset
from atlas.pipeline.execution.tasks import Executor
from atlas.pipeline.manifest import build_manifest
from atlas.pipeline.optimize.schedule import run_batches
from atlas.pipeline.prepare import Prepared
from atlas.pipeline.record import build_record
from atlas.pipeline.weights.connections import store_connections
from atlas.pipeline.weights.kernels import store_kernels
from atlas.sizes import format_size
from atlas.views import (
    ACCENTUATE,
    COMPARE,
    COMPOSED,
    DATASET,
    EXAGGERATE,
    JOINT,
    OPTIMIZE,
    SNAPSHOTS,
    VIEWS,
    WEIGHTS,
)

if TYPE_CHECKING:
    from atlas.datasets import Dataset


@dataclass
class BuildRun:
    """What the phases of one build share: what `prepare_build` made, and what
    each phase leaves for the ones after it."""

    ready: Prepared
    executor: Executor
    stop: StopAfterBatch
    progress: bool
    notes: list[str] = field(default_factory=list)
    scans: dict = field(default_factory=dict)  # layer -> its dataset pass
    fields: dict = field(default_factory=dict)  # layer -> receptive field
    todo: list = field(default_factory=list)  # jobs not stored yet, one list per layer
    pairs: list = field(default_factory=list)  # the layer pairs connections cover
    manifest: Mapping[str, Any] = field(default_factory=dict)  # the Manifest, once made

    def wants(self, sources: tuple[str, ...]) -> bool:
        return any(VIEWS[name].produced_by in sources for name in self.ready.config.views)

    def bar(self, desc: str, unit: str = "step", total: int = 0) -> tqdm:
        return tqdm(total=total, unit=unit, desc=desc, disable=not self.progress,
                    dynamic_ncols=True)


def _always(build: BuildRun) -> bool:
    return True


@dataclass(frozen=True)
class Phase:
    name: str
    run: Callable[[BuildRun], None]
    # The view sources (`View.produced_by`) the phase makes. A gated phase runs only
    # when the build wants a view of one of them; every phase also needs `when`.
    sources: tuple[str, ...] = ()
    when: Callable[[BuildRun], bool] = _always
    gated: bool = True

    def applies(self, build: BuildRun) -> bool:
        wanted = not (self.gated and self.sources) or build.wants(self.sources)
        return wanted and self.when(build)


def _dataset(build: BuildRun) -> None:
    ready = build.ready
    assert ready.scanned is not None  # the phase runs only then (_has_dataset)
    build.scans, build.fields, notes = scan_dataset(
        ready.config, ready.loaded, ready.scanned, ready.chosen, ready.store, ready.image_size,
        ready.engine.device, build.executor, build.progress)
    build.notes += notes


def _concepts(build: BuildRun) -> None:
    ready = build.ready
    assert ready.scanned is not None  # concept plans need a dataset (concept_plans)
    site = ready.store.site_dir
    records = {plan.layer: load_concepts(site, plan) for plan in ready.concepts}
    todo = [plan for plan in ready.concepts if records[plan.layer] is None]
    if todo:
        with build.bar("concepts", unit="img") as bar:
            vectors = sample_vectors(build.executor, ready.scanned,
                                     [plan.layer for plan in todo], ready.config.seed,
                                     ready.config.dataset_batch, bar)
        for plan in todo:
            records[plan.layer] = fit_and_store(site, plan, vectors[plan.layer],
                                                ready.config.seed)
    # The concept layers read the fitted directions: on the model the phases after
    # this one use, handed to the workers again.
    attach_dictionaries(ready.loaded.module, site, ready.concepts)
    build.executor.start(ready.engine)
    build.notes.append("concepts: " + "; ".join(
        f"{layer} {record['method']}:{record['count']} on {record['vectors']:,} vectors, "
        f"R² {record['r2']:.3f}, stability {record['stability']:.3f}, "
        f"{len(record['dead'])} dead" for layer, record in records.items() if record)
        + f" ({len(todo)} of {len(records)} fitted)")


def _classes(build: BuildRun) -> None:
    ready = build.ready
    assert ready.scanned is not None and ready.classes is not None  # _has_classes
    record = load_classes(ready.store.site_dir, ready.classes)
    if record is None:
        started = time.perf_counter()
        with build.bar("classes", unit="img") as bar:
            record = measure_classes(build.executor, ready.scanned, ready.classes,
                                     ready.store.site_dir, ready.config.dataset_batch, bar)
        build.notes.append(
            f"classes: {len(record['classes'])} classes of {record['logits']} measured at "
            f"{record['layer']} over {record['images']:,} images ({record['labels']} as "
            f"labels) in {time.perf_counter() - started:.1f} s")


def _memory(build: BuildRun) -> None:
    ready = build.ready
    with build.bar("memory", unit="layer") as bar:
        ready.size_batches(build.todo if any(build.todo) else ready.layer_jobs, bar)
    build.notes.append(memory_note(ready))


def _optimize(build: BuildRun) -> None:
    ready, config = build.ready, build.ready.config
    batches = ready.batches(build.todo)
    assert config.lr is not None  # prepare_build set it (with_sized_defaults)
    with build.bar("optimize", total=len(batches) * config.steps) as bar:
        run_batches(build.executor, batches, ready.store, bar, build.stop, config.steps,
                    config.lr, ready.image_size)


def _compare(build: BuildRun) -> None:
    ready = build.ready
    with build.bar("compare") as bar:
        build.notes.append(run_compare(ready.engine, build.executor, ready.compared,
                                       ready.store, ready.smallest_limit(), bar,
                                       build.stop).note())


def _from_dataset_images(run_view: Callable[..., str], desc: str) -> Callable[[BuildRun], None]:
    def run(build: BuildRun) -> None:
        with build.bar(desc) as bar:
            build.notes.append(run_view(build.ready, build.scans, build.executor, bar,
                                        build.stop))
    return run


def _kernels(build: BuildRun) -> None:
    ready = build.ready
    kernel_layer = ready.kernel_layer()
    for info, units in ready.chosen:
        if info.name == kernel_layer:
            store_kernels(ready.store, ready.loaded.module, info.name, units, ready.common)


def _connections(build: BuildRun) -> None:
    ready = build.ready
    build.pairs, computed = store_connections(
        ready.store, ready.loaded.module, ready.loaded.preprocess, ready.image_size,
        ready.forward_layers(), ready.config.connections, ready.common, ready.engine.device,
        ready.budget_bytes())
    if computed:
        build.notes.append(f"connections: {computed} of {len(build.pairs)} layer pairs computed")


def _examples(build: BuildRun) -> None:  # late: a site budget weighs all the rest
    build.notes += cut_examples(build.ready, build.scans, build.fields, build.pairs,
                                build.progress)


def _analysis(build: BuildRun) -> None:
    """build.json (what `atlas render` needs without the model) and analysis.json."""
    ready = build.ready
    ready.store.save_json("build.json", build_record(ready, build.scans, build.fields,
                                                     build.pairs))
    # scans are made only from the scanned dataset (the dataset phase)
    evidence = (DataEvidence(cast("Dataset", ready.scanned), build.scans) if build.scans
                else None)
    ready.store.save_json("analysis.json", analyse(ready.loaded, ready.store, ready.chosen,
                                                   ready.config, ready.engine.device,
                                                   evidence))


def _site(build: BuildRun) -> None:
    ready = build.ready
    build.manifest = build_manifest(ready.store)
    publish_site(build.manifest, ready.store.site_dir, progress=build.progress)
    published = measure_site(ready.store.site_dir)
    build.notes.append(size_line(published, sum(len(units) for _, units in ready.chosen)))
    build.notes += [f"warning: {line}" for line in limit_warnings(published.total,
                                                                 *published.largest)]


def memory_note(ready: Prepared) -> str:
    """The budget and each layer's batch size, as the build reports them."""
    budget = ready.budget
    assert budget is not None  # set when the batches were sized, before this is asked
    return (f"memory: budget {format_size(budget.bytes) if budget.bytes else 'none'} "
            f"({budget.description}); batches: "
            + "; ".join(sized.line() for sized in ready.memory.values()))


def _has_dataset(build: BuildRun) -> bool:
    return build.ready.scanned is not None


def _has_scans(build: BuildRun) -> bool:
    return bool(build.scans)


def _has_concepts(build: BuildRun) -> bool:
    return bool(build.ready.concepts)


def _has_classes(build: BuildRun) -> bool:
    return build.ready.classes is not None


def _has_compared(build: BuildRun) -> bool:
    return bool(build.ready.compared)


PHASES: tuple[Phase, ...] = (
    # Dictionaries first: their concept layers are read like any layer after it.
    Phase("concepts", _concepts, when=_has_concepts),
    # Every image the dataset pass reads, whichever views use it (`examples` cuts
    # them late, below); runs whenever the build has a dataset.
    Phase("dataset", _dataset, (DATASET,), _has_dataset, gated=False),
    Phase("memory", _memory,
          when=lambda build: any(build.todo) or bool(build.ready.compared)),
    Phase("optimize", _optimize, (OPTIMIZE, SNAPSHOTS, JOINT),
          lambda build: any(build.todo)),
    Phase("compare", _compare, (COMPARE,), _has_compared),
    Phase("accent", _from_dataset_images(run_accents, "accent"), (ACCENTUATE,), _has_scans),
    Phase("caricature", _from_dataset_images(run_caricatures, "caricature"), (EXAGGERATE,),
          _has_scans),
    Phase("kernel", _kernels, (WEIGHTS,)),
    Phase("connections", _connections),
    Phase("examples", _examples, (DATASET,), _has_dataset, gated=False),
    Phase("classes", _classes, when=_has_classes),
    Phase("analysis", _analysis),
    # The manifest assembles the composed views from the others' records.
    Phase("site", _site, (COMPOSED,), gated=False),
)
"""Every phase of a build, in the order they run."""
