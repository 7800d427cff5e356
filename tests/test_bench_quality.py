"""`atlas bench --quality` on a tiny workload: every parameterization is built
and measured, torch-lucent's images are measured the same way, and the
table's figures are what the stored images and records say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from atlas.bench.quality import CANDIDATES, LUCENT, saturated_share
from atlas.cli import main


def _png(path: Path, values: list[int]) -> Path:
    array = np.asarray(values, dtype=np.uint8).reshape(1, len(values) // 3, 3)
    Image.fromarray(array, mode="RGB").save(path)
    return path


def test_saturated_share_counts_values_at_0_and_255(tmp_path: Path) -> None:
    first = _png(tmp_path / "a.png", [0, 1, 254, 255, 128, 0])  # 3 of 6
    second = _png(tmp_path / "b.png", [10, 20, 30, 40, 50, 60])  # 0 of 6
    assert saturated_share([first]) == pytest.approx(0.5)
    assert saturated_share([first, second]) == pytest.approx(0.25)


def test_quality_bench_builds_every_parameterization_and_lucent(capsys) -> None:
    assert main(["bench", "--quality", "--layer", "conv2", "--channels", "2",
                 "--steps", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    assert "faithfulness" in lines[header] and "saturated" in lines[header]
    rows = [line.split() for line in lines[header + 2:] if line.strip()]
    assert [row[0] for row in rows] == [*CANDIDATES, LUCENT]
    for row in rows:
        assert row[1] == "conv2" and row[2] == "2"
        float(row[3])  # activation
        float(row[5])  # faithfulness: the default model has its own dataset
        assert row[6].endswith("%")
        float(row[7])  # retention: every method made diversity images of a conv layer
    assert lines[0].startswith("atlas bench --quality: model colored-digits")


def test_quality_bench_reports_the_recognition_of_class_logits(capsys) -> None:
    assert main(["bench", "--quality", "--layer", "fc", "--units", "0,3,8", "--steps", "4",
                 "--views", "positive,examples"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    assert lines[header].split()[-6:] == ["top-1", "top-5", "top", "example", "in", "class"]
    rows = [line.split() for line in lines[header + 2:] if line.strip()]
    assert [row[0] for row in rows] == [*CANDIDATES, LUCENT]
    for row in rows:
        assert row[1] == "fc" and row[2] == "3"
        top1, top5 = (float(value.rstrip("%")) for value in row[-5:-3])
        assert 0 <= top1 <= top5 <= 100
        assert round(top1 * 3) % 100 == 0 and round(top5 * 3) % 100 == 0  # shares of 3 logits
        assert row[-3] in ("0", "1", "2", "3") and row[-2:] == ["of", "3"]


def test_vary_makes_one_candidate_per_value_typed_as_the_setting() -> None:
    from atlas.bench.quality import vary_candidates
    from atlas.errors import AtlasError

    assert vary_candidates(["lr=0.02,1", "jitter=4,16", "param=pixel"]) == {
        "lr=0.02": {"lr": 0.02}, "lr=1": {"lr": 1.0}, "jitter=4": {"jitter": 4},
        "jitter=16": {"jitter": 16}, "param=pixel": {"param": "pixel"}}
    with pytest.raises(AtlasError, match="--vary takes"):
        vary_candidates(["speed=3"])
    with pytest.raises(AtlasError, match="'jitter' must be a whole number"):
        vary_candidates(["jitter=0.5"])


def test_quality_bench_measures_the_views_made_from_dataset_images(capsys) -> None:
    assert main(["bench", "--quality", "--layer", "conv2", "--channels", "2", "--steps", "4",
                 "--views", "positive,accent,caricature", "--vary", "param=pixel"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    assert lines[header].rstrip().endswith("accent before  accent after  accent moved  caricature")
    rows = [line.split() for line in lines[header + 2:] if line.strip()]
    assert [row[0] for row in rows] == ["param=pixel", LUCENT]
    before, after, moved, caricature = (float(value) for value in rows[0][-4:])
    assert after > before and 0 < moved <= 0.1 + 1e-6 and caricature > 0
    assert rows[1][-4:] == ["-"] * 4  # torch-lucent makes neither


def test_a_sweep_can_leave_torch_lucent_out(capsys) -> None:
    assert main(["bench", "--quality", "--layer", "conv2", "--channels", "1", "--steps", "2",
                 "--views", "positive", "--vary", "lr=0.05,0.2", "--without-lucent"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    rows = [line.split() for line in lines[header + 2:] if line.strip()]
    assert [row[0] for row in rows] == ["lr=0.05", "lr=0.2"]
