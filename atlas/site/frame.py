"""What every page shares: the frame (title, stylesheets, header nav, footer),
image entries, and look-ups from manifest names to page paths.

Every URL here is resolved for the page being built, via `relative_link`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atlas.site.links import relative_link

STYLESHEETS = ("static/atlas.css", "static/figures.css", "static/controls.css",
               "static/unit.css", "static/compare.css")
"""Site-root paths of the stylesheets every page links, in cascade order."""

NAV = (("index", "Atlas home"), ("summary", "Summary"), ("classes", "Classes"),
       ("joint", "Joint"), ("compare", "Techniques"))
"""Header nav entries: (key in manifest["pages"], label)."""

LISTED_CONTENT = {"joint": "joint"}
"""Pages that show a manifest list (page key -> manifest key): with the list empty
the page has nothing to show, so it is neither written nor linked."""

SCRIPT = "static/atlas.js"
"""Site-root path of the script every page loads: keys, search, weight maps."""

SEARCH_INDEX = "search-index.js"
"""Site-root path of the search index (a script, so it loads from file:// too)."""


def shown_pages(manifest: Mapping[str, Any]) -> dict[str, str]:
    """`manifest["pages"]` less the pages with nothing to show: those the nav links
    and `render_site` writes (a build without joint objectives has no joint page)."""
    return {key: path for key, path in (manifest.get("pages") or {}).items()
            if key not in LISTED_CONTENT or manifest.get(LISTED_CONTENT[key])}


def frame(
    manifest: dict[str, Any], page: str, title: str, current: str | None = None,
    kind: str = "page", scripts: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The frame view for `page`: `<title>`, stylesheet and script hrefs, header nav
    with the search box, and footer.

    `current` names the nav entry (a key of `NAV`) this page is, so it can be
    marked as the current one rather than linked to itself. `kind` (index,
    layer, unit, ...) becomes the body's class; `scripts` are site-root paths of
    scripts this kind of page loads after the shared one.
    """
    model = manifest.get("model", {})
    pages = shown_pages(manifest)
    site_title = model.get("title") or model.get("spec") or "Atlas"
    nav = [
        {"label": label, "href": relative_link(page, pages[key]), "current": key == current}
        for key, label in NAV
        if pages.get(key)
    ]
    return {
        "title": title,
        "site_title": site_title,
        "full_title": title if title == site_title else f"{title} · {site_title}",
        "stylesheets": [relative_link(page, sheet) for sheet in STYLESHEETS],
        "scripts": [relative_link(page, script) for script in (SCRIPT, *scripts)],
        "search_index": relative_link(page, SEARCH_INDEX),
        "root": "../" * (len(page.split("/")) - 1),
        "kind": kind,
        "nav": nav,
        "home": relative_link(page, pages.get("index", "index.html")),
        "atlas_version": str(manifest.get("atlas_version") or ""),
        "generated_at": str(manifest.get("generated_at") or ""),
    }


def image(
    page: str, path: str, alt: str, caption: str | None = None, note: str | None = None,
    alpha: str | None = None,
) -> dict[str, Any]:
    """An image entry: src as seen from `page`, alt text, optional caption and note,
    and the path of its transparency map where it has one (shown as an overlay).

    The note is what tells images of one figure apart (a seed, a step, a
    position); the caption is the measured value.
    """
    return {"src": relative_link(page, path), "alt": alt, "caption": caption, "note": note,
            "alpha": relative_link(page, alpha) if alpha else None}


def href(page: str, target: str | None) -> str | None:
    """The href of `target` seen from `page`, or None when there is no target."""
    return relative_link(page, target) if target else None


def link(page: str, target: str | None, label: str) -> dict[str, Any] | None:
    """A `{href, label}` link from `page` to `target`, or None when there is no target."""
    if not target:
        return None
    return {"href": relative_link(page, target), "label": label}


def layer_pages(manifest: dict[str, Any]) -> dict[str, str]:
    """Layer name -> layer page path."""
    return {layer["name"]: layer["page"] for layer in manifest.get("layers", [])}


def unit_pages(manifest: dict[str, Any]) -> dict[tuple[str, int], str]:
    """(layer name, unit index) -> unit page path."""
    return {
        (layer["name"], unit["index"]): unit["page"]
        for layer in manifest.get("layers", [])
        for unit in layer.get("units", [])
    }


def first_image(unit: Mapping[str, Any], view: str = "positive") -> str | None:
    """The first image path of `view` for `unit`, or None if the view has none."""
    images = unit.get("views", {}).get(view, {}).get("images") or []
    return images[0] if images else None
