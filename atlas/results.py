"""A built atlas as Python objects: `Atlas` (its layers), `Layer` (its units) and
`Unit` (its views, records, labels, scores and page), read from the site's manifest
(`atlas.json` and its layer files). In Jupyter a unit, a layer and the atlas show
themselves inline (`_repr_html_`, rendered by `atlas.site.notebook`).

A site's manifest is data anyone may have edited: every file it names is looked up
inside the site (`Atlas.file`), never wherever the manifest points."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlas.errors import AtlasError
from atlas.manifest_io import read_manifest, view_images
from atlas.manifest_types import MANIFEST
from atlas.site_paths import SiteFiles


@dataclass(frozen=True, repr=False)
class Unit:
    """One unit of a built atlas: `.layer` (its layer's name), `.index` and `.record`,
    its whole manifest entry (docs/manifest.md)."""

    atlas: Atlas
    layer: str
    index: int
    record: dict[str, Any]  # its manifest entry (docs/manifest.md, UnitEntry)

    @property
    def label(self) -> str:
        """'layer:index', as the pages name it."""
        return str(self.record.get("label", f"{self.layer}:{self.index}"))

    @property
    def views(self) -> dict[str, list[Path]]:
        """Each built view's images, as files: view name -> paths (the examples and
        the spectrum, which hold columns, are in `record["views"]`)."""
        return {name: [self.atlas.file(image, f"an image of {self.label}") for image in images]
                for name, images in view_images(self.record).items()}

    def activations(self, view: str) -> list[float | None]:
        """The unit's value on each image of `view`."""
        entry = (self.record.get("views") or {}).get(view)
        if not isinstance(entry, dict):
            raise AtlasError(f"unit {self.label} has no {view!r} view; it has: "
                             f"{', '.join(self.record.get('views') or {}) or 'none'}")
        return list(entry.get("activations") or [])

    @property
    def labels(self) -> dict[str, Any]:
        """The dominant label among its top dataset examples, by label key."""
        return dict(self.record.get("labels") or {})

    @property
    def scores(self) -> dict[str, Any]:
        """Faithfulness, super-stimulus ratio, polysemanticity, ... (UnitScores)."""
        return dict(self.record.get("scores") or {})

    @property
    def flags(self) -> list[str]:
        """What the data says about its pictures: "lost_to_data", "never_fires"."""
        return list(self.record.get("flags") or [])

    @property
    def page(self) -> Path:
        """Its HTML page."""
        return self.atlas.file(self.record.get("page"), f"the page of {self.label}")

    def __repr__(self) -> str:
        return f"Unit({self.layer!r}, {self.index})"

    def _repr_html_(self) -> str:
        from atlas.site.notebook import unit_html

        return unit_html(self)


@dataclass(frozen=True, repr=False)
class Layer:
    """One layer of a built atlas: `.name` and `.record`, its manifest entry with its
    units inline."""

    atlas: Atlas
    name: str
    record: dict[str, Any]  # its manifest entry, units inline

    @property
    def units(self) -> list[int]:
        """The indices of its units in this atlas."""
        return [unit["index"] for unit in self.record["units"]]

    def unit(self, index: int) -> Unit:
        """Its unit `index`; an AtlasError naming the built units where there is none."""
        for entry in self.record["units"]:
            if entry["index"] == index:
                return Unit(self.atlas, self.name, index, entry)
        built = self.units
        raise AtlasError(f"layer {self.name!r} has no unit {index} in this atlas; its units "
                         f"are {_ranges(built)}")

    @property
    def page(self) -> Path:
        """Its HTML page."""
        return self.atlas.file(self.record.get("page"), f"the page of layer {self.name!r}")

    def __repr__(self) -> str:
        return f"Layer({self.name!r}, {len(self.record['units'])} units)"

    def _repr_html_(self) -> str:
        from atlas.site.notebook import layer_html

        return layer_html(self)


class Atlas:
    """A built atlas: `atlas.open(site)` or what `atlas.build` returns. `.path` is its
    folder, `.manifest` the whole manifest (docs/manifest.md) and `.report` the
    BuildReport of the build that returned it (None from `atlas.open`)."""

    def __init__(self, path: Path, report: Any = None) -> None:
        self.path = Path(path).resolve()
        self.report = report  # the BuildReport of the build that returned it, else None
        if not (self.path / MANIFEST).is_file():
            raise AtlasError(f"no atlas in {self.path} (no {MANIFEST}); build one with "
                             f"atlas.build(..., out={str(self.path)!r}) or `atlas build --out "
                             f"{self.path}`")
        self.manifest: dict[str, Any] = read_manifest(self.path)
        self._files = SiteFiles(self.path)

    def file(self, path: Any, what: str) -> Path:
        """The file of this site that the manifest's `path` names as `what` ("an image of
        conv2:5"); an AtlasError where `path` is not a file of the site (absolute, `..`,
        a URL, a link out of the folder)."""
        try:
            return self._files.file(path)
        except ValueError as error:
            raise AtlasError(f"{MANIFEST} names {path!r} as {what}, which is not a file of "
                             f"the site ({error}); run `atlas render --out {self.path}` to "
                             f"write {MANIFEST} again") from None

    @property
    def layers(self) -> list[str]:
        """Its layers' names, in forward order."""
        return [layer["name"] for layer in self.manifest["layers"]]

    def layer(self, name: str) -> Layer:
        """The layer `name`; an AtlasError with the closest name where there is none."""
        for entry in self.manifest["layers"]:
            if entry["name"] == name:
                return Layer(self, name, entry)
        close = difflib.get_close_matches(name, self.layers, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise AtlasError(f"this atlas has no layer {name!r}{hint}; its layers are: "
                         f"{', '.join(self.layers)}")

    def units(self, layer: str) -> list[int]:
        """The indices of `layer`'s units in this atlas."""
        return self.layer(layer).units

    def unit(self, layer: str, index: int) -> Unit:
        """Unit `index` of `layer`."""
        return self.layer(layer).unit(index)

    def page(self, unit: Unit | Layer | None = None) -> Path:
        """The HTML page of `unit` (a Unit or a Layer); the index page without one."""
        return unit.page if unit is not None else self.path / "index.html"

    @property
    def model(self) -> dict[str, Any]:
        """The manifest's model entry: spec, title, weights' sha256, input size, ..."""
        return dict(self.manifest.get("model") or {})

    def __repr__(self) -> str:
        return f"Atlas({str(self.path)!r}: {self.model.get('spec')}, layers {self.layers})"

    def _repr_html_(self) -> str:
        from atlas.site.notebook import atlas_html

        return atlas_html(self)


def _ranges(numbers: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2, 5'."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs) or "none"
