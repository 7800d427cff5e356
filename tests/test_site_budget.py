"""`site_budget`: the build stores fewer, smaller dataset examples until its predicted
site fits, says what it chose, and refuses a budget nothing can meet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atlas.cli import main
from atlas.config import make_config
from atlas.errors import AtlasError
from atlas.pipeline.build import build_atlas
from atlas.pipeline.dataset.examples import CropFormat
from atlas.pipeline.cost.site_budget import MARGIN, ExampleChoice, choices, fit
from atlas.pipeline.cost.site_size import kind_of, measure_site

SETTINGS = {"layers": ["conv2", "conv3"], "channels": "0-3", "steps": 8,
            "views": ["positive", "examples"]}


def test_choices_go_from_the_builds_own_examples_down_to_one_small_one() -> None:
    webp = CropFormat("webp", 87)
    found = [(c.count, c.crops.pixels, c.crops.quality) for c in choices(10, webp)]
    assert found[:3] == [(10, 112, 87), (10, 96, 87), (10, 96, 80)]
    assert found[3:10] == [(n, 96, 80) for n in (8, 6, 5, 4, 3, 2, 1)]
    assert found[10:] == [(1, 80, 80), (1, 64, 80)]
    png = CropFormat("png", 90, pixels=1 << 30)
    assert [c.count for c in choices(5, png)] == [5, 4, 3, 2, 1]


def _price(choice: ExampleChoice) -> dict[str, float]:
    """A site of 600 bytes plus 100 a stored example at full size."""
    return {"pages": 600.0, "dataset examples": 100.0 * choice.count
            * (choice.crops.pixels / 112) ** 2}


def test_fit_takes_the_richest_choice_within_the_budget_less_its_margin() -> None:
    webp = CropFormat("webp", 87)
    assert not fit(10_000, 10, webp, _price).changed  # 1,600 bytes: fits as it is
    fitted = fit(int(1200 / (1 - MARGIN)) + 1, 10, webp, _price)
    # 10 at 96 px and quality 80: 1,335 bytes; 8: 1,188
    assert fitted.changed and fitted.choice.count == 8 and fitted.choice.crops.pixels == 96
    assert sum(fitted.storage.values()) <= 1200
    assert "chose 8 examples per column, 96 px, WEBP quality 80" in fitted.line()
    with pytest.raises(AtlasError, match="cannot be met.*pages 600"):
        fit(500, 10, webp, _price)


def test_published_kinds_leave_out_the_caches() -> None:
    assert kind_of(("results", "_dataset", "conv1", "values.npy")) is None
    assert kind_of(("results", "_build", "build.json")) is None
    assert kind_of((".atlas.lock",)) is None
    assert kind_of(("results", "_examples", "f00d", "conv1", "1-2-3.png")) == "dataset examples"
    assert kind_of(("results", "conv1", "0", "positive.json")) == "records"
    assert kind_of(("results", "conv1", "0", "positive-0.png")) == "optimized images"
    assert kind_of(("units", "conv1", "0.html")) == "unit pages"
    assert kind_of(("data", "conv1-abc.json")) == "manifest"


def _examples_per_column(site: Path) -> set[int]:
    counts = set()
    for record in (site / "results").glob("conv*/*/examples.json"):
        columns = json.loads(record.read_text())["columns"]
        counts |= {len(columns[name]) for name in ("max", "min")}
    return counts


def test_a_build_with_a_budget_fits_it_and_says_what_it_chose(tmp_path: Path) -> None:
    full = build_atlas(make_config({}, {**SETTINGS, "out": str(tmp_path / "full")}),
                       progress=False)
    whole = measure_site(tmp_path / "full").total
    assert _examples_per_column(tmp_path / "full") == {10}
    budget = int(whole * 0.85)
    report = build_atlas(make_config({}, {**SETTINGS, "out": str(tmp_path / "fit"),
                                          "site_budget": f"{budget}B"}), progress=False)
    chose = [note for note in report.notes if note.startswith("site budget")]
    assert len(chose) == 1 and "chose" in chose[0], report.notes
    fewer = _examples_per_column(tmp_path / "fit")
    assert len(fewer) == 1 and fewer.pop() < 10
    assert measure_site(tmp_path / "fit").total <= budget
    assert any(note.startswith("site: ") for note in full.notes)


def test_a_budget_nothing_meets_is_one_line_and_exit_2(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    code = main(["build", "--layers", "conv2", "--channels", "0-1", "--steps", "4",
                 "--views", "positive,examples", "--out", str(tmp_path / "site"),
                 "--site-budget", "10KB", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert "site_budget 10.0 KB cannot be met" in err and "Traceback" not in err
