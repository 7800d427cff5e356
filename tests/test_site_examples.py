"""Dataset examples on the pages: the spectrum and examples sections, the
histogram's exact geometry, labels and measurements under a unit's title, the
layer page's switch, the index page's dataset line, the summary's data parts,
and what each page says when there is no dataset. Class and file names are
untrusted: a hostile dataset must come out escaped everywhere."""

from __future__ import annotations

import math
import posixpath
import re
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import unquote, urlsplit

import pytest
from markupsafe import escape
from site_fixtures import DATASET_IMAGES, EXAMPLE_COUNT, make_manifest, page_refs

from atlas import manifest_types as types
from atlas.site import render_site
from atlas.site.dataset_notes import ADD_DATASET, NO_DATASET, dataset_line
from atlas.site.examples_view import (
    COLUMN_TITLES,
    example_entry,
    examples_section,
    spectrum_section,
    value_stats,
)
from atlas.site.formatting import sig3
from atlas.site.labels import example_caption as label_text
from atlas.site.histogram import Mark, histogram_chart, nice_step, tick_values
from atlas.site.sections import SECTIONS
from atlas.site.summary_view import (
    NO_EXAMPLES_COLOUR,
    NO_FAITHFULNESS,
    NO_SHORTCUT_EXAMPLES,
    POLY_FROM_SEEDS,
    summary_view,
)
from atlas.site.unit_view import label_parts, measures, unit_view
from atlas.site.labels import dominant_labels
from atlas.site.views import index_view, layer_view

SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
HOSTILE_SOURCE = '"><img src=x onerror=alert(2)>/'
CLASSES = (SCRIPT, "a\"b'c", "2", "3")
LAYERS = ["conv1", "conv2", "fc"]
UNITS = [3, 2, 4]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    site_dir = tmp_path_factory.mktemp("dataset-site")
    manifest = make_manifest(site_dir, layers=LAYERS, units=UNITS, dataset=True,
                             failed={("conv1", 2): {"positive": "diverged"}})
    render_site(manifest, site_dir, progress=False)
    return site_dir, manifest


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    site_dir = tmp_path_factory.mktemp("hostile-site")
    manifest = make_manifest(site_dir, layers=LAYERS, units=UNITS, dataset=True,
                             class_names=CLASSES, source_prefix=HOSTILE_SOURCE)
    render_site(manifest, site_dir, progress=False)
    return site_dir, manifest


def _read(site_dir: Path, page: str) -> str:
    return (site_dir / page).read_text(encoding="utf-8")


def _unit(manifest: dict[str, Any], layer: int, unit: int) -> dict[str, Any]:
    return manifest["layers"][layer]["units"][unit]


# The histogram: exact geometry ------------------------------------------------

def test_histogram_geometry() -> None:
    chart = histogram_chart([0, 1, 2, 3, 4], [1, 2, 4, 0], [
        Mark("threshold", "threshold", 2.0), Mark("data-max", "data max", 4.0),
        Mark("positive", "positive view", 5.0)])
    assert chart is not None
    # the axis reaches out to 5 for the positive view (within half a span); x = 44 + 100 v
    assert chart["view_box"] == "0 0 560 164" and chart["height"] == "164"
    assert chart["bars"] == [  # the empty bin draws nothing; 4 images is the full 110 px
        {"x": "44", "y": "114.5", "width": "99", "height": "27.5",
         "title": "0.00 to 1.00: 1 image"},
        {"x": "144", "y": "87", "width": "99", "height": "55", "title": "1.00 to 2.00: 2 images"},
        {"x": "244", "y": "32", "width": "99", "height": "110", "title": "2.00 to 3.00: 4 images"},
    ]
    # threshold and data max share the first label row; the positive view's label
    # would overlap the data max's, so it goes to the second row, anchored at its end
    assert chart["marks"] == [
        {"class": "threshold", "x": "244", "label_x": "247", "anchor": "start",
         "text": "threshold 2.00", "clipped": False, "label_y": "14", "y0": "17", "y1": "142"},
        {"class": "data-max", "x": "444", "label_x": "447", "anchor": "start",
         "text": "data max 4.00", "clipped": False, "label_y": "14", "y0": "17", "y1": "142"},
        {"class": "positive", "x": "544", "label_x": "541", "anchor": "end",
         "text": "positive view 5.00", "clipped": False, "label_y": "28", "y0": "31",
         "y1": "142"},
    ]
    assert [(t["x"], t["text"]) for t in chart["ticks"]] == [("44", "0"), ("244", "2"),
                                                             ("444", "4")]
    assert chart["base"] == {"x0": "44", "x1": "544", "y": "142"}
    assert chart["counts"] == {"x": "38", "top": "36", "base": "142", "tallest": "4"}
    assert chart["summary"] == "7 images from 0.00 to 4.00 in 4 bins, at most 4 in one"


def test_histogram_pins_a_far_mark_at_the_edge() -> None:
    chart = histogram_chart([0, 1, 2], [3, 1], [
        Mark("threshold", "threshold", -0.5), Mark("positive", "positive view", 10.0),
        Mark("none", "absent", None), Mark("nan", "nan", float("nan"))])
    assert chart is not None
    # axis: -0.5 (a mark within half a span) to 3 (the most it may stretch); 10 is pinned
    threshold, positive = chart["marks"]
    assert (threshold["x"], threshold["clipped"]) == ("44", False)
    assert positive == {"class": "positive", "x": "544", "label_x": "541", "anchor": "end",
                        "text": "positive view 10.0 →", "clipped": True, "label_y": "14",
                        "y0": "17", "y1": "128"}
    assert [b["x"] for b in chart["bars"]] == ["115.43", "258.29"]
    assert [b["height"] for b in chart["bars"]] == ["110", "36.67"]
    assert [t["text"] for t in chart["ticks"]] == ["0", "1", "2", "3"]
    low = histogram_chart([0, 1], [5], [Mark("m", "m", -100.0)])
    assert low is not None and low["marks"][0]["text"] == "← m -100" and \
        low["marks"][0]["anchor"] == "start" and low["marks"][0]["x"] == "44"


def test_histogram_keeps_a_lone_image_visible() -> None:
    chart = histogram_chart([0, 1, 2], [1000, 1], [])
    assert chart is not None and chart["marks"] == []
    assert chart["bars"][1]["height"] == "1.5"  # MIN_BAR, not 0.11 px
    assert chart["counts"]["tallest"] == "1,000" and chart["view_box"] == "0 0 560 140"


@pytest.mark.parametrize(("edges", "counts"), [
    ([], []), ([0, 1], []), ([0, 1, 2], [1]), ([0, 1], [0]), ([1, 0], [3]),
    ([0, 0], [3]), ([0, float("nan")], [3]), ([0, 1], [-1]), ([0, float("inf")], [3]),
])
def test_histogram_refuses_what_it_cannot_draw(edges: list[float], counts: list[int]) -> None:
    assert histogram_chart(edges, counts, [Mark("t", "t", 0.5)]) is None


def test_nice_ticks() -> None:
    assert nice_step(5.0) == 2 and nice_step(0.003) == 0.001 and nice_step(40.0) == 10
    assert tick_values(-0.3, 0.7) == ([0.0, 0.5], 1)
    assert tick_values(-1, 1) == ([-1.0, -0.5, 0.0, 0.5, 1.0], 1)
    assert tick_values(0, 37) == ([0.0, 10.0, 20.0, 30.0], 0)


def test_constant_unit_histogram() -> None:
    """One narrow bin around the value (what the pipeline stores for a constant unit)."""
    chart = histogram_chart([0.999, 1.001], [50], [Mark("data-max", "data max", 1.0)])
    assert chart is not None and len(chart["bars"]) == 1
    assert chart["marks"][0]["x"] == "294" and chart["marks"][0]["text"] == "data max 1.00"
    assert all(math.isfinite(float(t["x"])) for t in chart["ticks"])


# View models -------------------------------------------------------------------

def test_example_entry_and_labels() -> None:
    item = {"image": "results/_examples/f/conv1/3-1-2.png", "source": "cats/a b.png",
            "value": 2.345, "position": [1, 2], "labels": {"class": "cat", "colour": "red"}}
    entry = example_entry("units/conv1/0.html", "conv1:0, max 1", item)
    assert entry == {"src": "../../results/_examples/f/conv1/3-1-2.png", "alt": "conv1:0, max 1",
                     "value": "2.35", "labels": "cat · red",
                     "title": "cats/a b.png at (1, 2) · class cat, colour red · value 2.35"}
    optimized = example_entry("units/conv1/0.html", "x", {"image": "p.png", "value": -1},
                              prefix="mean")
    assert optimized is not None and optimized["value"] == "mean -1.00"
    assert optimized["title"] == "value -1.00" and optimized["labels"] == ""
    assert example_entry("index.html", "x", {"value": 1.0}) is None
    assert label_text(None) == "" and label_text({"class": "3", "colour": ""}) == "3"


def test_spectrum_view_model(site: tuple) -> None:
    _, manifest = site
    unit = _unit(manifest, 0, 0)
    built = spectrum_section(unit["page"], "conv1:0", SECTIONS["spectrum"],
                             unit["views"]["spectrum"], unit)
    assert [c["title"] for c in built["columns"]] == [
        "Negative optimized", "Minimum activation", "Slightly negative", "Slightly positive",
        "Maximum activation", "Positive optimized"]
    assert [len(c["images"]) for c in built["columns"]] == [1, 4, 4, 4, 4, 1]
    assert [c["optimized"] for c in built["columns"]] == [True] + [False] * 4 + [True]
    assert built["columns"][2]["note"] == "just below 0.00"
    assert built["columns"][3]["note"] == "at or just above 0.00"
    positive = unit["views"]["positive"]["activations"][0]
    assert built["columns"][5]["images"][0]["value"] == f"mean {sig3(positive)}"
    top = unit["views"]["examples"]["max"][0]
    first = built["columns"][4]["images"][0]
    assert first["src"] == "../../" + top["image"]
    assert first["title"].startswith(f"{top['source']} at ({top['position'][0]}, ")
    assert "strongest activation over positions" in built["caption"]
    # a linear unit: whole images, no "mean" prefix, plainer caption
    fc = _unit(manifest, 2, 0)
    linear = spectrum_section(fc["page"], "fc:0", SECTIONS["spectrum"], fc["views"]["spectrum"],
                              fc)
    assert not linear["columns"][5]["images"][0]["value"].startswith("mean")
    assert "Each value is the unit's activation." in linear["caption"]


def test_spectrum_without_the_positive_view(site: tuple) -> None:
    site_dir, manifest = site
    unit = _unit(manifest, 0, 2)  # its positive view failed
    assert "positive" not in unit["views"]
    columns = unit["views"]["spectrum"]["columns"]
    assert columns[-1] == {"name": "positive", "items": []}
    html = _read(site_dir, unit["page"])
    spectrum = html[html.index('<h2 id="spectrum"'):html.index('<h2 id="negative"')]
    assert spectrum.count('<span class="no-image">none</span>') == 1
    assert spectrum.count("<img ") == 17


def test_examples_view_model(site: tuple) -> None:
    _, manifest = site
    unit = _unit(manifest, 1, 1)
    data = unit["views"]["examples"]
    built = examples_section(unit["page"], "conv2:1", SECTIONS["examples"], data, unit)
    assert [c["name"] for c in built["columns"]] == ["min", "below", "above", "max"]
    assert [c["title"] for c in built["columns"]] == [COLUMN_TITLES[n] for n in
                                                     ("min", "below", "above", "max")]
    assert [len(c["images"]) for c in built["columns"]] == [len(data[n]) for n in
                                                           ("min", "below", "above", "max")]
    assert len(built["columns"][3]["images"]) == EXAMPLE_COUNT
    chart = built["histogram"]
    assert chart is not None
    assert [m["class"] for m in chart["marks"]] == ["threshold", "data-max", "positive"]
    assert chart["summary"].startswith(f"{DATASET_IMAGES} images from ")
    assert [row["label"] for row in built["stats"]] == [
        "min", "1%", "10%", "25%", "median", "75%", "90%", "99%", "max", "mean", "positive view"]


def test_examples_with_missing_parts() -> None:
    built = examples_section("units/a/0.html", "a:0", SECTIONS["examples"],
                             {"max": [], "threshold": None, "histogram": {}, "stats": {}},
                             {"scores": {}})
    assert built["histogram"] is None and built["stats"] == []
    assert [c["images"] for c in built["columns"]] == [[], [], [], []]
    assert "Threshold —" in built["caption"]
    assert value_stats({"max": 2.0, "quantiles": {"0.5": 1.0, "bad": 3, "1.5": 4}}, None) == [
        {"label": "median", "value": "1.00"}, {"label": "max", "value": "2.00"}]


def test_unit_labels_and_measures() -> None:
    unit = {"labels": {"class": {"value": "3", "count": 9, "of": 10},
                       "colour": {"value": "red", "count": 10, "of": 10},
                       "bad": None, "empty": {"value": ""}},
            "scores": {"faithfulness": 0.6234, "faithfulness_baseline": 0.05,
                       "super_stimulus": 1.8, "positive_value": 4.2},
            "views": {"examples": {"stats": {"max": 2.3333}}}}
    assert label_parts(unit["labels"]) == [
        {"key": "class", "value": "3", "share": "9/10"},
        {"key": "colour", "value": "red", "share": "10/10"}]
    assert measures(unit) == [
        {"label": "faithfulness", "value": "0.623", "detail": "random images 0.0500"},
        {"label": "super-stimulus ratio", "value": "1.80",
         "detail": "positive view 4.20 / data max 2.33"}]
    assert measures({"scores": {"faithfulness": None, "super_stimulus": None}}) == []
    long = "class 3 (9 of 10 top examples), colour red (10 of 10 top examples)"
    assert dominant_labels(unit) == ("3 · red", long)


def test_unit_page_top(site: tuple) -> None:
    site_dir, manifest = site
    unit = _unit(manifest, 0, 0)
    view = unit_view(manifest, 0, 0)
    assert view["dataset_note"] is None
    assert [v["id"] for v in view["views"]][:2] == ["spectrum", "positive"]
    assert view["views"][-1]["id"] == "examples"
    html = _read(site_dir, unit["page"])
    head = html[:html.index('<nav class="toc"')]
    for key, share in unit["labels"].items():
        assert (f'<span class="fact-key">{key}</span> <strong>{share["value"]}</strong> '
                f'<span class="fact-share">{share["count"]}/{share["of"]}</span>') in head
    assert '<span class="fact-key">faithfulness</span>' in head
    assert '<span class="fact-key">super-stimulus ratio</span>' in head
    # the spectrum is the first section, its images load eagerly
    assert html.index('<h2 id="spectrum"') < html.index('<h2 id="positive"')
    spectrum = html[html.index('<h2 id="spectrum"'):html.index('<h2 id="positive"')]
    assert spectrum.count('class="spectrum-column') == 6
    assert spectrum.count("<img ") == 18 and 'loading="lazy"' not in spectrum
    examples = html[html.index('<h2 id="examples"'):]
    assert examples.count('class="examples-column"') == 4
    assert '<svg class="histogram-chart"' in examples and ".svg" not in html


# The other pages ------------------------------------------------------------------

def test_layer_page_switch(site: tuple) -> None:
    site_dir, manifest = site
    view = layer_view(manifest, 0)
    assert [c["value"] for c in view["choices"]] == ["positive", "negative", "example"]
    cell = view["sections"][0]["tiles"][0]
    top = _unit(manifest, 0, 0)["views"]["examples"]["max"][0]["image"]
    shown = {entry["name"]: entry for entry in cell["images"]}
    assert shown["example"]["image"]["src"] == "../" + top
    assert cell["label"] == dominant_labels(_unit(manifest, 0, 0))[0]
    html = _read(site_dir, "layers/conv1.html")
    assert html.count('type="radio" name="tiles"') == 3
    assert html.index('id="tiles-example"') < html.index('class="unit-grid')
    assert html.count('class="pixel tile-positive"') == 2  # unit 2's positive view failed
    assert html.count('<span class="no-image tile-positive">failed</span>') == 1
    assert html.count('class="pixel tile-example"') == 3
    assert html.count('class="unit-label"') == 3


def test_layer_page_without_dataset_switches_positive_and_negative(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path, layers=["conv1", "fc"], units=2)
    render_site(manifest, tmp_path, progress=False)
    html = _read(tmp_path, "layers/conv1.html")
    assert html.count('type="radio" name="tiles"') == 2
    assert "tiles-example" not in html and "tile-example" not in html
    assert "unit-label" not in html  # no dataset, no labels


def test_index_dataset_line(site: tuple) -> None:
    site_dir, manifest = site
    line = dataset_line(manifest)
    assert line["counts"] == f"{DATASET_IMAGES} images scanned"
    assert line["skipped"] == "3 files were skipped (could not be read)"
    assert line["skipped_sources"] == ["test/broken-0.png", "test/broken-1.png"]
    assert line["skipped_more"] is True and line["labels"] == "labelled by class and colour"
    html = _read(site_dir, "index.html")
    assert (f"<strong>Dataset</strong> {manifest['dataset']['description']}. "
            f"{DATASET_IMAGES} images scanned, labelled by class and colour; 3 files were "
            "skipped (could not be read): <code>test/broken-0.png</code>, "
            "<code>test/broken-1.png</code> and others.") in html
    assert index_view(manifest)["dataset"]["scanned"] is True


def test_summary_data_parts(site: tuple) -> None:
    site_dir, manifest = site
    view = summary_view(manifest)
    colour = view["colour"]
    assert [c["label"] for c in colour["columns"]] == [
        "Colour score", "Shape score", "Verdict", "Saturation", "Top examples in one colour",
        "Top examples of one class", "Verdict from examples"]
    row = manifest["summary"]["colour"]["layers"][0]
    assert colour["layers"][0]["cells"][4]["text"] == f"{100 * row['top_colour_share']:.1f}%"
    assert colour["examples_note"] is None and colour["examples_method"]
    shortcut = view["shortcut"]
    first = manifest["summary"]["shortcut"]["classes"][0]
    assert shortcut["examples"] and shortcut["examples_note"] is None
    assert shortcut["classes"][0]["top_of_class"] == f"{first['top_of_class']} of 10"
    assert shortcut["classes"][0]["top_in_colour"] == f"{first['top_in_class_colour']} of 10"
    assert len(shortcut["classes"][0]["top_images"]) == 5
    poly = view["polysemantic"]
    assert poly["score_header"] == "Score (top examples)" and poly["cross_checks"]
    assert poly["diversity"] and poly["seeds_note"] is None
    assert poly["units"][0]["seeds_score"] == "0.200"
    assert poly["units"][1]["diversity_score"] == "—"
    assert len(poly["units"][0]["examples"]) == 5
    faithful = view["faithfulness"]
    assert [r["name"] for r in faithful["layers"]] == LAYERS and faithful["note"] is None
    html = _read(site_dir, "summary.html")
    assert '<h2 id="faithfulness">' in html and ADD_DATASET not in html
    table = html[html.index('<table class="data faithfulness">'):]
    for layer in manifest["summary"]["faithfulness"]["layers"]:
        assert (f'<td class="num">{sig3(layer["faithfulness"])}</td><td class="num">'
                f'{sig3(layer["baseline"])}</td><td class="num">'
                f'{sig3(layer["super_stimulus"])}</td>') in table
    poly_html = html[html.index('<h2 id="polysemantic"'):html.index('<h2 id="faithfulness"')]
    assert poly_html.count("<img ") == 2 * 5 + 2 * 5  # top examples and seeds of 2 units


def test_pages_without_a_dataset_say_how_to_add_one(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path, layers=["conv1", "fc"], units=2)
    render_site(manifest, tmp_path, progress=False)
    command = f"Add a dataset with <code>{ADD_DATASET}</code>."
    index = _read(tmp_path, "index.html")
    assert f'<p class="not-measured">{NO_DATASET} {command}</p>' in index
    unit = _read(tmp_path, "units/conv1/0.html")
    assert f"{NO_DATASET} {command}" in unit and 'id="spectrum"' not in unit
    summary = _read(tmp_path, "summary.html")
    for sentence in (NO_EXAMPLES_COLOUR, NO_SHORTCUT_EXAMPLES, POLY_FROM_SEEDS, NO_FAITHFULNESS):
        escaped = sentence.replace("'", "&#39;")
        assert f'<p class="not-measured">{escaped} {command}</p>' in summary, sentence
    assert "Verdict from examples" not in summary and "<table class=\"data faithfulness\"" \
        not in summary


def test_hostile_class_and_file_names_are_escaped(hostile: tuple) -> None:
    site_dir, manifest = hostile
    pages = sorted(site_dir.rglob("*.html"))
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert SCRIPT not in text and "<img src=x" not in text and "a\"b'c" not in text, path
        # the parser sees no injected tag: every image is one of ours
        refs, _, _ = page_refs(text)
        assert all(url.endswith(".png") for tag, _, url in refs if tag == "img"), path
    unit = _unit(manifest, 0, 0)
    html = _read(site_dir, unit["page"])
    assert ESCAPED_SCRIPT in html  # captions and tooltips show the class, escaped
    assert 'title="&#34;&gt;&lt;img src=x onerror=alert(2)&gt;/' in html
    layer = _read(site_dir, "layers/conv1.html")
    for cell in manifest["layers"][0]["units"]:
        assert f'<span class="unit-label">{escape(dominant_labels(cell)[0])}</span>' in layer
    assert "&lt;img src=x onerror=alert(2)&gt;/broken-0.png" in _read(site_dir, "index.html")
    summary = _read(site_dir, "summary.html")
    assert ESCAPED_SCRIPT in summary or "a&#34;b&#39;c" in summary


def test_every_link_of_the_dataset_site_resolves(hostile: tuple) -> None:
    site_dir, _ = hostile
    checked = 0
    for path in sorted(site_dir.rglob("*.html")):
        page = path.relative_to(site_dir).as_posix()
        refs, ids, _ = page_refs(path.read_text(encoding="utf-8"))
        for tag, attr, url in refs:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc and not url.startswith("/"), url
            target = posixpath.normpath(posixpath.join(posixpath.dirname(page),
                                                       unquote(parts.path))) if parts.path else page
            assert (site_dir / target).is_file(), f"{page}: <{tag} {attr}={url!r}>"
            if parts.fragment and target == page:
                assert parts.fragment in ids, (page, url)
            checked += 1
    assert checked > 1000


def test_no_raw_nulls_on_the_dataset_site(site: tuple) -> None:
    site_dir, _ = site
    for path in sorted(site_dir.rglob("*.html")):
        found = re.search(r"\b(None|null|nan|NaN|undefined)\b", path.read_text(encoding="utf-8"))
        assert found is None, (path, found and found.group(0))


# The fixture keeps to the contract ---------------------------------------------------

def _keys(typed: type) -> set[str]:
    return {"class" if key == "class_" else key for key in get_type_hints(typed)}


def test_fixture_follows_manifest_types(site: tuple) -> None:
    _, manifest = site
    # every required field; `classes` only where a build has class pages
    assert types.Manifest.__required_keys__ <= set(manifest) <= _keys(types.Manifest)
    assert _keys(types.Manifest) - set(manifest) == {"classes"}
    assert set(manifest["dataset"]) == _keys(types.DatasetInfo)
    layer = manifest["layers"][0]
    assert set(layer) <= _keys(types.LayerEntry) and "receptive_field" in layer
    assert all(set(family) == _keys(types.Family) for family in layer["families"])
    unit = layer["units"][0]
    assert set(unit) <= _keys(types.UnitEntry) and {"family", "connections"} <= set(unit)
    assert all(set(entry) == _keys(types.Connection)
               for entries in unit["connections"].values() for entry in entries)
    assert set(unit["scores"]) == _keys(types.UnitScores)
    assert set(unit["labels"]["class"]) == _keys(types.LabelShare)
    examples = unit["views"]["examples"]
    assert set(examples) == _keys(types.ExamplesEntry)
    assert set(examples["histogram"]) == _keys(types.Histogram)
    assert all(set(item) == _keys(types.Example) for column in ("max", "min", "below", "above")
               for item in examples[column])
    spectrum = unit["views"]["spectrum"]
    assert set(spectrum) == _keys(types.SpectrumEntry)
    assert [c["name"] for c in spectrum["columns"]] == [
        "negative", "min", "below", "above", "max", "positive"]
    assert all(set(item) <= _keys(types.SpectrumItem) for c in spectrum["columns"]
               for item in c["items"])
    summary = manifest["summary"]
    assert all(set(row) <= _keys(types.ColourRow) for row in summary["colour"]["layers"])
    assert all(set(row) <= _keys(types.ShortcutClass) | {"unit_page"}
               for row in summary["shortcut"]["classes"])
    assert all(set(row) <= _keys(types.PolysemanticUnit) for row in summary["polysemantic"]["units"])
    assert all(set(row) == _keys(types.FaithfulnessRow)
               for row in summary["faithfulness"]["layers"])


def test_docs_name_every_manifest_field() -> None:
    """docs/manifest.md explains format 2: every field of the contract is named there."""
    docs = (Path(__file__).parent.parent / "docs" / "manifest.md").read_text(encoding="utf-8")
    assert f'"format": {types.FORMAT}' in docs
    for typed in (types.Manifest, types.DatasetInfo, types.LayerEntry, types.UnitEntry,
                  types.UnitScores, types.LabelShare, types.ViewEntry, types.Example,
                  types.ExamplesEntry, types.Histogram, types.SpectrumEntry,
                  types.SpectrumColumn, types.ColourRow, types.ShortcutClass,
                  types.PolysemanticUnit, types.FaithfulnessRow, types.JointEntry,
                  types.Family, types.Connection, types.CompareUnit, types.CompareCell, types.CompareChoice, types.CompareRow, types.CompareAxis, types.CompareEntry):
        for key in _keys(typed):
            assert f'"{key}"' in docs, (typed.__name__, key)
