"""relative_link: every URL the site emits is relative, quoted, and reaches its target."""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urlsplit

import pytest

from atlas.site.links import relative_link, site_path_parts


@pytest.mark.parametrize(
    ("from_page", "to_path", "expected"),
    [
        ("index.html", "layers/conv1.html", "layers/conv1.html"),
        ("index.html", "summary.html", "summary.html"),
        ("index.html", "index.html", "index.html"),
        ("units/conv1/0.html", "results/conv1/0/positive-0.png",
         "../../results/conv1/0/positive-0.png"),
        ("units/conv1/0.html", "units/conv1/1.html", "1.html"),
        ("units/conv1/7.html", "units/conv2/0.html", "../conv2/0.html"),
        ("units/conv1/0.html", "layers/conv1.html", "../../layers/conv1.html"),
        ("units/conv1/0.html", "index.html", "../../index.html"),
        ("layers/conv1.html", "units/conv1/0.html", "../units/conv1/0.html"),
        ("layers/conv1.html", "static/atlas.css", "../static/atlas.css"),
        # a directory that shares a name prefix is not a shared directory
        ("units/conv1/0.html", "units/conv10/0.html", "../conv10/0.html"),
        # the file name of from_page is not a directory
        ("layers/conv1.html", "layers/conv1.html/x.png", "conv1.html/x.png"),
        # quoting: spaces, unicode, '#', '?', '%', ':' stay inside one path segment
        ("index.html", "layers/my layer.html", "layers/my%20layer.html"),
        ("index.html", "layers/blöck.html", "layers/bl%C3%B6ck.html"),
        ("index.html", "layers/a#b.html", "layers/a%23b.html"),
        ("index.html", "layers/a?b.html", "layers/a%3Fb.html"),
        ("index.html", "layers/100%.html", "layers/100%25.html"),
        ("index.html", "units/conv1:0.html", "units/conv1%3A0.html"),  # "conv1:" leading: a scheme
        ("units/odd #1 ü/0.html", "units/odd #1 ü/1.html", "1.html"),
        ("units/odd #1 ü/0.html", "results/odd #1 ü/0/p.png",
         "../../results/odd%20%231%20%C3%BC/0/p.png"),
        ("units/x/0.html", "layers/<script>.html", "../../layers/%3Cscript%3E.html"),
    ],
)
def test_relative_link(from_page: str, to_path: str, expected: str) -> None:
    assert relative_link(from_page, to_path) == expected


@pytest.mark.parametrize(
    ("from_page", "to_path"),
    [
        ("index.html", "layers/conv1.html"),
        ("units/a b/#1.html", "results/ü/?/x.png"),
        ("units/conv1/0.html", "units/conv1/0.html"),
        ("a/b/c/d.html", "a/x/y.png"),
    ],
)
def test_link_resolves_back_to_target(from_page: str, to_path: str) -> None:
    """Joining the URL onto from_page's directory (as a browser does) gives to_path."""
    url = relative_link(from_page, to_path)
    parts = urlsplit(url)
    assert not parts.scheme and not parts.netloc and not parts.query and not parts.fragment
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(from_page), unquote(url)))
    assert joined == to_path


@pytest.mark.parametrize(
    "bad",
    ["", "/index.html", "../index.html", "a/../b.html", "a//b.html", "./a.html",
     "a\\b.html", "layers/"],
)
def test_unsafe_site_paths_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        site_path_parts(bad)
    with pytest.raises(ValueError):
        relative_link("index.html", bad)
    with pytest.raises(ValueError):
        relative_link(bad, "index.html")


@pytest.mark.parametrize("target", ["http://example.com/x.png", "https://cdn/x.css"])
def test_never_produces_absolute_urls(target: str) -> None:
    """A URL-looking manifest path is either refused or quoted into a harmless relative path."""
    try:
        url = relative_link("index.html", target)
    except ValueError:
        return
    assert "://" not in url and not url.startswith("/")
