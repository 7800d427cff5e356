"""Pages from the manifest: one function per page type, one function that writes.

Each `*_page` function turns a view model (from `views`, `unit_view`,
`summary_view`) into an HTML string with its template; none of them touch the
file system. `render_site` is the only writer. The Jinja environment is made
per call of `render_site` and passed in, never kept in a global.
"""

from __future__ import annotations

import gc
import importlib.resources
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from tqdm import tqdm

import atlas
from atlas.fsio import write_bytes_atomic, write_text_atomic
from atlas.manifest_types import FORMAT
from atlas.site.compare_view import compare_view
from atlas.site.connections_view import unit_targets
from atlas.site.frame import SEARCH_INDEX
from atlas.site.links import site_path_parts
from atlas.site.parallel import write_pages
from atlas.site.search_index import search_script
from atlas.site.summary_view import joint_view, summary_view
from atlas.site.unit_view import unit_view
from atlas.site.views import index_view, layer_view

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

MANIFEST_FORMAT = FORMAT
"""The `format` of atlas.json this renderer reads (see docs/manifest.md)."""

STATIC_SUFFIXES = (".css", ".js")
"""Files of templates/static copied to <site>/static (the same set pyproject installs)."""

Manifest = dict[str, Any]


def templates_dir() -> Traversable:
    """Where the templates are: the `atlas.templates` package, or the checkout's templates/.

    An installed atlas maps the repo's top-level `templates/` to the package
    `atlas.templates`; a plain checkout (no `pip install`) has no such package,
    so fall back to `templates/` beside the `atlas/` folder.
    """
    try:
        return importlib.resources.files("atlas.templates")
    except ModuleNotFoundError:
        return Path(atlas.__file__).resolve().parent.parent / "templates"


def make_environment(templates: Traversable | None = None) -> jinja2.Environment:
    """A fresh Jinja environment over the templates: autoescaping, strict about missing keys."""
    root = templates if templates is not None else templates_dir()

    def load(name: str) -> str:
        return root.joinpath(*name.split("/")).read_text(encoding="utf-8")

    return jinja2.Environment(
        loader=jinja2.FunctionLoader(load),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def index_page(env: jinja2.Environment, manifest: Manifest) -> str:
    """The home page: model, accuracy, build settings, layers with thumbnails."""
    return env.get_template("index.html").render(view=index_view(manifest))


def layer_page(env: jinja2.Environment, manifest: Manifest, layer_pos: int) -> str:
    """The page of the `layer_pos`-th layer of `manifest["layers"]`."""
    return env.get_template("layer.html").render(view=layer_view(manifest, layer_pos))


def unit_page(env: jinja2.Environment, manifest: Manifest, layer_pos: int, unit_pos: int,
              targets: dict | None = None) -> str:
    """The page of one unit, addressed by its positions in the manifest's lists.
    `targets` (from `unit_targets`) resolves its connections; made here if not given."""
    view = unit_view(manifest, layer_pos, unit_pos,
                     targets if targets is not None else unit_targets(manifest))
    return env.get_template("unit.html").render(view=view)


def summary_page(env: jinja2.Environment, manifest: Manifest) -> str:
    """The page answering the three summary questions."""
    return env.get_template("summary.html").render(view=summary_view(manifest))


def joint_page(env: jinja2.Environment, manifest: Manifest) -> str:
    """The page of jointly optimized unit combinations."""
    return env.get_template("joint.html").render(view=joint_view(manifest))


def compare_page(env: jinja2.Environment, manifest: Manifest) -> str:
    """The page of units optimized with one technique changed at a time."""
    return env.get_template("compare.html").render(view=compare_view(manifest))


def _page_plan(
    env: jinja2.Environment, manifest: Manifest
) -> Iterator[tuple[str, Callable[[], str]]]:
    """Every page of the site as (site path, function making its HTML)."""
    pages = manifest["pages"]
    targets = unit_targets(manifest)  # once: every unit page links its connections
    yield pages["index"], partial(index_page, env, manifest)
    if pages.get("summary"):
        yield pages["summary"], partial(summary_page, env, manifest)
    if pages.get("joint"):
        yield pages["joint"], partial(joint_page, env, manifest)
    if pages.get("compare"):
        yield pages["compare"], partial(compare_page, env, manifest)
    for lp, layer in enumerate(manifest.get("layers", [])):
        yield layer["page"], partial(layer_page, env, manifest, lp)
        for up, unit in enumerate(layer.get("units", [])):
            yield unit["page"], partial(unit_page, env, manifest, lp, up, targets)


def _copy_static(templates: Traversable, site_dir: Path) -> None:
    """Copy the stylesheets (and any scripts) to <site>/static/."""
    for item in templates.joinpath("static").iterdir():
        if item.is_file() and item.name.endswith(STATIC_SUFFIXES):
            write_bytes_atomic(site_dir / "static" / item.name, item.read_bytes())


def render_site(manifest: Manifest, site_dir: Path, progress: bool = True,
                workers: int | None = None) -> list[Path]:
    """Write the HTML site for `manifest` into `site_dir`; return the pages written.

    The images the manifest names must already be in `site_dir`. Returns the
    absolute paths of the HTML pages, in writing order. Also writes the search
    index (`search-index.js`), the stylesheets and scripts to `static/`, and an
    empty `.nojekyll` (so GitHub Pages serves the files as they are). `workers`
    processes write the pages (default: one per core for a large site, see
    `write_pages`). Raises ValueError for a manifest of another format or a page
    path that is absolute, climbs out with `..`, or repeats.
    """
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(
            f"atlas.json format {manifest.get('format')!r} is not {MANIFEST_FORMAT}; "
            "rebuild the atlas with this version"
        )
    site_dir = Path(site_dir).resolve()
    templates = templates_dir()
    env = make_environment(templates)
    plan = list(_page_plan(env, manifest))
    paths = [path for path, _ in plan]
    for path in paths:
        site_path_parts(path)
    if len(set(paths)) != len(paths):
        raise ValueError("the manifest names the same page path twice")
    # The manifest is millions of objects that live until the end: left to the cyclic
    # collector, every full collection walks them all (a 10,000-unit site renders
    # 1.6x slower). Frozen, the collector skips them.
    gc.freeze()
    try:
        with tqdm(total=len(plan), desc="pages", unit="page", disable=not progress) as bar:
            for done in write_pages(plan, site_dir, workers):
                bar.update(done)
    finally:
        gc.unfreeze()
    written = [site_dir.joinpath(*path.split("/")) for path in paths]
    write_text_atomic(site_dir / SEARCH_INDEX, search_script(manifest))
    _copy_static(templates, site_dir)
    write_bytes_atomic(site_dir / ".nojekyll", b"")
    return written
