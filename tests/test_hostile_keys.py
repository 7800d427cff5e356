"""Keys cover what changes results: the compare view's batches are cut to
`batch_size` and the kernels round differently at other batch sizes, so
`batch_size` joins the compare key and a rebuild at another batch size gives the
bytes a fresh build there gives, never images kept from the old one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from atlas.config import BuildConfig, make_config
from atlas.models.layers import LayerInfo
from atlas.optvis.transforms import Draws, no_transforms, standard_transforms
from atlas.pipeline import jobs as job_plan
from atlas.pipeline.build import build_atlas
from atlas.pipeline.compare.batch import MixedTransforms

SMALL, LARGE = 3, 1024  # three images a batch cuts the runs of one unit into many batches
UNITS = ["conv2/0", "fc/0"]


def _config(out: Path, batch_size: int):
    return make_config({}, {"layers": ["conv2", "fc"], "channels": "0", "steps": 6,
                            "views": ["compare"], "compare_units": 1, "connections": 0,
                            "dataset": "none", "batch_size": batch_size, "out": str(out)})


def _note(report) -> str:
    return next(note for note in report.notes if note.startswith("compare:"))


def _stored(site: Path) -> dict[str, bytes]:
    """Every stored compare file: its records and images."""
    return {str(path.relative_to(site)): path.read_bytes()
            for unit in UNITS for path in sorted((site / "results" / unit).iterdir())}


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("keys")
    for name, batch_size in (("small", SMALL), ("large", LARGE)):
        build_atlas(_config(root / name, batch_size), progress=False)
    return {"small": root / "small", "large": root / "large"}


def test_the_batch_size_is_in_the_compare_key(sites: dict[str, Path]) -> None:
    records = {name: json.loads((site / "results" / "fc" / "0" / "compare.json").read_text())
               for name, site in sites.items()}
    assert records["small"]["settings"]["batch_size"] == SMALL
    assert records["large"]["settings"]["batch_size"] == LARGE
    assert records["small"]["key"] != records["large"]["key"]


def test_a_rebuild_at_another_batch_size_gives_a_fresh_builds_bytes(
        sites: dict[str, Path], tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(sites["small"], site)
    assert len(_stored(site)) > 2 * len(UNITS)  # records and their images
    report = build_atlas(_config(site, LARGE), progress=False)
    assert _note(report).startswith("compare: 2 of 2 units computed, ")
    assert _stored(site) == _stored(sites["large"])
    again = build_atlas(_config(site, LARGE), progress=False)
    assert _note(again).startswith("compare: 0 of 2 units computed, 0 images optimized")


def test_the_batch_size_keys_no_other_view() -> None:
    info = LayerInfo("conv2", "Conv2d", (16, 14, 14))
    keys = {}
    for batch_size in (SMALL, LARGE):
        config = BuildConfig(batch_size=batch_size)
        common = job_plan.common_settings(config, "colored-digits", None, 28, "standard")
        keys[batch_size] = [job.key for job in job_plan.unit_jobs(config, common, info, 0)]
    assert keys[SMALL] == keys[LARGE] and keys[SMALL]


def test_every_compare_batch_reaches_the_model_in_one_layout() -> None:
    """Crops come out channels-last; a batch of them alone went to the model so,
    one with an untransformed part contiguous, and convolutions round differently."""
    images = torch.rand(4, 3, 28, 28)
    draws = Draws(range(4), 1).at(0)
    for parts in ([(0, 4, standard_transforms(28))],
                  [(0, 2, standard_transforms(28)), (2, 4, no_transforms(28))]):
        out = MixedTransforms(parts)(images, draws)
        assert out.shape == (4, 3, 28, 28) and out.is_contiguous()
