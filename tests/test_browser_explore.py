"""Working with the site in headless Chromium: keys, sorting, filtering, switching
tiles, search; phone and desktop widths; file:// and an HTTP server under a
sub-path (as GitHub Pages serves a project site); and the speed of search over
50,000 units and of sorting a 1,024-unit layer, measured in the browser.

Screenshots and the measured timings go to /tmp/atlas-shots/.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from site_fixtures import MIXED3A, make_manifest
from test_browser import SHOTS, browser  # noqa: F401  (the headless Chromium fixture)

from atlas.synthetic_atlas import synthetic_layer, synthetic_manifest
from atlas.fsio import write_text_atomic
from atlas.site import render_site
from atlas.site.frame import SEARCH_INDEX
from atlas.site.render import _copy_static, layer_page, make_environment, templates_dir
from atlas.site.search_index import family_names, rows_script, unit_row

pytestmark = pytest.mark.browser

SEARCH_BUDGET_MS = 50  # per keystroke, 50,000 units
SEARCH_UNITS = 50_000  # the whole-network atlas the search must stay fast over
LAYER_BUDGET_MS = 200  # per sort or filter, 1,024 tiles


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Dataset examples (labels, scores, families), a dead and a failed unit,
    and a branched layer."""
    site_dir = tmp_path_factory.mktemp("explore") / "site"
    manifest = make_manifest(site_dir, layers=["conv1", "mixed3a", "fc"], units=[8, 12, 10],
                             dataset=True, branches={"mixed3a": MIXED3A},
                             failed={("conv1", 5): {"positive": "diverged"}},
                             dead=[("conv1", 2)],
                             flags={("conv1", 3): ["lost_to_data"],
                                    ("conv1", 6): ["lost_to_data", "never_fires"]})
    render_site(manifest, site_dir, progress=False)
    return site_dir


class _Page:
    """A browser page that records console errors and failed requests."""

    def __init__(self, browser: Any, width: int = 1280, height: int = 800) -> None:  # noqa: F811
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.errors: list[str] = []
        self.page.on("console",
                     lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        # A load cut short by leaving the page (ERR_ABORTED) is not a missing file.
        self.page.on("requestfailed", lambda req: None if "ERR_ABORTED" in (req.failure or "")
                     else self.errors.append(f"failed: {req.url} ({req.failure})"))

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.page.close()


def _tiles(page: Any) -> list[dict[str, Any]]:
    """The layer page's tiles in page order, with whether each shows."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('.unit-tile')).map(t => ({
        index: +t.dataset.index, shown: !t.hidden && t.offsetParent !== null,
        status: t.dataset.status, text: t.dataset.text,
        poly: t.dataset.sPolysemanticity === '' ? null : +t.dataset.sPolysemanticity}))""")


def test_keys_walk_units_layers_and_focus_search(browser: Any, site: Path) -> None:  # noqa: F811
    with _Page(browser) as p:
        p.page.goto((site / "units/conv1/3.html").as_uri())
        p.page.keyboard.press("ArrowRight")
        p.page.wait_for_url("**/units/conv1/4.html")
        p.page.keyboard.press("ArrowLeft")
        p.page.wait_for_url("**/units/conv1/3.html")
        p.page.keyboard.press("ArrowUp")
        p.page.wait_for_url("**/layers/conv1.html")
        p.page.keyboard.press("ArrowRight")  # layer pages walk the layers
        p.page.wait_for_url("**/layers/mixed3a.html")
        p.page.keyboard.press("/")
        focused = p.page.evaluate("() => document.activeElement.id")
        p.page.keyboard.type("x")  # typing in the box is not a key command
        assert p.page.url.endswith("layers/mixed3a.html")
        assert p.errors == []
    assert focused == "site-search-input"


def test_every_view_has_an_anchor(browser: Any, site: Path) -> None:  # noqa: F811
    with _Page(browser) as p:
        p.page.goto((site / "units/conv1/1.html").as_uri() + "#negative")
        top = p.page.evaluate("() => document.getElementById('negative').getBoundingClientRect().top")
        links = p.page.evaluate("""() => Array.from(document.querySelectorAll('nav.toc a'))
            .map(a => a.getAttribute('href').slice(1))""")
        missing = p.page.evaluate("""ids => ids.filter(id => !document.getElementById(id))""", links)
    assert abs(top) < 2  # the browser scrolled to the negative view
    assert {"spectrum", "positive", "negative", "examples", "scores", "about"} <= set(links)
    assert missing == []


def test_sort_filter_and_group_a_layer(browser: Any, site: Path) -> None:  # noqa: F811
    with _Page(browser) as p:
        p.page.goto((site / "layers/conv1.html").as_uri())
        assert [t["index"] for t in _tiles(p.page)] == list(range(8))
        p.page.select_option('select[name="sort"]', "polysemanticity")
        tiles = _tiles(p.page)
        values = [t["poly"] for t in tiles if t["poly"] is not None]
        assert values == sorted(values, reverse=True) and len(values) >= 6
        p.page.click('button[name="direction"]')
        values = [t["poly"] for t in _tiles(p.page) if t["poly"] is not None]
        assert values == sorted(values)
        p.page.select_option('select[name="status"]', "dead")
        assert [t["index"] for t in _tiles(p.page) if t["shown"]] == [2]
        p.page.select_option('select[name="status"]', "all")
        word = _tiles(p.page)[0]["text"].split()[1]  # a label word of some tile
        p.page.fill('input[name="text"]', word)
        shown = [t for t in _tiles(p.page) if t["shown"]]
        assert shown and all(word in t["text"] for t in shown)
        count = p.page.inner_text(".shown-count")
        assert count == f"{len(shown)} of 8 units" or (len(shown) == 8 and count == "all 8 units")
        p.page.fill('input[name="text"]', "no unit says this")
        assert not any(t["shown"] for t in _tiles(p.page))
        assert p.page.inner_text(".shown-count") == "0 of 8 units"
        p.page.fill('input[name="text"]', "")
        p.page.select_option('select[name="group"]', "family")
        heads = p.page.evaluate("""() => Array.from(document.querySelectorAll('.grid-group'))
            .filter(h => !h.hidden).map(h => h.dataset.group)""")
        assert heads[0] == "1"
        p.page.select_option('select[name="sort"]', "index")
        p.page.select_option('select[name="group"]', "none")
        assert [t["index"] for t in _tiles(p.page)] == list(range(8))
        p.page.screenshot(path=str(SHOTS / "explore-layer-sorted.png"), full_page=True)
        assert p.errors == []


def _shown_images(page: Any) -> list[list[str]]:
    """Each tile's visible images (src, or 'box' for a placeholder), kernels left out."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('.unit-tile'))
        .map(t => Array.from(t.querySelectorAll('.unit-images > img, .unit-images > .no-image'))
        .filter(el => getComputedStyle(el).display !== 'none' && !el.classList.contains('kernel'))
        .map(el => el.getAttribute('src') || 'box'))""")


def test_flagged_units_show_their_top_example_and_filter_by_flag(
        browser: Any, site: Path) -> None:  # noqa: F811
    with _Page(browser) as p:
        p.page.goto((site / "layers/conv1.html").as_uri())
        shown = _shown_images(p.page)  # the positive choice, the default
        assert all(len(images) == 1 for images in shown)
        assert ["examples" in images[0] for images in shown] == [
            index in (3, 6) for index in range(8)]
        badges = p.page.evaluate("""() => Array.from(document.querySelectorAll('.unit-tile'))
            .map(t => Array.from(t.querySelectorAll('.badge-flag')).map(b => b.textContent))""")
        assert badges[3] == ["lost to data"] and badges[6] == ["lost to data", "never fires"]
        p.page.select_option('select[name="status"]', "lost_to_data")
        assert [t["index"] for t in _tiles(p.page) if t["shown"]] == [3, 6]
        p.page.select_option('select[name="status"]', "never_fires")
        assert [t["index"] for t in _tiles(p.page) if t["shown"]] == [6]
        p.page.select_option('select[name="status"]', "ok")  # flagged units are still ok
        assert len([t for t in _tiles(p.page) if t["shown"]]) == 6  # not dead 2, failed 5
        p.page.click('label[for="tiles-negative"]')
        assert all("negative-" in images[0] for images in _shown_images(p.page))
        p.page.goto((site / "units/conv1/6.html").as_uri())
        notices = p.page.inner_text("main")
        assert "The optimizer lost to the data" in notices and "never fires" in notices
        assert p.errors == []


def test_tile_switch_shows_negative_images(browser: Any, site: Path) -> None:  # noqa: F811
    with _Page(browser) as p:
        p.page.goto((site / "layers/conv1.html").as_uri())
        p.page.click('label[for="tiles-negative"]')
        shown = p.page.evaluate("""() => Array.from(document.querySelectorAll('.unit-tile'))
            .map(t => Array.from(t.querySelectorAll('.unit-images > img, .unit-images > .no-image'))
            .filter(el => getComputedStyle(el).display !== 'none' && !el.classList.contains('kernel'))
            .map(el => el.getAttribute('src') || 'box'))""")
        assert p.errors == []
    assert all(len(images) == 1 for images in shown)
    assert all("negative-" in images[0] for images in shown)


def test_search_finds_units_by_id_label_and_family(browser: Any, site: Path) -> None:  # noqa: F811
    with _Page(browser) as p:
        p.page.goto((site / "units/fc/3.html").as_uri())
        p.page.keyboard.press("/")
        p.page.keyboard.type("conv1:4")
        p.page.wait_for_selector("#site-search-results li")
        first = p.page.get_attribute("#site-search-results li a", "href")
        assert first == "../../units/conv1/4.html"
        p.page.fill("#site-search-input", "family")
        p.page.wait_for_function("() => document.getElementById('site-search-status').textContent")
        assert "match" in p.page.inner_text("#site-search-status")
        # A phrase finds the units whose text holds it whole, not each word anywhere.
        label = p.page.evaluate("() => window.ATLAS_SEARCH.units.find(u => u[2]).slice(1, 3)")
        phrase = label[1].split(",")[0]  # e.g. "class 3"
        p.page.fill("#site-search-input", phrase)
        texts = p.page.evaluate("""() => Array.from(document.querySelectorAll(
            '#site-search-results .result-text')).map(e => e.textContent)""")
        assert texts and all(phrase in text for text in texts), (phrase, texts)
        p.page.fill("#site-search-input", "zzz nothing")
        p.page.wait_for_function(
            "() => document.getElementById('site-search-status').textContent === 'No unit matches.'")
        p.page.fill("#site-search-input", "mixed3a:7")
        p.page.keyboard.press("Enter")
        p.page.wait_for_url("**/units/mixed3a/7.html")
        assert p.errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_pages_fit_the_screen(browser: Any, site: Path, width: int) -> None:  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, page in (("index", "index.html"), ("layer", "layers/mixed3a.html"),
                       ("unit", "units/conv1/3.html")):
        with _Page(browser, width=width, height=800 if width > 400 else 844) as p:
            p.page.goto((site / page).as_uri())
            p.page.screenshot(path=str(SHOTS / f"explore-{name}-{width}.png"), full_page=True)
            scroll = p.page.evaluate("() => document.documentElement.scrollWidth")
            assert scroll <= width, (name, width, scroll)  # no horizontal scrolling
            assert p.errors == []


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    """The site served over HTTP under /atlas-project/, as GitHub Pages serves a project."""
    root = site.parent / "served"
    shutil.copytree(site, root / "atlas-project")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/atlas-project/"
    finally:
        server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def test_served_under_a_sub_path(browser: Any, served: str) -> None:  # noqa: F811
    with _Page(browser) as p:
        failed: list[str] = []
        # Chromium asks every server for /favicon.ico (the site has none): not a broken link.
        p.page.on("response", lambda r: failed.append(r.url)
                  if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
        p.page.goto(served)
        p.page.keyboard.press("/")
        p.page.keyboard.type("conv1:2")
        p.page.wait_for_selector("#site-search-results li")
        p.page.keyboard.press("Enter")
        p.page.wait_for_url(served + "units/conv1/2.html")
        p.page.keyboard.press("ArrowUp")
        p.page.wait_for_url(served + "layers/conv1.html")
        p.page.select_option('select[name="sort"]', "polysemanticity")
        assert failed == []
        assert [e for e in p.errors if "404" not in e] == []  # the favicon's 404, reported again


@pytest.fixture(scope="module")
def large_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 50,000-unit search index (50 layers of 1,000, made one layer at a time) and
    one 1,024-unit layer page with families, written by the real generators (pages of
    the rest are not needed)."""
    site_dir = tmp_path_factory.mktemp("large")
    templates = templates_dir()
    _copy_static(templates, site_dir)
    # The images the pages show: one tiny PNG, linked under every name (fast to write).
    png = site_dir / "tile.png"
    Image.new("RGB", (8, 8), (200, 40, 40)).save(png)
    layers = SEARCH_UNITS // 1000
    rows = []
    for number in range(layers):
        entry = synthetic_layer(number, layers, 1000)
        names = family_names(entry)
        rows += [unit_row(entry, unit, names) for unit in entry["units"]]
        _link_images(png, site_dir, entry["units"], ("positive",))  # the results' thumbnails
    write_text_atomic(site_dir / SEARCH_INDEX, rows_script(rows))
    layer = synthetic_manifest(1, 1024)
    write_text_atomic(site_dir / layer["layers"][0]["page"],
                      layer_page(make_environment(templates), layer, 0))
    _link_images(png, site_dir, layer["layers"][0]["units"], ("positive", "negative"))
    return site_dir


def _link_images(png: Path, site_dir: Path, units: list[dict], views: tuple[str, ...]) -> None:
    for unit in units:
        for view in views:
            target = site_dir / unit["views"][view]["images"][0]
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(png, target)


def test_search_is_fast_over_50000_units(browser: Any, large_site: Path) -> None:  # noqa: F811
    page_path = next((large_site / "layers").glob("*.html"))
    with _Page(browser) as p:
        p.page.goto(page_path.as_uri())
        p.page.focus("#site-search-input")
        p.page.wait_for_function("() => window.ATLAS_SEARCH && window.ATLAS_SEARCH.units.length")
        assert p.page.evaluate("() => window.ATLAS_SEARCH.units.length") == SEARCH_UNITS
        p.page.evaluate("() => { window.atlasSearchTimings = []; }")
        for text in ("m", "mi", "mix", "mixed", "mixed3", "mixed3:", "mixed3:5", "mixed3:51",
                     "mixed3:512", "mixed3:51", "mixed3:5", "class", "class 7", "family"):
            p.page.fill("#site-search-input", text)
        timings = p.page.evaluate("() => window.atlasSearchTimings")
        first = p.page.get_attribute("#site-search-results li a", "href")
        assert p.errors == []
    _record("search_ms_per_keystroke_50000_units", timings)
    assert len(timings) == 14
    assert max(timings) < SEARCH_BUDGET_MS, timings
    assert first is not None


def test_large_layer_sorts_and_filters_fast(browser: Any, large_site: Path) -> None:  # noqa: F811
    page_path = next((large_site / "layers").glob("*.html"))
    with _Page(browser) as p:
        p.page.goto(page_path.as_uri())
        assert p.page.evaluate("() => document.querySelectorAll('.unit-tile').length") == 1024
        p.page.evaluate("() => { window.atlasLayerTimings = []; }")
        p.page.select_option('select[name="sort"]', "polysemanticity")
        p.page.click('button[name="direction"]')
        p.page.select_option('select[name="sort"]', "colour")
        p.page.fill('input[name="text"]', "class 3")
        p.page.fill('input[name="text"]', "")
        p.page.select_option('select[name="status"]', "dead")
        p.page.select_option('select[name="status"]', "all")
        p.page.select_option('select[name="group"]', "family")
        timings = p.page.evaluate("() => window.atlasLayerTimings")
        assert p.errors == []
    _record("layer_ms_per_update_1024_units", timings)
    assert len(timings) == 8
    assert max(timings) < LAYER_BUDGET_MS, timings


def _record(name: str, timings: list[float]) -> None:
    """Keep the browser's timings beside the screenshots, for the record."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / "timings.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known[name] = {"max": round(max(timings), 2), "median": round(sorted(timings)[len(timings) // 2], 2),
                   "all": [round(t, 2) for t in timings]}
    path.write_text(json.dumps(known, indent=1))


def test_first_screen_without_a_dataset(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    """No dataset: the positive, negative and diversity images side by side on the
    first screen at 1280x800, with the label and the links to every view."""
    site_dir = tmp_path / "site"
    render_site(make_manifest(site_dir, layers=["conv1", "fc"], units=[3, 3]), site_dir,
                progress=False)
    with _Page(browser) as p:
        p.page.goto((site_dir / "units/conv1/1.html").as_uri())
        boxes = p.page.evaluate("""() => ['positive', 'negative', 'diversity', 'seeds'].map(id => {
            const section = document.getElementById(id).parentElement;
            const img = section.querySelector('img');
            const box = img.getBoundingClientRect();
            return {id, top: box.top, bottom: box.bottom, right: box.right};
        })""")
        toc = p.page.evaluate("""() => Array.from(document.querySelectorAll('nav.toc a'))
            .map(a => [a.getAttribute('href'), a.getBoundingClientRect().bottom])""")
        p.page.screenshot(path=str(SHOTS / "explore-unit-no-dataset-1280.png"))
        assert p.errors == []
    lead = {box["id"]: box for box in boxes}
    for name in ("positive", "negative", "diversity"):
        assert lead[name]["bottom"] <= 800 and lead[name]["right"] <= 1280, lead[name]
    assert len({round(lead[n]["top"]) for n in ("positive", "negative", "diversity")}) == 1
    assert lead["seeds"]["top"] > lead["positive"]["top"]  # the rest follows below
    assert all(bottom <= 800 for _, bottom in toc)
    assert {"#positive", "#neuron", "#seeds", "#evolution", "#kernel", "#connections"} <= {
        href for href, _ in toc}
