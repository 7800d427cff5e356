"""`atlas bench` on a tiny workload: every method runs on the same model and
the table reports each one's time, its ratio to atlas, and its activation."""

from __future__ import annotations

from pathlib import Path

from atlas.bench.methods import METHODS
from atlas.bench.render_scale import synthetic_manifest
from atlas.bench.report import run_bench, table
from atlas.bench.workload import Result, Workload

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
    atlas_row = next(line for line in lines if line.startswith("atlas (fp32, the default)"))
    assert "1.00x" in atlas_row


def test_table_ratios_are_computed_from_the_measurements() -> None:
    results = {"lucent": Result("lucent", 0.03, 2.0, 1), "atlas": Result("atlas", 0.02, 1.9, 1),
               "floor": Result("floor", 0.016, None, 1)}
    text = "\n".join(table(results))
    assert "1.50x" in text  # 30 ms / 20 ms
    assert "atlas activation / lucent best: 0.950 (target ≥ 0.95): met" in text
    assert "atlas / floor: 1.25x (target ≤ 1.3x): met" in text


def test_synthetic_manifest_has_the_requested_units() -> None:
    manifest = synthetic_manifest(3, 7)
    assert sum(len(layer["units"]) for layer in manifest["layers"]) == 21
    unit = manifest["layers"][0]["units"][0]
    assert len(unit["views"]["evolution"]["images"]) == 12


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
