"""`atlas plan`: its counts are the build's own, exactly, and its time is the
build's within a factor of 2, measured on this machine in one run."""

from __future__ import annotations

from pathlib import Path

from atlas.cli import main
from atlas.config import make_config
from atlas.pipeline.build import build_atlas
from atlas.pipeline.cost.forecast import Forecast, plan_build
from atlas.pipeline.cost.plan_report import report_lines
from atlas.pipeline.cost.site_size import measure_site

SETTINGS = {"layers": ["conv1", "conv3"], "channels": "0-5", "steps": 96,
            "views": ["positive", "negative", "diversity", "neuron", "compare"],
            "batch_size": 24, "compare_units": 1}


def test_plan_counts_equal_the_build_and_its_time_is_within_a_factor_of_2(
        tmp_path: Path) -> None:
    config = make_config({}, {**SETTINGS, "out": str(tmp_path / "site")})
    planned = plan_build(config, progress=False)
    assert not (tmp_path / "site").exists()  # a plan computes and writes nothing
    report = build_atlas(config, progress=False)
    assert planned.jobs == planned.jobs_todo == report.jobs_total == report.jobs_computed
    assert planned.images == report.images_optimized
    assert planned.image_steps == report.images_optimized * 96
    assert planned.units == report.units
    assert planned.batches == len(planned.batch_seconds)
    took = report.timings["optimize"]
    assert took / 2 <= planned.optimize_seconds(1) <= took * 2, (planned.optimize_seconds(1), took)
    took = report.timings["compare"]
    assert took / 2 <= planned.compare_seconds(1) <= took * 2, (planned.compare_seconds(1), took)
    stored = sum(path.stat().st_size for path in (tmp_path / "site" / "results").rglob("*.png"))
    assert stored / 2 <= planned.storage["optimized images"] <= stored * 2
    published = measure_site(tmp_path / "site")  # everything: images, pages, records, data
    assert 0.8 * published.total <= sum(planned.storage.values()) <= 1.2 * published.total, (
        planned.storage, published.bytes_by_kind)

    again = plan_build(config, progress=False)  # everything is stored now
    assert again.jobs_todo == 0 and again.images == 0 and again.batch_seconds == []


def test_more_workers_never_take_longer_and_one_batch_bounds_them() -> None:
    result = Forecast("m", "local", 1, 1, 4, 4, 40, 400, 4, 40, 0, 0, 0,
                      batch_seconds=[8.0, 1.0, 1.0, 1.0], steps=10)
    assert result.optimize_seconds(1) == 11.0
    assert result.optimize_seconds(2) == 8.0  # the long batch on one worker, the rest on the other
    assert result.optimize_seconds(8) == 8.0
    lines = report_lines(result, [1, 2])
    assert any("1 worker : 11.0 s" in line for line in lines)


def test_plan_prints_the_counts(capsys, tmp_path: Path) -> None:
    code = main(["plan", "--layers", "fc", "--channels", "0-1", "--steps", "8", "--views",
                 "positive,seeds", "--out", str(tmp_path / "site"), "--quiet", "--workers",
                 "1,3"])
    out = capsys.readouterr().out
    assert code == 0
    assert "jobs (unit-views):  4 (0 already stored)" in out
    assert "images to optimize: 12 in 1 batches" in out  # positive 1 + seeds 5, two units
    assert "image-steps:        96" in out
    assert "   3 workers:" in out


def test_plan_rejects_a_bad_worker_count(capsys) -> None:
    assert main(["plan", "--workers", "0,x"]) == 2
    assert "--workers takes whole numbers" in capsys.readouterr().err
