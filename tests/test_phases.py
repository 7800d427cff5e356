"""The build's phases and the views' declarations agree: every view's source is
made by a phase, every unit view has a section on the unit page, and a real build
reports each phase that ran, in order."""

from __future__ import annotations

from pathlib import Path

from atlas.config import make_config
from atlas.pipeline.build import build_atlas
from atlas.pipeline.phases import PHASES
from atlas.site.sections import SECTIONS
from atlas.views import UNIT_VIEWS, VIEWS


def test_every_views_source_is_made_by_a_phase() -> None:
    served = {source for phase in PHASES for source in phase.sources}
    missing = {view.name: view.produced_by for view in VIEWS.values()
               if view.produced_by not in served}
    assert missing == {}


def test_phase_names_are_unique() -> None:
    names = [phase.name for phase in PHASES]
    assert len(names) == len(set(names))


def test_every_unit_view_has_a_section_on_the_unit_page() -> None:
    # a view missing from SECTIONS would be silently left off every unit page
    assert [view.name for view in UNIT_VIEWS if view.name not in SECTIONS] == []
    assert [name for name in SECTIONS if name not in VIEWS] == []


def test_a_build_times_the_phases_that_ran_in_order(tmp_path: Path) -> None:
    config = make_config({}, {"layers": ["conv1"], "channels": "0-1", "steps": 4,
                              "views": ["positive", "kernel"], "dataset": "none",
                              "connections": 0, "out": str(tmp_path / "site")})
    report = build_atlas(config, progress=False)
    order = [phase.name for phase in PHASES]
    assert list(report.timings) == ["memory", "optimize", "kernel", "connections",
                                    "analysis", "site"]
    assert sorted(report.timings, key=order.index) == list(report.timings)
    for unit in (0, 1):  # the kernel phase drew the first conv layer's filters
        assert (tmp_path / "site" / "results" / "conv1" / str(unit) / "kernel.json").is_file()
    again = build_atlas(config, progress=False)  # nothing left to optimize
    assert "optimize" not in again.timings and "memory" not in again.timings
    assert again.jobs_computed == 0
