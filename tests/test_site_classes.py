"""The class index of a partial build: units it did not build are named apart, legibly.

A build with `--channels 0-3` measures every channel's share of each class's
margin, so the list names channels that have no page and no image; their names
must not run together (`features.10:39features.10:20`).
"""

from __future__ import annotations

import re
from typing import Any

from atlas.site.connections_view import unit_targets
from atlas.site.render import classes_page, make_environment


def _unit(index: int, positive: bool) -> dict[str, Any]:
    views = {"positive": {"images": [f"results/conv3/{index}/positive-0.png"]}} if positive else {}
    return {"index": index, "page": f"units/conv3/{index}.html", "views": views}


def _manifest() -> dict[str, Any]:
    shares = [(39, 0.3), (1, 0.2), (20, 0.15), (0, 0.1), (7, 0.05)]  # the fifth is not listed
    return {
        "model": {"title": "Net"},
        "pages": {"index": "index.html", "classes": "classes.html"},
        "layers": [{"name": "conv3", "page": "layers/conv3.html",
                    "units": [_unit(0, positive=False), _unit(1, positive=True)]}],
        "classes": {
            "page": "classes.html", "layer": "conv3", "logits": "fc", "images": 12,
            "labels": "dataset", "method": "Margin attribution.",
            "classes": [{"name": "cat", "index": 0, "page": "classes/0.html", "images": 12,
                         "margin": 1.5, "channels_share": 0.9, "concepts": [],
                         "channels": [{"layer": "conv3", "unit": u, "share": s}
                                      for u, s in shares]}],
        },
    }


def _cell(manifest: dict[str, Any]) -> str:
    html = classes_page(make_environment(), manifest, unit_targets(manifest))
    return re.search(r'<td class="thumb-cell">(.*?)</td>', html, re.S).group(1)


def test_unbuilt_channels_are_named_apart() -> None:
    cell = _cell(_manifest())
    assert '<span class="unit-names">not built: conv3:39, conv3:20</span>' in cell
    assert "conv3:39conv3:20" not in re.sub(r"<[^>]+>", "", cell)
    assert "conv3:7" not in cell  # past the list's four


def test_built_channels_link_by_image_or_by_name() -> None:
    cell = _cell(_manifest())
    assert cell.count('<img class="pixel thumb"') == 1  # conv3:1 has its positive image
    assert 'href="units/conv3/1.html"' in cell
    # conv3:0 is built but has no image: a named link, apart from the unbuilt ones
    assert re.search(r'<span class="unit-names"><a href="units/conv3/0.html"[^>]*>conv3:0</a>'
                     r'</span>', cell)


def test_a_whole_build_names_no_unbuilt_channel() -> None:
    manifest = _manifest()
    manifest["classes"]["classes"][0]["channels"] = [
        {"layer": "conv3", "unit": 1, "share": 0.5}]
    cell = _cell(manifest)
    assert "not built" not in cell and "unit-names" not in cell
