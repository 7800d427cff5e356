"""The synthetic site in headless Chromium over file://: images load, no errors, no network.

Needs the `playwright` Python package and a system Chromium (no `playwright
install`: the test machine is offline). Skips without them, unless
ATLAS_REQUIRE_BROWSER=1, which turns the skip into a failure.
Screenshots of the index and a unit page go to /tmp/atlas-shots/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from site_fixtures import FAILED_REASON, MIXED3A, make_manifest

from atlas.site import render_site

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/atlas-shots")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
INSTALL_HINT = (
    "install the browser test dependencies: `apt-get install -y chromium` and "
    "`pip install playwright` (do not run `playwright install`; the system Chromium is used)"
)

# Loads every image (lazy ones included) and reports those that failed.
CHECK_IMAGES = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(img => { img.loading = "eager"; });
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done, {once: true});
    img.addEventListener("error", done, {once: true});
  })));
  return {count: imgs.length,
          broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)};
}"""


def _missing(reason: str) -> None:
    if os.environ.get("ATLAS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}; ATLAS_REQUIRE_BROWSER=1 needs it: {INSTALL_HINT}")
    pytest.skip(f"{reason} ({INSTALL_HINT})")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        _missing("no chromium executable on PATH")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("browser-site")
    layers = ["conv1", ("<script>alert(1)</script>", "odd dir #1 ü?"), "fc"]
    failed = {("conv1", 3): {"negative": FAILED_REASON}, ("conv1", 5): {"positive": "<b>x</b>"}}
    manifest = make_manifest(site_dir, layers=layers, units=[8, 20, 10], failed=failed,
                             no_views=[("fc", 2)], dead=[("conv1", 0), ("conv1", 3)])
    render_site(manifest, site_dir, progress=False)
    return site_dir


@pytest.fixture(scope="module")
def inception_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Branched 256-unit layer, a linear layer, no probe data, no joint list."""
    site_dir = tmp_path_factory.mktemp("browser-inception")
    manifest = make_manifest(site_dir, layers=["conv2d0", "mixed3a", "softmax2"],
                             units=[4, 256, 5], branches={"mixed3a": MIXED3A}, probe=False,
                             joint=False, preprocess="imagenet mean/std",
                             views={"positive", "evolution"})
    render_site(manifest, site_dir, progress=False)
    return site_dir


def _visit(browser: Any, url: str, screenshot: Path | None = None) -> dict[str, Any]:
    """Open `url`; return the image check, console errors and non-file requests."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
    page.on("request", lambda req: requests.append(req.url))
    try:
        page.goto(url, wait_until="load")
        images = page.evaluate(CHECK_IMAGES)
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        page.close()
    return {"images": images, "errors": errors, "requests": len(requests),
            "remote": [r for r in requests if not r.startswith("file://")]}


def test_every_page_loads_offline(browser: Any, site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 40
    total_images = 0
    for path in pages:
        result = _visit(browser, path.as_uri())
        assert result["images"]["broken"] == [], path
        assert result["errors"] == [], path
        assert result["remote"] == [], path
        assert result["requests"] >= 3, path  # the page and its two stylesheets were seen
        total_images += result["images"]["count"]
    assert total_images > 300


def test_screenshots(browser: Any, site: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, page in (("index", "index.html"), ("unit", "units/conv1/0.html"),
                       ("layer", "layers/conv1.html"), ("summary", "summary.html"),
                       ("joint", "joint.html"), ("failed-unit", "units/conv1/5.html"),
                       ("dead-unit", "units/conv1/3.html")):
        result = _visit(browser, (site / page).as_uri(), SHOTS / f"{name}.png")
        assert result["images"]["broken"] == [] and result["errors"] == []
        assert (SHOTS / f"{name}.png").stat().st_size > 0


def test_branched_site_without_probe_data_loads(browser: Any, inception_site: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, page in (("index", "index.html"), ("layer", "layers/mixed3a.html"),
                       ("unit", "units/mixed3a/70.html"), ("summary", "summary.html"),
                       ("linear", "units/softmax2/0.html")):
        shot = SHOTS / f"inception-{name}.png"
        result = _visit(browser, (inception_site / page).as_uri(), shot)
        assert result["images"]["broken"] == [], page
        assert result["errors"] == [] and result["remote"] == [], page
    assert not (inception_site / "joint.html").exists()  # no joint objectives, no page
    layer = _visit(browser, (inception_site / "layers/mixed3a.html").as_uri())
    assert layer["images"]["count"] == 256 + 8  # every tile, and the family's 8 thumbnails


@pytest.fixture(scope="module")
def dataset_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site with dataset examples: spectrum and examples views, the layer switch."""
    site_dir = tmp_path_factory.mktemp("browser-dataset")
    manifest = make_manifest(site_dir, layers=["conv1", "conv2", "fc"], units=[6, 3, 10],
                             dataset=True, failed={("conv1", 5): {"positive": "diverged"}})
    render_site(manifest, site_dir, progress=False)
    return site_dir


# Where each spectrum column and each of its images lies, and whether the image loaded.
SPECTRUM_LAYOUT = """() => {
  const columns = Array.from(document.querySelectorAll(".spectrum-column"));
  return columns.map(column => ({
    title: column.querySelector(".spectrum-title").firstChild.textContent.trim(),
    top: column.getBoundingClientRect().top,
    images: Array.from(column.querySelectorAll("img")).map(img => {
      const box = img.getBoundingClientRect();
      return {loaded: img.complete && img.naturalWidth > 0, width: box.width,
              left: box.left, right: box.right, top: box.top, bottom: box.bottom,
              rendering: getComputedStyle(img).imageRendering};
    }),
  }));
}"""

# For each tile of a layer page: the src of the one image showing (positive or example).
SHOWN_TILES = """() => Array.from(document.querySelectorAll(".unit-cell")).map(cell => {
  const shown = Array.from(cell.querySelectorAll(".tile-positive, .tile-example"))
    .filter(el => getComputedStyle(el).display !== "none");
  return shown.map(el => el.tagName === "IMG" ? el.getAttribute("src") : "box:" + el.className);
})"""


def test_spectrum_fills_the_first_screen(browser: Any, dataset_site: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto((dataset_site / "units/conv1/0.html").as_uri(), wait_until="load")
        columns = page.evaluate(SPECTRUM_LAYOUT)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "dataset-unit-first-screen.png"))
    finally:
        page.close()
    assert [c["title"] for c in columns] == [
        "Negative optimized", "Minimum activation", "Slightly negative", "Slightly positive",
        "Maximum activation", "Positive optimized"]
    assert len({round(c["top"]) for c in columns}) == 1  # one row, side by side
    assert [len(c["images"]) for c in columns] == [1, 4, 4, 4, 4, 1]
    lefts = [min(img["left"] for img in c["images"]) for c in columns]
    assert lefts == sorted(lefts)
    for column in columns:
        for img in column["images"]:
            assert img["loaded"], column["title"]
            assert img["width"] >= 40, column["title"]  # tiny crops are scaled up...
            assert img["rendering"] == "pixelated"  # ...without blurring
            assert 0 <= img["left"] and img["right"] <= 1280, column["title"]
            assert 0 <= img["top"] and img["bottom"] <= 800, column["title"]  # first screen


def test_layer_switch_changes_every_tile(browser: Any, dataset_site: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto((dataset_site / "layers/conv1.html").as_uri(), wait_until="load")
        before = page.evaluate(SHOWN_TILES)
        page.click('label[for="tiles-example"]')
        after = page.evaluate(SHOWN_TILES)
        images = page.evaluate(CHECK_IMAGES)
        page.click('label[for="tiles-positive"]')
        back = page.evaluate(SHOWN_TILES)
        checked = page.evaluate("() => document.querySelector('#tiles-positive').checked")
    finally:
        page.close()
    assert len(before) == 6 and all(len(shown) == 1 for shown in before + after)
    assert [s[0] for s in before[:5]] == [f"../results/conv1/{i}/positive-0.png" for i in range(5)]
    assert before[5] == ["box:no-image tile-positive"]  # its positive view failed
    assert all(s[0].startswith("../results/_examples/") for s in after)
    assert all(a != b for a, b in zip(after, before, strict=True))
    assert images["broken"] == []
    assert back == before and checked


def test_dataset_site_loads_offline(browser: Any, dataset_site: Path) -> None:
    pages = sorted(dataset_site.rglob("*.html"))
    assert len(pages) == 3 + 3 + 19
    for path in pages:
        result = _visit(browser, path.as_uri())
        assert result["images"]["broken"] == [], path
        assert result["errors"] == [] and result["remote"] == [], path
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, page in (("dataset-unit", "units/conv2/1.html"), ("dataset-linear", "units/fc/3.html"),
                       ("dataset-summary", "summary.html"), ("dataset-index", "index.html")):
        result = _visit(browser, (dataset_site / page).as_uri(), SHOTS / f"{name}.png")
        assert result["images"]["broken"] == []
