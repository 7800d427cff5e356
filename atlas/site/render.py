"""Pages from the manifest: one function per page type, one function that writes.

Each `*_page` function turns a view model (from `views`, `unit_view`,
`summary_view`) into an HTML string with its template; none of them touch the
file system. `render_site` is the only writer. The Jinja environment is made
per call of `render_site` and passed in, never kept in a global.
"""

from __future__ import annotations

import gc
import importlib.resources
from collections.abc import Callable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from tqdm import tqdm

from atlas.fsio import write_bytes_atomic, write_text_atomic
from atlas.manifest_io import UnitsOf, unit_stub, units_reader
from atlas.manifest_types import FORMAT
from atlas.site.classes_view import class_view, classes_view
from atlas.site.compare_view import compare_view
from atlas.site.connections_view import Target, unit_targets
from atlas.site.frame import SEARCH_INDEX, shown_pages
from atlas.site.links import site_path_parts
from atlas.site.parallel import default_workers, fork_map, write_pages
from atlas.site.search_index import family_names, rows_script, unit_row
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
        return Path(__file__).resolve().parents[2] / "templates"


class _Environment(jinja2.Environment):
    """Reads `a.b` of a view model's dict as its key first: Jinja tries the attribute
    and catches the AttributeError, which on the hundreds of values of a unit page is
    a good part of a large atlas's render time. A dict's methods stay reachable
    (`data.items()`) where it has no key of that name."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def make_environment(templates: Traversable | None = None) -> jinja2.Environment:
    """A fresh Jinja environment over the templates: autoescaping, strict about missing keys."""
    root = templates if templates is not None else templates_dir()

    def load(name: str) -> str:
        return root.joinpath(*name.split("/")).read_text(encoding="utf-8")

    return _Environment(
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


def classes_page(env: jinja2.Environment, manifest: Manifest,
                 targets: dict[tuple[str, int], Target]) -> str:
    """The list of classes with the units that make each."""
    return env.get_template("classes.html").render(view=classes_view(manifest, targets))


def class_page(env: jinja2.Environment, manifest: Manifest, position: int,
               targets: dict[tuple[str, int], Target]) -> str:
    """One class's page."""
    return env.get_template("class.html").render(view=class_view(manifest, position, targets))


def _site_pages(env: jinja2.Environment,
                manifest: Manifest) -> Iterator[tuple[str, Callable[[], str]]]:
    """The pages that are not a layer's: index, summary, joint, compare, classes
    (those with something to show)."""
    pages = shown_pages(manifest)
    yield pages["index"], partial(index_page, env, manifest)
    if pages.get("summary"):
        yield pages["summary"], partial(summary_page, env, manifest)
    if pages.get("joint"):
        yield pages["joint"], partial(joint_page, env, manifest)
    if pages.get("compare"):
        yield pages["compare"], partial(compare_page, env, manifest)
    classes = manifest.get("classes")
    if classes:
        targets = unit_targets(manifest)
        yield classes["page"], partial(classes_page, env, manifest, targets)
        for position, row in enumerate(classes["classes"]):
            yield row["page"], partial(class_page, env, manifest, position, targets)


def _layer_pages(env: jinja2.Environment, manifest: Manifest, layer_pos: int,
                 targets: dict) -> list[tuple[str, Callable[[], str]]]:
    """The layer's page and its units' pages (the layer's units must be whole)."""
    layer = manifest["layers"][layer_pos]
    return [(layer["page"], partial(layer_page, env, manifest, layer_pos))] + [
        (unit["page"], partial(unit_page, env, manifest, layer_pos, up, targets))
        for up, unit in enumerate(layer.get("units", []))]


def _light(manifest: Mapping[str, Any], units_of: UnitsOf,
           workers: int = 1) -> tuple[Manifest, list[list[str]]]:
    """The manifest with every unit as its stub (what other layers' pages read of
    it), and every unit's search row, reading one layer's units at a time in each
    of `workers` processes."""
    headers = manifest.get("layers", [])
    found = fork_map(partial(_layer_light, units_of), headers, workers)
    layers = [{**header, "units": stubs} for header, (stubs, _) in zip(headers, found)]
    return {**manifest, "layers": layers}, [row for _, rows in found for row in rows]


def _layer_light(units_of: UnitsOf, header: dict) -> tuple[list[dict], list[list[str]]]:
    """One layer's unit stubs and search rows."""
    units = units_of(header)
    names = family_names(header)
    return [unit_stub(unit) for unit in units], [unit_row(header, unit, names) for unit in units]


def _copy_static(templates: Traversable, site_dir: Path) -> None:
    """Copy the stylesheets (and any scripts) to <site>/static/."""
    for item in templates.joinpath("static").iterdir():
        if item.is_file() and item.name.endswith(STATIC_SUFFIXES):
            write_bytes_atomic(site_dir / "static" / item.name, item.read_bytes())


def render_site(manifest: Mapping[str, Any], site_dir: Path, progress: bool = True,
                workers: int | None = None, units_of: UnitsOf | None = None) -> list[Path]:
    """Write the HTML site for `manifest` into `site_dir`; return the pages written.

    The images the manifest names must already be in `site_dir`. Layers are
    rendered one at a time: their units come from `units_of` (default: held
    inline in the manifest, else read from their files under `site_dir`), so
    memory holds one layer's units and a small stub of every other unit. Returns
    the absolute paths of the HTML pages, in writing order. Also writes the
    search index (`search-index.js`), the stylesheets and scripts to `static/`,
    and an empty `.nojekyll` (so GitHub Pages serves the files as they are).
    `workers` processes write the pages (default: one per core for a large site,
    see `write_pages`). Raises ValueError for a manifest of another format or a
    page path that is absolute, climbs out with `..`, or repeats.
    """
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(
            f"atlas.json format {manifest.get('format')!r} is not {MANIFEST_FORMAT}; "
            "re-render it with `atlas render` or rebuild the atlas with this version"
        )
    site_dir = Path(site_dir).resolve()
    units_of = units_of or units_reader(site_dir)
    if workers is None:  # the pages: the index, summary, joint, compare, layers and units
        workers = default_workers(5 + sum(1 + layer.get("unit_count", len(layer.get(
            "units", []))) for layer in manifest.get("layers", [])))
    light, rows = _light(manifest, units_of, workers)
    templates = templates_dir()
    env = make_environment(templates)
    site_pages = list(_site_pages(env, light))
    paths = [path for path, _ in site_pages] + [
        path for layer in light["layers"]
        for path in [layer["page"]] + [unit["page"] for unit in layer["units"]]]
    for path in paths:
        site_path_parts(path)
    if len(set(paths)) != len(paths):
        raise ValueError("the manifest names the same page path twice")
    targets = unit_targets(light)  # once: every unit page links its connections
    with tqdm(total=len(paths), desc="pages", unit="page", disable=not progress) as bar:
        for done in write_pages(site_pages, site_dir, 1):
            bar.update(done)
        for layer_pos, header in enumerate(manifest.get("layers", [])):
            stubs = light["layers"][layer_pos]["units"]
            light["layers"][layer_pos]["units"] = units_of(header)
            # A layer's units are many objects alive while its pages are written: left
            # to the cyclic collector, each full collection would walk them all.
            gc.freeze()
            try:
                for done in write_pages(_layer_pages(env, light, layer_pos, targets), site_dir,
                                        workers):
                    bar.update(done)
            finally:
                gc.unfreeze()
                light["layers"][layer_pos]["units"] = stubs
    written = [site_dir.joinpath(*path.split("/")) for path in paths]
    write_text_atomic(site_dir / SEARCH_INDEX, rows_script(rows))
    _copy_static(templates, site_dir)
    write_bytes_atomic(site_dir / ".nojekyll", b"")
    return written
