"""`atlas bench --quality`: which images a researcher can trust, measured
against the data, for every parameterization and for torch-lucent, in one run.

Each atlas parameterization (pixel, Fourier + decorrelated, MACO) is a real
build of the positive, diversity, seeds and examples views with the model's
defaults for everything else. torch-lucent's `render_vis` gets the same
steps and image size (its own standard transforms, Fourier + decorrelated
parameterization, and its diversity objective); its images are stored the
same way and measured by the same analysis. Per layer:

- activation: mean over units of the positive image's channel mean;
- super-stimulus: mean of (positive image's peak / the data's peak);
- faithfulness: mean Spearman correlation between the positive image's
  activation pattern and that of the unit's top dataset examples;
- saturation: share of the positive images' 8-bit channel values at 0 or 255;
- retention: the worst diversity image's activation over the positive
  image's, minimum over units, and the share of units at 0.5 or more (units
  whose positive activation is under 1% of the layer's strongest barely fire
  and are left out);
- distinctness: mean spread of a unit's diversity images in the layer's
  activation space, as a fraction of the spread between units (seeds: the
  same for the seeds view, the images diversity must differ more than).
"""

from __future__ import annotations

import platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from PIL import Image

from atlas.bench.dataset_pass import cpu_name
from atlas.bench.quality_work import QualityWork
from atlas.config import SETTINGS, check_setting
from atlas.errors import AtlasError
from atlas.pipeline.analysis.evidence import SILENT_FRACTION
from atlas.record_types import Analysis
from atlas.store import LAYER_UNIT, ResultStore

# The parameterizations compared: name -> the settings that select it.
CANDIDATES: dict[str, dict[str, Any]] = {
    "pixel": {"param": "pixel"},
    "fourier": {"param": "fourier"},
    "maco": {"param": "maco"},
}
LUCENT = "lucent"


def vary_candidates(specs: list[str]) -> dict[str, dict[str, Any]]:
    """Candidates from `--vary SETTING=A,B,...` specs: one build per value, every other
    setting at the model's defaults (e.g. lr=0.02,0.05 gives "lr=0.02" and "lr=0.05")."""
    found: dict[str, dict[str, Any]] = {}
    for spec in specs:
        key, _, values = spec.partition("=")
        key = key.strip().replace("-", "_")
        if key not in SETTINGS or not values:
            raise AtlasError(f"--vary takes SETTING=VALUE,VALUE (a build setting such as lr, "
                             f"param, jitter, steps), not {spec!r}")
        for text in values.split(","):
            found[f"{key}={text.strip()}"] = {key: check_setting(key, _literal(text.strip()))}
    return found


def _literal(text: str) -> Any:
    """A command-line value as the setting's type will check it: a number where it is one."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


RETAINED = 0.5  # a diversity image must keep half the positive activation


@dataclass
class LayerQuality:
    method: str
    layer: str
    units: int
    activation: float
    super_stimulus: float | None
    faithfulness: float | None
    saturation: float
    retention_min: float | None
    retained_share: float | None
    distinctness: float | None
    seeds_spread: float | None
    # a class output's logits: the share of positive images the model reads as their class
    top1: float | None = None
    top5: float | None = None
    top_example_in_class: str | None = None  # "n of m" logits, where labelled
    # the accent view: mean activation of the real images and of their accentuations,
    # and the mean distance moved (RMS); the caricature view: its mean score
    accent_before: float | None = None
    accent_after: float | None = None
    accent_distance: float | None = None
    caricature: float | None = None


def saturated_share(paths: list[Path]) -> float:
    """Share of 8-bit channel values at 0 or 255 over the images at `paths`."""
    values = np.concatenate([np.asarray(Image.open(p).convert("RGB")).ravel() for p in paths])
    return float(((values == 0) | (values == 255)).mean())


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def measure_site(method: str, store: ResultStore, analysis: Analysis) -> list[LayerQuality]:
    """The quality rows of one stored atlas (a build, or lucent's images stored alike)."""
    rows = []
    for layer, units in analysis["units"].items():
        activations, positives, worst = [], [], []
        for unit in units:
            positive = store.load_view(layer, int(unit), "positive")
            diversity = store.load_view(layer, int(unit), "diversity")
            if not positive or not positive.get("images"):
                continue
            value = positive["activations"][0]
            activations.append(value)
            positives.append(store.path(positive["images"][0]))
            if diversity and diversity.get("activations"):
                worst.append((value, min(diversity["activations"])))
        # A unit that barely fires (below 1% of the layer's strongest) has no retention
        # to speak of: its seed images are as silent as its diversity images.
        floor = SILENT_FRACTION * max(activations)
        retentions = [low / value for value, low in worst if value > max(floor, 0)]
        if not activations:
            continue
        scores = list(units.values())
        stored = [store.load_view(layer, int(unit), "accent") for unit in units]
        accents = [record for record in stored if record and record.get("images")]
        caricature = store.load_view(layer, LAYER_UNIT, "caricature")
        recognized = analysis.get("recognition") or {}
        if recognized.get("layer") != layer:
            recognized = {}
        labelled = recognized.get("labelled")
        rows.append(LayerQuality(
            method, layer, len(activations), float(np.mean(activations)),
            _mean([s.get("super_stimulus") for s in scores]),
            _mean([s.get("faithfulness") for s in scores]),
            saturated_share(positives),
            min(retentions) if retentions else None,
            float(np.mean([r >= RETAINED for r in retentions])) if retentions else None,
            _mean([s.get("diversity_spread") for s in scores]),
            _mean([s.get("polysemanticity") for s in scores]),
            recognized.get("top1"), recognized.get("top5"),
            f"{recognized['top_example_in_class']} of {labelled}" if labelled else None,
            _mean([v for record in accents for v in record["before"]]),
            _mean([v for record in accents for v in record["activations"]]),
            _mean([v for record in accents for v in record["distance"]]),
            _mean(caricature["activations"]) if caricature and caricature.get("images")
            else None))
    return rows


def build_candidate(work: QualityWork, name: str, overrides: dict[str, Any],
                    folder: Path) -> list[LayerQuality]:
    from atlas.pipeline.build import build_atlas

    config = work.config(folder / name, overrides)
    build_atlas(config, progress=False)
    store = ResultStore(folder / name)
    # the build has just written it
    return measure_site(name, store, cast(Analysis, store.load_json("analysis.json")))


def run_quality(work: QualityWork, candidates: dict[str, dict[str, Any]] = CANDIDATES,
                lucent: bool = True, echo: Callable[[str], None] = print,
                folder: Path | None = None,
                dataset_label: str | None = None) -> list[LayerQuality]:
    """Builds every candidate (and lucent's images) and prints the table;
    `dataset_label` names the dataset in the header instead of its path."""
    rows: list[LayerQuality] = []
    settings = work.config(Path("."), {})
    layers = ",".join(settings.layers) if settings.layers else "the model's own"
    echo(f"atlas bench --quality: model {settings.model}, dataset "
         f"{dataset_label or settings.dataset or 'its own'}, layers {layers}, channels "
         f"{settings.channels or 'all'}, {settings.steps} steps, image size "
         f"{settings.image_size or 'native'}")
    echo(f"machine: {platform.machine()} ({cpu_name()}), {torch.get_num_threads()} torch "
         f"threads, torch {torch.__version__}")
    with tempfile.TemporaryDirectory(prefix="atlas-quality-") as scratch:
        root = Path(folder or scratch)
        for name, overrides in candidates.items():
            echo(f"  building {name} …")
            rows += build_candidate(work, name, overrides, root)
        if lucent:
            from atlas.bench.quality_lucent import lucent_site

            echo("  running torch-lucent's render_vis …")
            store, analysis = lucent_site(work, root / LUCENT)
            rows += measure_site(LUCENT, store, analysis)
    for line in table(rows):
        echo(line)
    return rows


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


COLUMNS = ("method", "layer", "units", "activation", "super-stimulus", "faithfulness",
           "saturated", "retention min", f"units ≥ {RETAINED:g}", "distinctness",
           "seeds spread")
RECOGNITION = ("top-1", "top-5", "top example in class")  # where a class output was built
FROM_DATA = ("accent before", "accent after", "accent moved", "caricature")  # where built


def table(rows: list[LayerQuality]) -> list[str]:
    recognition = any(row.top1 is not None for row in rows)
    from_data = any(row.accent_after is not None or row.caricature is not None for row in rows)
    columns = COLUMNS + (RECOGNITION if recognition else ()) + (FROM_DATA if from_data else ())
    cells = [columns] + [(
        row.method, row.layer, str(row.units), _number(row.activation),
        _number(row.super_stimulus), _number(row.faithfulness), _percent(row.saturation),
        _number(row.retention_min), _percent(row.retained_share), _number(row.distinctness, 4),
        _number(row.seeds_spread, 4))
        + ((_percent(row.top1), _percent(row.top5), row.top_example_in_class or "-")
           if recognition else ())
        + ((_number(row.accent_before), _number(row.accent_after),
            _number(row.accent_distance), _number(row.caricature)) if from_data else ())
        for row in rows]
    widths = [max(len(cell[i]) for cell in cells) for i in range(len(columns))]

    def line(cell: tuple) -> str:
        return "  ".join(text.ljust(widths[i]) if i < 2 else text.rjust(widths[i])
                         for i, text in enumerate(cell))

    return ["", line(cells[0]), "  ".join("-" * w for w in widths)] + [
        line(cell) for cell in cells[1:]]
