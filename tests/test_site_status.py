"""Failed and dead units on the pages: marks, placeholders, notices, counts.

The site has failed units with and without a positive view, a failed unit with
no views at all, dead units, and one unit both failed and dead. Reasons are
untrusted text (one is `<b>x</b>`) and must come out escaped.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from site_fixtures import FAILED_REASON, make_manifest, page_refs

from atlas.site import render_site, status
from atlas.site.sections import SECTIONS, VIEW_TITLES

VIEW_ORDER = list(SECTIONS)

BOLD = "<b>x</b>"
FAILED = {
    ("conv1", 1): {"negative": FAILED_REASON},          # positive still there
    ("conv1", 2): {"positive": BOLD, "evolution": ""},  # no positive; empty reason
    ("conv2", 2): {"seeds": "diverged"},
    ("fc", 0): {"positive": "went NaN"},                # a summary class without its image
}
NO_VIEWS = [("fc", 1)]
DEAD = [("conv1", 0), ("conv2", 1), ("conv2", 2)]
DEAD_BADGE = '<span class="badge-dead" title="constant activation">dead</span>'
TILE_PLACEHOLDER = '<span class="no-image tile-positive">failed</span>'  # on a layer page
PLACEHOLDER = '<span class="no-image">failed</span>'
FAILED_BADGE = '<span class="badge-failed">failed</span>'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("status-site")
    manifest = make_manifest(site_dir, units=[3, 3, 4], failed=FAILED, no_views=NO_VIEWS,
                             dead=DEAD)
    render_site(manifest, site_dir, progress=False)
    return site_dir


def _read(site_dir: Path, page: str) -> str:
    return (site_dir / page).read_text(encoding="utf-8")


def _cell(html: str, href: str) -> str:
    """The markup of the grid cell linking to `href`."""
    for match in re.finditer(r'<a class="unit-cell[^"]*" href="([^"]*)"', html):
        if match.group(1) == href:
            return html[match.start():html.index("</a>", match.start())]
    raise AssertionError(f"no cell for {href}")


def test_layer_page_marks(site: Path) -> None:
    html = _read(site, "layers/conv1.html")
    assert html.count('class="unit-cell') == 3
    assert html.count(" is-failed") == 2 and html.count(" is-dead") == 1
    assert html.count(FAILED_BADGE) == 1 and html.count(TILE_PLACEHOLDER) == 1
    assert html.count(DEAD_BADGE) == 1
    assert "of which 2 failed to optimize and 1 is dead (constant activation)." in html
    dead = _cell(html, "../units/conv1/0.html")
    assert DEAD_BADGE in dead and 'title="conv1:0 (dead: constant activation)"' in dead
    assert "positive-0.png" in dead and FAILED_BADGE not in dead
    failed = _cell(html, "../units/conv1/1.html")
    assert FAILED_BADGE in failed and "positive-0.png" in failed
    assert 'title="conv1:1 (failed)"' in failed
    ok = _cell(_read(site, "layers/conv2.html"), "../units/conv2/0.html")
    assert "badge" not in ok and "no-image" not in ok and 'title="conv2:0"' in ok


def test_placeholder_instead_of_missing_positive(site: Path) -> None:
    cell = _cell(_read(site, "layers/conv1.html"), "../units/conv1/2.html")
    assert TILE_PLACEHOLDER in cell and FAILED_BADGE not in cell  # the box is the mark
    assert "positive-" not in cell and 'class="pixel kernel"' in cell  # kernel still shown
    fc = _read(site, "layers/fc.html")
    assert fc.count(TILE_PLACEHOLDER) == 2
    assert fc.count('<img class="pixel tile-positive"') == 2  # fc:2 and fc:3 only
    assert "of which 2 failed to optimize." in fc
    index = _read(site, "index.html")
    assert index.count(PLACEHOLDER) == 3  # thumbnails: conv1:2, fc:0, fc:1


def test_every_img_has_a_source_and_every_link_resolves(site: Path) -> None:
    checked = 0
    for path in sorted(site.rglob("*.html")):
        html = path.read_text(encoding="utf-8")
        page = path.relative_to(site).as_posix()
        for tag in re.findall(r"<img\b[^>]*>", html):
            assert re.search(r'\ssrc="[^"]+"', tag), (page, tag)
        refs, ids, _ = page_refs(html)
        for _, _, url in refs:
            parts = urlsplit(url)
            if not parts.path:
                assert parts.fragment in ids, (page, url)
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(page),
                                                       unquote(parts.path)))
            assert (site / target).is_file(), (page, url)
            checked += 1
    assert checked > 200


def test_failed_unit_page_lists_reasons_escaped(site: Path) -> None:
    html = _read(site, "units/conv1/2.html")
    assert '<aside class="notice notice-failed" aria-label="Failed views">' in html
    assert f"<p>{status.FAILED_INTRO}</p>" in html
    positive = "<li>Positive — &lt;b&gt;x&lt;/b&gt;</li>"
    evolution = f"<li>Evolution — {status.NO_REASON}</li>"
    assert positive in html and evolution in html
    assert html.index(positive) < html.index(evolution) < html.index('class="pager"')
    assert BOLD not in html
    assert 'id="positive"' not in html and 'id="evolution"' not in html
    assert 'id="negative"' in html
    assert '<tr><th scope="row">Status</th><td>failed</td></tr>' in html
    assert status.DEAD_NOTICE not in html
    other = _read(site, "units/conv1/1.html")
    assert f"<li>Negative — {FAILED_REASON}</li>" in other and 'id="positive"' in other


def test_dead_unit_page(site: Path) -> None:
    html = _read(site, "units/conv1/0.html")
    notice = f'<aside class="notice notice-dead" aria-label="Dead unit">\n  <p>{status.DEAD_NOTICE}'
    assert notice in html and status.FAILED_INTRO not in html
    assert f"<h1>conv1:0 {DEAD_BADGE}</h1>" in html
    assert '<tr><th scope="row">Status</th><td>dead</td></tr>' in html
    both = _read(site, "units/conv2/2.html")
    assert status.DEAD_NOTICE in both and "<li>Seeds — diverged</li>" in both
    assert '<tr><th scope="row">Status</th><td>failed, dead</td></tr>' in both


def test_failed_unit_without_views(site: Path) -> None:
    html = _read(site, "units/fc/1.html")
    notice = html[html.index("<aside"):html.index("</aside>")]
    assert f"<p>{status.FAILED_NO_VIEWS}</p>" in notice and "<ul>" not in notice
    assert "No feature visualization was stored for this unit." in html
    assert "results/fc/1/" not in html  # none of its own (its connections show others')


def test_ok_unit_page_is_plain(site: Path) -> None:
    html = _read(site, "units/conv2/0.html")
    assert "notice" not in html and "badge" not in html
    assert '<tr><th scope="row">Status</th><td>ok</td></tr>' in html


def test_index_counts(site: Path) -> None:
    html = _read(site, "index.html")
    assert '3 units <span class="unit-status">(2 failed, 1 dead)</span>.' in html
    assert '3 units <span class="unit-status">(1 failed, 2 dead)</span>.' in html
    assert '4 units <span class="unit-status">(2 failed)</span>.' in html


def test_index_without_failures_has_no_counts(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path, layers=["conv1", "fc"], units=2, views={"positive"})
    render_site(manifest, tmp_path, progress=False)
    assert "unit-status" not in _read(tmp_path, "index.html")
    assert "of which" not in _read(tmp_path, "layers/conv1.html")


def test_summary_survives_a_class_without_image(site: Path) -> None:
    html = _read(site, "summary.html")
    classes = html[html.index('<table class="data classes">'):]
    rows = classes[:classes.index("</tbody>")].split("<tr>")[2:]
    assert len(rows) == 4
    assert "<img" not in rows[0] and "<img" not in rows[1]  # fc:0 and fc:1 have no positive
    assert all("<img" in row for row in rows[2:])


def test_no_page_shows_a_raw_null(site: Path) -> None:
    for path in sorted(site.rglob("*.html")):
        found = re.search(r"\b(None|null|undefined)\b", path.read_text(encoding="utf-8"))
        assert found is None, (path, found and found.group(0))


def test_status_helpers() -> None:
    assert status.status_text({"status": "ok", "dead": False}) == "ok"
    assert status.status_text({}) == "ok"
    assert status.status_text({"status": "failed", "dead": True}) == "failed, dead"
    assert status.status_text({"dead": "yes"}) == "ok"  # only a real true counts
    units = [{"status": "failed"}, {"status": "failed", "dead": True}, {"dead": True}]
    assert status.counts_note(units) == "2 failed, 2 dead"
    assert status.counts_note([{"dead": True}]) == "1 dead"
    assert status.counts_note([{"status": "ok"}]) is None and status.counts_note([]) is None
    assert status.layer_note([{"dead": True}]) == "of which 1 is dead (constant activation)"
    assert status.layer_note([{}]) is None


def test_failed_view_rows_tolerate_odd_manifests() -> None:
    rows = status.failed_view_rows(
        {"failed_views": {"mystery": None, "kernel": "k", "positive": "  p  "}},
        VIEW_TITLES, VIEW_ORDER)
    assert rows == [{"view": "Positive", "reason": "p"}, {"view": "Kernel", "reason": "k"},
                    {"view": "mystery", "reason": status.NO_REASON}]
    assert status.failed_view_rows({"failed_views": ["positive"]}, VIEW_TITLES, VIEW_ORDER) == []
    assert status.notices({"status": "ok"}, VIEW_TITLES, VIEW_ORDER) == []
