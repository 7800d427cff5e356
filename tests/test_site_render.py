"""The rendered synthetic site: pages exist, links resolve, nothing remote, text escaped."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from site_fixtures import css_urls, make_manifest, page_refs

from atlas.fsio import TMP_SUFFIX
from atlas.manifest_types import FORMAT
from atlas.site import render_site
from atlas.site.curve import loss_curve
from atlas.site.formatting import css_colour, percent, sig3

SCRIPT_NAME = "<script>alert(1)</script>"
QUOTE_NAME = "a\"b'c"
ODD_SLUG = "odd dir #1 ü?"
LAYERS = ["conv1", (SCRIPT_NAME, ODD_SLUG), QUOTE_NAME, "fc"]
UNITS = [3, 20, 2, 4]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[Path]]:
    site_dir = tmp_path_factory.mktemp("site")
    manifest = make_manifest(site_dir, layers=LAYERS, units=UNITS, failed=[("conv1", 1)])
    written = render_site(manifest, site_dir, progress=False)
    return site_dir, manifest, written


def _html_files(site_dir: Path) -> list[Path]:
    return sorted(site_dir.rglob("*.html"))


def _read(site_dir: Path, page: str) -> str:
    return (site_dir / page).read_text(encoding="utf-8")


def _manifest_pages(manifest: dict[str, Any]) -> list[str]:
    pages = list(manifest["pages"].values())
    for layer in manifest["layers"]:
        pages.append(layer["page"])
        pages += [unit["page"] for unit in layer["units"]]
    return pages


def _resolve(page: str, url: str) -> str:
    """The site path a relative URL on `page` points to (fragment dropped)."""
    path = unquote(urlsplit(url).path)
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), path))


def _pager(site_dir: Path, page: str) -> dict[str, str | None]:
    """Where the pager's prev / up / next links of `page` lead (site paths)."""
    html = _read(site_dir, page)
    found: dict[str, str | None] = {}
    for which in ("prev", "up", "next"):
        match = re.search(rf'<a class="pager-{which}"[^>]* href="([^"]*)"', html)
        found[which] = _resolve(page, match.group(1)) if match else None
    return found


def test_every_manifest_page_is_written(site: tuple) -> None:
    site_dir, manifest, written = site
    expected = _manifest_pages(manifest)
    assert sorted(p.relative_to(site_dir).as_posix() for p in written) == sorted(expected)
    for page in expected:
        assert (site_dir / page).is_file(), page
    assert all(p.is_absolute() for p in written)


def test_nojekyll_and_stylesheets(site: tuple) -> None:
    site_dir, _, _ = site
    assert (site_dir / ".nojekyll").read_bytes() == b""
    assert (site_dir / "static" / "atlas.css").is_file()
    assert (site_dir / "static" / "figures.css").is_file()
    assert not (site_dir / "static" / "__init__.py").exists()


def test_every_local_link_resolves(site: tuple) -> None:
    site_dir, _, _ = site
    ids = {}
    refs = {}
    for path in _html_files(site_dir):
        page = path.relative_to(site_dir).as_posix()
        refs[page], ids[page], _ = page_refs(path.read_text(encoding="utf-8"))
    checked = 0
    for page, page_refs_ in refs.items():
        for tag, attr, url in page_refs_:
            parts = urlsplit(url)
            assert not parts.scheme and not parts.netloc, (page, url)
            assert not url.startswith("/"), (page, url)  # root-relative breaks sub-paths
            target = _resolve(page, url) if parts.path else page
            assert not target.startswith(".."), (page, url)
            assert (site_dir / target).is_file(), f"{page}: <{tag} {attr}={url!r}> is missing"
            if parts.fragment:
                assert parts.fragment in ids[target], (page, url)
            checked += 1
    assert checked > 500


def test_nothing_remote_is_referenced(site: tuple) -> None:
    site_dir, _, _ = site
    urls: list[str] = []
    for path in _html_files(site_dir):
        refs, _, styles = page_refs(path.read_text(encoding="utf-8"))
        urls += [url for _, _, url in refs]
        for style in styles:
            urls += css_urls(style)
    for css in (site_dir / "static").glob("*.css"):
        urls += css_urls(css.read_text(encoding="utf-8"))
    remote = [u for u in urls if "://" in u or u.startswith("//") or u.lower().startswith(
        ("http:", "https:", "javascript:"))]
    assert remote == []
    for path in _html_files(site_dir):
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, path
        # Scripts are the site's own files, never inline code.
        assert re.findall(r"<script\b[^>]*>([^<]*)</script>", text) == [""] * text.count("<script")
    for script in [*(site_dir / "static").glob("*.js"), site_dir / "search-index.js"]:
        code = script.read_text(encoding="utf-8")
        # Nothing is fetched: pages opened from file:// cannot fetch, and the site is offline.
        for word in ("http://", "https://", "fetch(", "XMLHttpRequest", "import("):
            assert word not in code, (script.name, word)


def test_untrusted_names_are_escaped(site: tuple) -> None:
    site_dir, _, _ = site
    escaped_script = "&lt;script&gt;alert(1)&lt;/script&gt;"
    escaped_quote = "a&#34;b&#39;c"
    for path in _html_files(site_dir):
        text = path.read_text(encoding="utf-8")
        assert SCRIPT_NAME not in text, path
        assert QUOTE_NAME not in text, path
    assert escaped_script in _read(site_dir, "index.html")
    assert escaped_quote in _read(site_dir, "index.html")
    assert escaped_script in _read(site_dir, f"layers/{ODD_SLUG}.html")
    assert f"<h1>{escaped_quote}:0</h1>" in _read(site_dir, "units/a-b-c/0.html")


def test_unit_pager_links(site: tuple) -> None:
    site_dir, _, _ = site
    assert _pager(site_dir, "units/conv1/0.html") == {
        "prev": None, "up": "layers/conv1.html", "next": "units/conv1/1.html"}
    assert _pager(site_dir, "units/conv1/1.html") == {
        "prev": "units/conv1/0.html", "up": "layers/conv1.html", "next": "units/conv1/2.html"}
    # across a layer boundary, into the layer with the odd slug and back
    assert _pager(site_dir, "units/conv1/2.html")["next"] == f"units/{ODD_SLUG}/0.html"
    assert _pager(site_dir, f"units/{ODD_SLUG}/0.html") == {
        "prev": "units/conv1/2.html", "up": f"layers/{ODD_SLUG}.html",
        "next": f"units/{ODD_SLUG}/1.html"}
    assert _pager(site_dir, "units/fc/3.html") == {
        "prev": "units/fc/2.html", "up": "layers/fc.html", "next": None}


def test_layer_pages(site: tuple) -> None:
    site_dir, _, _ = site
    assert _pager(site_dir, "layers/conv1.html") == {
        "prev": None, "up": "index.html", "next": f"layers/{ODD_SLUG}.html"}
    conv1 = _read(site_dir, "layers/conv1.html")
    assert conv1.count('class="unit-cell') == 3
    assert conv1.count('class="unit-cell unit-tile is-failed"') == 1
    assert conv1.count('<span class="badge-failed">failed</span>') == 1
    assert conv1.count('class="pixel kernel"') == 3  # kernel beside each positive image
    odd = _read(site_dir, f"layers/{ODD_SLUG}.html")
    assert odd.count('class="unit-cell') == 20 and "kernel" not in odd
    assert 'loading="lazy"' in odd


def test_index_page(site: tuple) -> None:
    site_dir, _, _ = site
    index = _read(site_dir, "index.html")
    for text in ("Biased Colored Digits CNN", "colored-digits", "28 × 28 px", "25,034",
                 "98.0%", "41.0%", "colored_digits.pt", "fft+decorrelate, sigmoid",
                 "3 × 28 × 28", "0.05",
                 '<tr><th scope="row">Preprocess</th><td>none</td></tr>'):
        assert text in index, text
    # thumbnails: the first 16 units of the 20-unit layer, linked with fully quoted hrefs
    assert index.count('href="units/odd%20dir%20%231%20%C3%BC%3F/') == 16
    assert f'href="units/{ODD_SLUG}' not in index
    assert 'href="summary.html"' in index and 'href="joint.html"' in index


def test_unit_page_views(site: tuple) -> None:
    site_dir, manifest, _ = site
    html = _read(site_dir, "units/conv1/0.html")
    order = [html.index(f'<h2 id="{v}"') for v in
             ("positive", "negative", "diversity", "neuron", "seeds", "evolution", "kernel")]
    assert order == sorted(order)
    views = manifest["layers"][0]["units"][0]["views"]
    assert f"activation {sig3(views['positive']['activations'][0])}" in html
    seeds = views["seeds"]
    assert f'<span class="note">seed 4</span>activation {sig3(seeds["activations"][4])}' in html
    assert '<span class="note">at (14, 14)</span>activation' in html
    assert '<span class="note">step 48</span>activation' in html
    assert "<figcaption>weights -0.310 to 0.280</figcaption>" in html
    assert "Polysemanticity" in html and "Colour" in html
    fc = _read(site_dir, "units/fc/0.html")
    assert 'id="neuron"' not in fc and 'id="kernel"' not in fc
    assert "<th scope=\"row\">Colour</th>" not in fc  # null score left out


def test_loss_curve_is_inline_svg(site: tuple) -> None:
    site_dir, manifest, _ = site
    html = _read(site_dir, "units/conv1/0.html")
    evolution = html[html.index('<h2 id="evolution"'):html.index('<h2 id="kernel"')]
    assert '<svg class="curve" viewBox="0 0 480 160"' in evolution
    points = re.search(r'<polyline class="line" points="([^"]+)"', evolution).group(1)
    loss = manifest["layers"][0]["units"][0]["views"]["evolution"]["loss"]
    assert len(points.split()) == 2 * len(loss)  # x and y of every step
    assert evolution.count('<circle class="mark"') == 5
    assert f">{sig3(max(loss))}</text>" in evolution and f">{sig3(min(loss))}</text>" in evolution
    assert ".svg" not in html


def test_summary_page_shows_the_numbers(site: tuple) -> None:
    site_dir, _, _ = site
    html = _read(site_dir, "summary.html")
    for text in ("0.800", "0.200", "0.500", "98.0%", "41.0%", "70.0%", "20.0%",
                 "0.410", "0.310", "#e6194b", "#d02040",
                 "Colour score: mean saturation-weighted hue agreement of the seeds.",
                 "One minus the mean pairwise similarity of the seed images."):
        assert text in html, text
    assert 'style="background-color: #e6194b"' in html
    assert html.count(">yes</span>") == 2 and html.count(">no</span>") == 2
    assert html.count('href="units/conv1/0.html"') == 1  # most polysemantic, linked
    poly = html[html.index('<h2 id="polysemantic"'):]
    assert poly.count("<img ") == 10  # 5 seeds for each of 2 units


def test_joint_page(site: tuple) -> None:
    site_dir, _, _ = site
    html = _read(site_dir, "joint.html")
    assert "fc:0: 5.10" in html and "conv1:1: 4.30" in html
    assert 'href="units/fc/0.html"' in html and "(weight 0.500)" in html


def test_no_page_shows_a_raw_null(site: tuple) -> None:
    site_dir, _, _ = site
    for path in _html_files(site_dir):
        found = re.search(r"\b(None|null|nan|undefined)\b", path.read_text(encoding="utf-8"))
        assert found is None, (path, found and found.group(0))


def test_every_page_has_the_site_nav(site: tuple) -> None:
    site_dir, _, _ = site
    for path in _html_files(site_dir):
        text = path.read_text(encoding="utf-8")
        nav = text[text.index('<nav class="site-nav"'):text.index("</nav>")]
        for label in ("Atlas home", "Summary", "Joint"):
            assert label in nav, (path, label)


def test_render_is_deterministic(site: tuple, tmp_path: Path) -> None:
    site_dir, manifest, _ = site
    again = tmp_path / "again"
    make_manifest(again, layers=LAYERS, units=UNITS, failed=[("conv1", 1)])
    render_site(manifest, again, progress=False)
    for path in _html_files(site_dir):
        rel = path.relative_to(site_dir)
        assert (again / rel).read_bytes() == path.read_bytes(), rel


def test_bad_manifests_are_refused(tmp_path: Path) -> None:
    manifest = make_manifest(tmp_path, layers=["conv1"], units=1)
    with pytest.raises(ValueError, match="format"):
        render_site({**manifest, "format": FORMAT + 1}, tmp_path, progress=False)
    escaping = {**manifest, "pages": {**manifest["pages"], "index": "../index.html"}}
    with pytest.raises(ValueError):
        render_site(escaping, tmp_path, progress=False)
    assert not (tmp_path.parent / "index.html").exists()


def test_unsafe_colours_never_reach_a_style() -> None:
    assert css_colour("#e6194b") == "#e6194b"
    assert css_colour("#abc") == "#abc"
    for bad in ("red; background: url(http://x)", "#12345", "e6194b", None, 3):
        assert css_colour(bad) is None


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.1, "3.10"), (-2.4, "-2.40"), (0.1, "0.100"), (9.996, "10.0"), (123.4, "123"),
     (0.000123, "0.000123"), (1234567.0, "1.23e+06"), (0, "0.00"), (None, "—"),
     (float("nan"), "NaN")],
)
def test_sig3(value: float | None, text: str) -> None:
    assert sig3(value) == text


def test_percent() -> None:
    assert percent(0.98) == "98.0%" and percent(None) == "—"


def test_loss_curve_geometry() -> None:
    curve = loss_curve([0.0, 1.0, 2.0], marks=[1, 7])
    assert curve is not None
    assert curve["points"] == "560 1320 2620 720 4680 120"  # tenths; rising values go up
    assert curve["marks"] == [{"cx": "262", "cy": "72"}]
    assert curve["y_max"]["text"] == "2.00" and curve["y_min"]["text"] == "0.00"
    flat = loss_curve([1.0, 1.0, float("nan")])
    assert flat is not None and flat["points"] == "560 720 2620 720"
    assert loss_curve([]) is None and loss_curve([None]) is None



def test_pages_written_by_two_processes_equal_one(tmp_path: Path) -> None:
    from atlas.synthetic_atlas import synthetic_manifest
    from atlas.site.parallel import CHUNK

    manifest = synthetic_manifest(2, CHUNK)  # two layers of CHUNK units: several chunks
    one = render_site(manifest, tmp_path / "one", progress=False, workers=1)
    two = render_site(manifest, tmp_path / "two", progress=False, workers=2)
    assert len(one) == len(two) > 2 * CHUNK
    for path in sorted((tmp_path / "one").rglob("*")):
        if path.is_file():
            twin = tmp_path / "two" / path.relative_to(tmp_path / "one")
            assert twin.read_bytes() == path.read_bytes(), path
    assert not list((tmp_path / "two").rglob(f"*{TMP_SUFFIX}"))  # no temporary file left behind
