"""MobileNetV2 with its ImageNet weights (`make trained-weights`), behind --run-slow:
a clamped expansion layer's negative view and minimum column show real, distinct
negative values, read before its ReLU6."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas.bench.dataset_pass import sample_photos
from atlas.config import make_config
from atlas.manifest_io import read_manifest
from atlas.pipeline.build import build_atlas

WEIGHTS = Path(__file__).parent.parent / ".cache" / "trained" / "mobilenet_v2-b0353104.pth"


@pytest.mark.slow
def test_mobilenet_v2_expansion_units_go_below_zero(tmp_path: Path) -> None:
    if not WEIGHTS.is_file():
        pytest.skip("MobileNetV2's weights are missing: run `make trained-weights`")
    (tmp_path / "photos").mkdir()
    photos = sample_photos(tmp_path / "photos", 64)
    config = make_config({}, {"model": "torchvision:mobilenet_v2", "weights": str(WEIGHTS),
                              "dataset": str(photos), "layers": ["features.13.conv.0"],
                              # unit 0's negative view crosses zero near step 16 (at
                              # every learning rate tried): 32 steps are past it
                              "channels": "0-1", "steps": 32, "views": ["spectrum"],
                              "example_count": 5, "out": str(tmp_path / "site")})
    build_atlas(config, progress=False)
    layer = read_manifest(tmp_path / "site")["layers"][0]
    assert layer["pre_activation"]["source"] == "the input of ReLU6 features.13.conv.0.2"
    for unit in layer["units"]:
        assert unit["views"]["negative"]["activations"][0] < 0
        lowest = [item["value"] for item in unit["views"]["examples"]["min"]]
        assert all(value < 0 for value in lowest) and len(set(lowest)) == len(lowest)
