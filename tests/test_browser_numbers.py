"""No number on a page is cut off, at any width from a phone's to a wide screen's.

A tile that shows `faith -0.…` hides the one number that says "do not trust this
picture". Each page is opened in headless Chromium at 360 and 1,920 px and every
text that holds a digit is checked against the boxes that hold it. Reuses
test_browser's fixtures (and so its skip without a browser).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from site_fixtures import make_manifest
from test_browser import SHOTS, browser  # noqa: F401  (a fixture, used by name)

from atlas.site import render_site

pytestmark = pytest.mark.browser

WIDTHS = (360, 1920)

NEGATIVE = {"faithfulness": -0.157, "faithfulness_baseline": 0.0432, "colour": -0.00123}
"""Scores as wide as sig3 makes them: what a unit that misleads shows on its tile."""

# Every text node holding a digit that is cut off: by an ellipsis, by a box that
# hides what overflows it, or by the page's edge. A box that scrolls (a wide table
# on a phone) is no cut: the number is read by scrolling it.
CUT_NUMBERS = """() => {
  const cut = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if (!/[0-9]/.test(text)) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const rects = Array.from(range.getClientRects()).filter(r => r.width > 0);
    if (rects.length === 0) continue;  // not shown (display: none, a closed switch)
    const why = [];
    let scrolls = false;
    if (text.includes("…")) why.push("an ellipsis in the text");
    for (let box = node.parentElement; box && box !== document.body; box = box.parentElement) {
      const style = getComputedStyle(box);
      scrolls = style.overflowX === "auto" || style.overflowX === "scroll";
      if (scrolls) break;
      if (style.textOverflow === "ellipsis" && box.scrollWidth > box.clientWidth)
        why.push("ellipsis on " + box.className);
      if (style.overflowX === "hidden" || style.overflowX === "clip") {
        const edge = box.getBoundingClientRect();
        if (rects.some(r => r.left < edge.left - 0.5 || r.right > edge.right + 0.5))
          why.push("hidden by " + box.tagName.toLowerCase() + "." + box.className);
      }
    }
    if (!scrolls && rects.some(r => r.right > document.documentElement.clientWidth + 0.5))
      why.push("past the page's right edge");
    if (why.length) cut.push(text + ": " + why.join(", "));
  }
  return cut;
}"""


@pytest.fixture(scope="module")
def misleading_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset site whose conv2 units all have negative faithfulness and maxima."""
    site_dir = tmp_path_factory.mktemp("browser-numbers")
    manifest = make_manifest(site_dir, layers=["conv1", "conv2", "fc"], units=[2, 4, 3],
                             dataset=True)
    for unit in manifest["layers"][1]["units"]:
        unit["scores"].update(NEGATIVE)
        stats = unit["views"]["examples"]["stats"]
        stats["max"] = -0.0432
        stats["min"] = -1.52
    render_site(manifest, site_dir, progress=False)
    return site_dir


def _cut_numbers(chromium: Any, url: str, width: int, shot: str) -> list[str]:
    page = chromium.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(url, wait_until="load")
        cut = page.evaluate(CUT_NUMBERS)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"numbers-{shot}-{width}.png"))
    finally:
        page.close()
    return cut


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", ["layers/conv2.html", "units/conv2/1.html", "index.html",
                                  "summary.html"])
def test_no_number_is_cut_off(browser: Any, misleading_site: Path,  # noqa: F811
                              page: str, width: int) -> None:
    shot = page.removesuffix(".html").replace("/", "-")
    assert _cut_numbers(browser, (misleading_site / page).as_uri(), width, shot) == []


def test_the_check_sees_a_cut_number(browser: Any, tmp_path: Path) -> None:  # noqa: F811
    """The check itself: a number in a narrow box that hides its overflow is found."""
    page = tmp_path / "cut.html"
    page.write_text('<p style="width: 30px; overflow: hidden; white-space: nowrap; '
                    'text-overflow: ellipsis">faith -0.157</p><p>whole 1.52</p>')
    cut = _cut_numbers(browser, page.as_uri(), 360, "check")
    assert len(cut) == 1 and cut[0].startswith("faith -0.157: ")
