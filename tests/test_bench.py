"""`atlas bench` on a tiny workload: every method runs on the same model and
the table reports each one's time, its ratio to atlas, and its activation."""

from __future__ import annotations

from pathlib import Path

from atlas.bench.methods import METHODS
from atlas.synthetic_atlas import synthetic_manifest
from atlas.bench.report import run_bench, table
from atlas.bench.processes import BuildRun
from atlas.bench.time_to_quality import Reach, first_reaching
from atlas.bench.time_to_quality import table as quality_table
from atlas.bench.workload import Checkpoint, Result, Workload

USER_MODEL = Path(__file__).parent / "models" / "two_heads.py"


def test_bench_runs_every_method_and_prints_ratios() -> None:
    lines: list[str] = []
    work = Workload(model=f"{USER_MODEL}:build", layer="features.0", channels=2, steps=2,
                    image_size=16)
    results = run_bench(work, list(METHODS), echo=lines.append)
    assert set(results) == set(METHODS)
    for key, result in results.items():
        assert result.seconds_per_channel_step > 0
        if key != "floor":
            assert result.mean_activation is not None
    text = "\n".join(lines)
    assert "ms/channel-step" in text and "÷ atlas" in text
    assert "atlas vs seeds:" in text and "atlas / floor:" in text
    assert "time to quality" in text
    assert any(line.startswith("lucent: ") for line in lines)
    assert any(line.startswith("seeds: ") for line in lines)
    assert "whole process (target ≥ 4x)" in text
    atlas_row = next(line for line in lines if line.startswith("atlas (fp32, the default)"))
    assert "1.00x" in atlas_row


def test_table_ratios_are_computed_from_the_measurements() -> None:
    results = {"lucent": Result("lucent", 0.03, [2.0, 2.0], 1),
               "seeds": Result("seeds", 0.12, [1.0], 1),
               "atlas": Result("atlas", 0.02, [1.8, 2.0], 1),
               "floor": Result("floor", 0.016, None, 1)}
    text = "\n".join(table(results))
    assert "1.50x" in text  # 30 ms / 20 ms
    seeds_row = next(line for line in text.splitlines() if line.startswith("seeds"))
    assert seeds_row.split()[-1] == "0.500"  # over lucent's own channel 0 only
    assert "atlas activation / lucent best: 0.950 (target ≥ 0.95): met" in text
    assert "atlas / floor: 1.25x (target ≤ 1.3x): met" in text


def test_time_to_quality_reads_the_first_checkpoint_at_the_bar() -> None:
    trajectory = [Checkpoint(0, 0.0, [0.1, 0.1]), Checkpoint(4, 1.0, [0.5, 0.2]),
                  Checkpoint(8, 2.0, [0.6, 0.9]), Checkpoint(12, 3.0, [0.7, 1.0])]
    assert first_reaching(trajectory, 0.5, [0]).step == 4
    assert first_reaching(trajectory, 0.5, [0, 1]).step == 8  # mean 0.75
    assert first_reaching(trajectory, 0.9, [0, 1]) is None
    found = Reach("lucent", "lucent", 0.75, [0, 1], 20.0, trajectory[2],
                  BuildRun(8, 4.0, [0.6, 0.9]))
    assert found.reached and found.ratio == 5.0
    short = Reach("lucent", "lucent", 0.8, [0, 1], 20.0, trajectory[3], BuildRun(12, 5.0, [0.7, 0.8]))
    assert not short.reached and short.ratio is None
    text = "\n".join(quality_table(Workload(channels=2, steps=16), [found, short]))
    assert "5.00x" in text and "not reached" in text
    assert "4.0 s" in text and "8, 2.0 s" in text


def test_synthetic_manifest_has_the_requested_units() -> None:
    manifest = synthetic_manifest(3, 7)
    assert sum(len(layer["units"]) for layer in manifest["layers"]) == 21
    unit = manifest["layers"][0]["units"][0]
    assert len(unit["views"]["evolution"]["images"]) == 12


def test_render_bench_renders_every_page_of_each_size_in_bounded_memory() -> None:
    from atlas.bench.render_scale import time_render

    small, large = time_render(1, 30, workers=1), time_render(4, 30, workers=1)
    # units, layers, index and summary (no joint objectives: no joint page)
    assert (small.pages, large.pages) == (30 + 3, 4 * 31 + 2)
    assert small.largest_file < 2_000_000 and large.largest_file < 2_000_000
    assert small.peak_bytes and large.peak_bytes
    # four layers held one at a time: the resident peak barely moves (measured +0.5%)
    assert large.peak_bytes < 1.5 * small.peak_bytes


def test_storage_estimate_multiplies_measured_sizes(tmp_path: Path) -> None:
    from atlas.bench.storage import estimate, images_per_unit
    from atlas.config import make_config
    from atlas.pipeline.build import build_atlas

    assert images_per_unit(512, 50)["evolution"] == 12  # steps 0, 50, …, 500 and 512
    site = tmp_path / "site"
    build_atlas(make_config({}, {"channels": "0", "steps": 4, "out": str(site), "joint": [],
                                 "layers": ["conv2"]}), progress=False)
    lines = estimate(site, {"conv2": 1000}, steps=4, snapshot_every=50)
    text = "\n".join(lines)
    positive = (site / "results/conv2/0/positive-0.png").stat().st_size
    row = next(line for line in lines if line.startswith("positive"))
    assert f"{positive:,}" in row.replace(" ", "") or f"{positive:,}" in row  # measured
    assert f"{positive * 1000 / 1e6:.1f}" in row  # times 1000 units
    assert "of GitHub Pages' 1 GB" in text
