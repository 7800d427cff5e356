"""Golden pages: every page of a tiny synthetic atlas, byte for byte (pdoc's snapshot tests).

The atlas is `golden_atlas.manifest()`; the stored pages are tests/golden/, with
paths as in the site. After an intended change to the pages, regenerate them
from the repo root with `golden_atlas.UPDATE_COMMAND` (printed by any failure)
and review the diff in git. The structural page tests stay where they are:
these only say that something changed, not whether it is right.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from golden_atlas import GOLDEN_DIR, UPDATE_COMMAND, changes, diff_text, render_pages, stored_pages

DIFF_LINES = 40
"""How many diff lines a failure shows, over all changed files."""

_RENDER_TO = (
    "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
    "from golden_atlas import render_pages; render_pages(Path(sys.argv[2]))"
)


def _report(found: dict[str, list[str]], rendered: dict[str, bytes],
            stored: dict[str, bytes]) -> str:
    lines = [(f"the rendered golden atlas differs from tests/golden/: "
              f"{len(found['changed'])} changed, {len(found['added'])} missing from the goldens, "
              f"{len(found['removed'])} stale goldens (no such page is rendered)")]
    lines += [f"  changed: {p}" for p in found["changed"]]
    lines += [f"  missing: {p}" for p in found["added"]]
    lines += [f"  stale:   {p}" for p in found["removed"]]
    budget = DIFF_LINES
    for path in found["changed"]:
        if budget <= 0:
            lines.append("... (more diffs left out)")
            break
        diff = diff_text(path, stored[path], rendered[path], limit=budget).splitlines()
        budget -= len(diff)
        lines += diff
    lines.append(f"If the change is intended, regenerate the goldens from the repo root with:\n"
                 f"    {UPDATE_COMMAND}")
    return "\n".join(lines)


def test_pages_match_golden(tmp_path: Path) -> None:
    rendered = render_pages(tmp_path)
    stored = stored_pages()
    assert stored, f"no golden pages in {GOLDEN_DIR}; create them with:\n    {UPDATE_COMMAND}"
    found = changes(rendered, stored)
    if any(found.values()):
        pytest.fail(_report(found, rendered, stored), pytrace=False)


def test_golden_atlas_covers_every_page_kind(tmp_path: Path) -> None:
    """The goldens hold each page kind, and no page shows the hostile text unescaped
    (search-index.js holds it raw inside JSON strings, which atlas.js puts in
    `textContent`)."""
    rendered = render_pages(tmp_path)
    for page in ("index.html", "summary.html", "joint.html", "layers/mixed3a.html",
                 "layers/head.html", "units/mixed3a/0.html", "units/head/1.html"):
        assert page in rendered
    for path, data in rendered.items():
        if path.endswith(".html"):
            assert b"<b>&" not in data, path


def test_render_is_deterministic(tmp_path: Path) -> None:
    """Two renders in fresh interpreters with different hash seeds (so set order
    differs) give the same bytes, every file, static included. (A time leak shows
    as a golden mismatch: the goldens were rendered at another time.)"""
    runs = []
    for seed in ("1", "2"):
        site = tmp_path / f"site-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", _RENDER_TO, str(Path(__file__).parent), str(site)],
                       check=True, env=env)
        runs.append({p.relative_to(site).as_posix(): p.read_bytes()
                     for p in sorted(site.rglob("*")) if p.is_file()})
    first, second = runs
    assert first.keys() == second.keys()
    differ = sorted(p for p in first if first[p] != second[p])
    assert not differ, "pages differ between two renders of one manifest:\n" + "\n".join(
        diff_text(p, first[p], second[p], limit=DIFF_LINES) for p in differ[:2])
