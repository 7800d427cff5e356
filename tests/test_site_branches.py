"""An InceptionV1-like atlas: branched layers, large layers, and no probe data.

The site is built from `make_manifest(branches=..., probe=False, joint=False)`:
mixed layers split into 1x1 / 3x3 / 5x5 / pool-proj branches, a 256-unit
layer, a linear layer without neuron or kernel views, a null shortcut, colour
rows with saturation only, no accuracy, no polysemantic units, no joint list.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from site_fixtures import MIXED3A, make_manifest, page_refs

from atlas.site import render_site
from atlas.site.branches import branch_list, channel_span, heading
from atlas.site.summary_view import NO_POLYSEMANTIC, NO_PROBE, NO_SHORTCUT
from atlas.site.views import NO_ACCURACY, layer_view

SMALL_SPLIT = [("1x1", 3), ("3x3", 4), ("5x5", 2), ("pool proj", 3)]  # 12 channels
LAYERS = ["conv2d0", "mixed3a", "mixed3b", "softmax2"]
UNITS = [4, 256, 10, 5]  # mixed3b: only channels 0-9 of 12 are in the atlas
LEAKS = re.compile(r"\b(None|null|nan|NaN|undefined)\b")


def _build(site_dir: Path, **options: Any) -> dict[str, Any]:
    manifest = make_manifest(
        site_dir, layers=LAYERS, units=UNITS, views={"positive"},
        branches={"mixed3a": MIXED3A, "mixed3b": SMALL_SPLIT}, **options)
    render_site(manifest, site_dir, progress=False)
    return manifest


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("inception-site")
    _build(site_dir, probe=False, joint=False, preprocess="imagenet mean/std")
    return site_dir


def _read(site_dir: Path, page: str) -> str:
    return (site_dir / page).read_text(encoding="utf-8")


def _sections(html: str) -> list[tuple[str, list[int]]]:
    """(heading, unit indices of the tiles below it) for each branch heading of the
    grid, in page order (the page as it reads before its script runs)."""
    grid = html[html.index('id="unit-grid"'):html.index("<figcaption>", html.index('id="unit-grid"'))]
    found = []
    for part in grid.split('<h3 class="grid-group"')[1:]:
        if 'data-group-kind="branch"' not in part[:part.index(">")]:
            continue
        title = re.search(r">([^<]*)</h3>", part).group(1)
        found.append((title, [int(i) for i in re.findall(
            r'class="unit-cell unit-tile[^"]*" href="\.\./units/[^/]+/(\d+)\.html"', part)]))
    return found


def test_layer_page_groups_units_by_branch(site: Path) -> None:
    sections = _sections(_read(site, "layers/mixed3a.html"))
    assert [title for title, _ in sections] == [
        "1x1 branch — channels 0–63, 64 units",
        "3x3 branch — channels 64–191, 128 units",
        "5x5 branch — channels 192–223, 32 units",
        "pool proj branch — channels 224–255, 32 units",
    ]
    assert [units for _, units in sections] == [
        list(range(64)), list(range(64, 192)), list(range(192, 224)), list(range(224, 256))]


def test_branch_heading_counts_units_shown(site: Path) -> None:
    sections = _sections(_read(site, "layers/mixed3b.html"))
    assert [title for title, _ in sections] == [
        "1x1 branch — channels 0–2, 3 units",
        "3x3 branch — channels 3–6, 4 units",
        "5x5 branch — channels 7–8, 2 units",
        "pool proj branch — channels 9–11, 3 units, 1 shown",
    ]
    assert [len(units) for _, units in sections] == [3, 4, 2, 1]


def test_branch_toc_links_to_headings(site: Path) -> None:
    html = _read(site, "layers/mixed3a.html")
    refs, ids, _ = page_refs(html)
    fragments = [url[1:] for _, _, url in refs if url.startswith("#")]
    assert fragments == ["branch-1-1x1", "branch-2-3x3", "branch-3-5x5", "branch-4-pool-proj"]
    assert set(fragments) <= ids
    assert "Concatenates 4 branches: 1x1 (channels 0–63), 3x3 (channels 64–191)" in html


def test_layer_without_branches_is_one_grid(site: Path) -> None:
    html = _read(site, "layers/conv2d0.html")
    assert 'data-group-kind="branch"' not in html and "branch" not in html
    assert html.count('class="unit-cell') == 4


def test_large_layer_stays_light(site: Path) -> None:
    html = _read(site, "layers/mixed3a.html")
    imgs = re.findall(r"<img [^>]*>", html)
    assert all('loading="lazy"' in img for img in imgs)
    assert len(re.findall(r'<img class="pixel tile-positive"', html)) == 256
    assert html.count('class="unit-cell') == 256
    # Bytes per unit, all markup included: a tile carries its images, index, label,
    # scores and the data attributes the page sorts and filters by.
    assert len(html.encode()) / 256 < 800


def test_unit_page_names_its_branch(site: Path) -> None:
    html = _read(site, "units/mixed3a/70.html")
    assert "channel 70 of mixed3a, in the 3x3 branch (channels 64–191)" in html
    assert ('<tr><th scope="row">Branch</th><td><a href="../../layers/mixed3a.html'
            '#branch-2-3x3">3x3 (channels 64–191)</a></td></tr>') in html
    assert "in the pool proj branch (channels 224–255)" in _read(site, "units/mixed3a/255.html")
    assert "in the 1x1 branch (channels 0–63)" in _read(site, "units/mixed3a/0.html")
    plain = _read(site, "units/conv2d0/0.html")
    assert "branch" not in plain.lower()


def test_index_mentions_branch_split_and_preprocess(site: Path) -> None:
    html = _read(site, "index.html")
    assert ("Concatenates 4 branches: 1x1 (channels 0–63), 3x3 (channels 64–191), "
            "5x5 (channels 192–223), pool proj (channels 224–255).") in html
    assert '<tr><th scope="row">Preprocess</th><td>imagenet mean/std</td></tr>' in html
    assert NO_ACCURACY in html and "Test accuracy" not in html


def test_summary_without_probe_data(site: Path) -> None:
    html = _read(site, "summary.html")
    for sentence in (NO_PROBE, NO_SHORTCUT, NO_POLYSEMANTIC):
        assert f'<p class="not-measured">{sentence}</p>' in html
    assert "Colour score" not in html and "Verdict" not in html
    colour = html[html.index('id="colour"'):html.index('id="shortcut"')]
    assert re.findall(r'<td class="num">([^<]*)</td>', colour) == ["0.250", "0.375", "0.500"]
    assert "<table" not in html[html.index('id="shortcut"'):]


def test_empty_joint_list(site: Path) -> None:
    """Without joint objectives there is no joint page, and no menu entry opens one."""
    assert not (site / "joint.html").exists()
    assert (site / "summary.html").exists()
    pages = sorted(site.rglob("*.html"))
    assert not [path for path in pages if "joint.html" in path.read_text(encoding="utf-8")]
    assert ">Joint</a>" not in _read(site, "index.html")
    assert ">Summary</a>" in _read(site, "index.html")


def test_no_page_leaks_null_values(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 270
    for path in pages:
        match = LEAKS.search(path.read_text(encoding="utf-8"))
        assert match is None, (path, match and match.group(0))


def test_linear_layer_without_neuron_or_kernel(site: Path) -> None:
    html = _read(site, "units/softmax2/0.html")
    assert 'id="positive"' in html and 'id="neuron"' not in html and 'id="kernel"' not in html


def test_empty_branches_render_like_none(tmp_path: Path) -> None:
    plain = make_manifest(tmp_path / "a", layers=["conv1", "fc"], units=2)
    empty = make_manifest(tmp_path / "b", layers=["conv1", "fc"], units=2, branches={"conv1": []})
    assert empty["layers"][0]["branches"] == [] and "branches" not in plain["layers"][0]
    render_site(plain, tmp_path / "a", progress=False)
    render_site(empty, tmp_path / "b", progress=False)
    for path in sorted((tmp_path / "a").rglob("*.html")):
        rel = path.relative_to(tmp_path / "a")
        assert (tmp_path / "b" / rel).read_bytes() == path.read_bytes(), rel


def test_absent_preprocess_has_no_row(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path, layers=["conv1", "fc"], units=1, preprocess=None)
    render_site(manifest, tmp_path, progress=False)
    assert "Preprocess" not in _read(tmp_path, "index.html")


def test_units_placed_by_label_then_range(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path, layers=["mixed", "fc"], units=[12, 1], views={"positive"},
                             branches={"mixed": SMALL_SPLIT}, write_json=False)
    units = manifest["layers"][0]["units"]
    units[0]["branch"] = None        # no label: placed by its channel index (1x1)
    units[5]["branch"] = "5x5"       # the label wins over the range (3x3)
    units[11]["branch"] = "unknown"  # a label no branch has: "Other units", last
    view = layer_view(manifest, 0)
    groups = [(s["group"]["heading"], [int(t["index"]) for t in s["tiles"]])
              for s in view["sections"]]
    assert groups == [
        ("1x1 branch — channels 0–2, 3 units", [0, 1, 2]),
        ("3x3 branch — channels 3–6, 4 units, 3 shown", [3, 4, 6]),
        ("5x5 branch — channels 7–8, 2 units, 3 shown", [5, 7, 8]),
        ("pool proj branch — channels 9–11, 3 units, 2 shown", [9, 10]),
        ("Other units — in no branch, 1 shown", [11]),
    ]


def test_branch_helpers() -> None:
    assert channel_span(0, 64) == "channels 0–63" and channel_span(5, 6) == "channel 5"
    layer = {"branches": [{"label": "1x1", "start": 0, "stop": 1}, {"label": "", "start": 1,
             "stop": 2}, {"label": "bad", "start": 3, "stop": 3}, {"label": "x", "start": "1"},
             None]}
    assert branch_list(layer) == [{"label": "1x1", "start": 0, "stop": 1}]
    assert heading(branch_list(layer)[0], 1) == "1x1 branch — channel 0, 1 unit"
    assert branch_list({}) == [] and branch_list({"branches": None}) == []
