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
                       ("joint", "joint.html"), ("linear", "units/softmax2/0.html")):
        shot = SHOTS / f"inception-{name}.png"
        result = _visit(browser, (inception_site / page).as_uri(), shot)
        assert result["images"]["broken"] == [], page
        assert result["errors"] == [] and result["remote"] == [], page
    layer = _visit(browser, (inception_site / "layers/mixed3a.html").as_uri())
    assert layer["images"]["count"] == 256
