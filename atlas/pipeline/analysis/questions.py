"""Measured answers to the three questions researchers ask of an atlas.

1. Colour or shape? For every unit, the share of its activation variance on
   the randomly coloured test digits explained by the digit's colour versus
   by its class (correlation ratios, eta squared). A layer's colour score is
   the mean over its units.
2. Shortcut? Biased versus unbiased accuracy, recolouring digits with another
   class's colour, and whether each class logit's visualization wears its
   class's training colour.
3. Polysemantic? The five seed images of a unit, compared by the activation
   vector they produce at the unit's layer: the mean pairwise cosine distance.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F

from atlas.config import BuildConfig
from atlas.models.concept_reads import concept_base
from atlas.models.layers import Chosen, LayerInfo
from atlas.models.registry import LoadedModel
from atlas.optvis.hooks import capture, frozen
from atlas.pipeline.analysis.concepts_compare import concepts_against_channels
from atlas.pipeline.analysis.evidence import (
    EXAMPLES_COLOUR_METHOD,
    EXAMPLES_POLY_METHOD,
    FAITHFULNESS_METHOD,
    DataEvidence,
    Standardizer,
    baseline_rows,
    example_polysemanticity,
    faithfulness,
    label_shares,
    ratio,
    summary_rows,
)
from atlas.pipeline.analysis.families import FAMILIES_METHOD, families
from atlas.pipeline.analysis.flags import unit_flags
from atlas.pipeline.analysis.recognition import recognition
from atlas.pipeline.dataset.extremes import Extremes, spatial_extremes
from atlas.record_types import Analysis
from atlas.store import ResultStore, load_image

COLOUR_METHOD = (
    "For each unit, the mean activation over the randomly coloured test digits is split "
    "into the share of its variance explained by the digit's colour (eta² of colour) and "
    "by its class (eta² of class). colour score = eta²(colour) / (eta²(colour) + eta²(class)); "
    "shape score = 1 − colour score. A layer's score is the mean over its units; above 0.5 "
    "the layer responds more to colour than to shape. Saturation is the mean HSV saturation "
    "of the layer's positive visualizations."
)
SATURATION_ONLY_METHOD = (
    "No probe data for this model: saturation is the mean HSV saturation of the layer's "
    "positive visualizations."
)
SHORTCUT_METHOD = (
    "Accuracy on held-out digits coloured like the training set (95% in their class colour) "
    "versus coloured at random. Colour swap: every test digit recoloured with another "
    "class's colour; the share of predictions that follow the colour versus the shape. "
    "Each class logit's positive visualization is summarized by the mean colour of its "
    "most colourful fifth of pixels (max − min channel) and matched to the class colour "
    "nearest in chromaticity. From the data: of each logit's top-k dataset examples (held-out "
    "digits coloured at random), how many show its class and how many wear its class's "
    "training colour; a logit that reads shape has mostly its own digit on top, one that "
    "took the shortcut mostly its colour."
)
POLY_METHOD = (
    "Each unit is optimized from 5 random seeds (initialization and transformations). "
    "Every seed image is run through the network and described by its activation vector "
    "at the unit's layer (channels averaged over positions, then each channel z-scored over "
    "all seed images of the layer, so only what sets an image apart counts). score = mean "
    "pairwise cosine distance of a unit's 5 vectors divided by the mean distance between "
    "images of different units of the same layer: 0 when the seeds found the same thing, "
    "1 when they differ as much as two different units do."
)
TOP_POLYSEMANTIC = 8


def _images(store: ResultStore, layer: str, unit: int, view: str) -> torch.Tensor | None:
    record = store.load_view(layer, unit, view)
    if record is None or not record.get("images"):
        return None
    return torch.stack([load_image(store.path(rel)) for rel in record["images"]])


# Images the analysis runs through the model at a time: a layer's positive images at
# ImageNet sizes all at once would hold tens of gigabytes of activations.
ANALYSIS_CHUNK = 32


def chunks(images: torch.Tensor) -> list[torch.Tensor]:
    return list(images.split(ANALYSIS_CHUNK))


def _layer_activations(loaded: LoadedModel, layer: str, images: torch.Tensor,
                       device: torch.device) -> torch.Tensor:
    """(N, C) activations at `layer`, averaged over positions."""
    means = []
    with frozen(loaded.module), capture(loaded.module, [layer]) as run, torch.no_grad():
        for chunk in chunks(images):
            acts = run(loaded.preprocess(chunk.to(device)))[layer]
            means.append((acts.flatten(2).mean(2) if acts.dim() > 2 else acts).float().cpu())
    return torch.cat(means)


DEAD_TOLERANCE = 1e-6


def is_dead(store: ResultStore, layer: str, unit: int) -> bool:
    """A unit is dead when optimizing for it changes nothing: the image that
    maximizes it and the one that minimizes it give the same activation, or its
    objective stayed flat for the whole positive run."""
    positive = store.load_view(layer, unit, "positive")
    if positive is None or not positive.get("activations"):
        return False
    negative = store.load_view(layer, unit, "negative")
    if negative is not None and negative.get("activations"):
        return abs(positive["activations"][0] - negative["activations"][0]) < DEAD_TOLERANCE
    evolution = store.load_view(layer, unit, "evolution")
    if evolution is not None and evolution.get("loss"):
        return max(evolution["loss"]) - min(evolution["loss"]) < DEAD_TOLERANCE
    return False


def eta_squared(values: np.ndarray, groups: np.ndarray) -> float:
    """Share of the variance of `values` explained by the group means."""
    total = float(((values - values.mean()) ** 2).sum())
    if total <= 1e-12:
        return 0.0
    between = sum(
        (groups == g).sum() * (values[groups == g].mean() - values.mean()) ** 2
        for g in np.unique(groups)
    )
    return float(between / total)


def saturation(images: torch.Tensor) -> float:
    """Mean HSV saturation over pixels that are not near-black."""
    top, bottom = images.amax(1), images.amin(1)
    lit = top > 0.1
    if not lit.any():
        return 0.0
    return float(((top - bottom) / top.clamp_min(1e-6))[lit].mean())


def standardize(vectors: torch.Tensor) -> torch.Tensor:
    """Each channel z-scored over all rows: removes what every image shares."""
    return (vectors - vectors.mean(0)) / vectors.std(0).clamp_min(1e-6)


def polysemanticity(vectors: torch.Tensor) -> float:
    """Mean pairwise cosine distance of the rows (one row per seed image)."""
    normed = F.normalize(vectors, dim=1)
    pairs = list(itertools.combinations(range(len(vectors)), 2))
    return float(np.mean([1.0 - float(normed[i] @ normed[j]) for i, j in pairs]))


def between_unit_distance(groups: list[torch.Tensor]) -> float:
    """Mean cosine distance between the first seed images of different units:
    the yardstick for how different two images of this layer can be."""
    if len(groups) < 2:
        return 1.0
    return max(1e-6, polysemanticity(torch.stack([group[0] for group in groups])))


def _hex(rgb: np.ndarray) -> str:
    return "#" + "".join(f"{int(round(float(c) * 255)):02x}" for c in np.clip(rgb, 0, 1))


def dominant_colour(image: torch.Tensor) -> np.ndarray:
    """Mean RGB of the most colourful fifth of the pixels of a (3, H, W) image
    (ranked by saturation times value, so white and black pixels do not count)."""
    pixels = image.flatten(1).T  # (HW, 3)
    top, bottom = pixels.amax(1), pixels.amin(1)
    colourfulness = (top - bottom)
    count = max(1, len(pixels) // 5)
    return pixels[colourfulness.topk(count).indices].mean(0).numpy()


def nearest_colour(colour: np.ndarray, palette: np.ndarray) -> int:
    """Index of the palette colour closest in chromaticity (brightness divided out)."""
    def chroma(rgb: np.ndarray) -> np.ndarray:
        return rgb / np.maximum(rgb.max(-1, keepdims=True), 1e-6)

    return int(np.argmin(((chroma(palette) - chroma(colour)) ** 2).sum(-1)))


def _spread_scores(loaded: LoadedModel, store: ResultStore, layer: str, unit_list: list,
                   view: str, device: torch.device) -> dict[int, float]:
    """Each unit's spread of its `view` images (seeds or diversity) in the
    layer's activation space, relative to the spread between units."""
    found = {u: _images(store, layer, u, view) for u in unit_list}
    image_sets = {u: images for u, images in found.items()
                  if images is not None and len(images) > 1}
    if not image_sets:
        return {}
    vectors = standardize(_layer_activations(loaded, layer, torch.cat(list(image_sets.values())),
                                             device))
    groups, start = {}, 0
    for unit, images in image_sets.items():
        groups[unit] = vectors[start : start + len(images)]
        start += len(images)
    between = between_unit_distance(list(groups.values()))
    return {unit: round(polysemanticity(group) / between, 4) for unit, group in groups.items()}


def analyse(loaded: LoadedModel, store: ResultStore, chosen: Chosen, config: BuildConfig,
            device: torch.device, evidence: DataEvidence | None = None) -> Analysis:
    """analysis.json: the measured answers, per unit and per question."""
    probe = loaded.probe
    units: dict[str, dict[str, dict[str, Any]]] = {}
    colour: float | dict[str, Any]  # a unit's colour score in the loop, then the section
    colour_rows, poly_rows, faithful_rows = [], [], []
    layer_families: dict[str, list[dict[str, Any]]] = {}
    previous: str | None = None  # the chosen layer before this one, for faithfulness
    # A concept layer is measured against the layer before its own, as its channels are;
    # it is no channel layer's layer before.
    previous_of: dict[str, str | None] = {}
    recognized: dict[str, Any] | None = None
    reads = {info.name: info.read for info, _ in chosen}  # as the dataset pass read them
    for info, unit_list in chosen:
        layer = info.name
        units[layer] = {str(u): {} for u in unit_list}
        scores: list[float] = []
        if probe is not None:
            acts = _layer_activations(loaded, layer, probe.images, device).numpy()
            for unit in unit_list:
                colour = eta_squared(acts[:, unit], probe.colours)
                shape = eta_squared(acts[:, unit], probe.classes)
                score = colour / (colour + shape) if colour + shape > 0 else 0.5
                units[layer][str(unit)]["colour"] = round(score, 4)
                scores.append(score)
        for unit in unit_list:
            if is_dead(store, layer, unit):
                units[layer][str(unit)]["dead"] = True
        found = {u: _images(store, layer, u, "positive") for u in unit_list}
        positives = {u: images for u, images in found.items() if images is not None}
        if layer == config.logits_layer and loaded.class_names:
            recognized = _recognition(loaded, evidence, layer, positives, device)
        row = {"name": layer, "colour_score": None, "shape_score": None, "verdict": None,
               "saturation": round(saturation(torch.cat(list(positives.values()))), 4)
               if positives else None}
        if scores:
            mean = float(np.mean(scores))
            row.update(colour_score=round(mean, 4), shape_score=round(1 - mean, 4),
                       verdict="colour" if mean > 0.5 else "shape")
        seeds = _spread_scores(loaded, store, layer, unit_list, "seeds", device)
        diversity = _spread_scores(loaded, store, layer, unit_list, "diversity", device)
        for unit, score in seeds.items():
            units[layer][str(unit)]["polysemanticity"] = score
        for unit, score in diversity.items():
            units[layer][str(unit)]["diversity_spread"] = score
        if evidence is not None and layer in evidence.scans:
            base = concept_base(layer)
            before = previous_of.get(base) if base is not None else previous
            _data_scores(loaded, evidence, layer, unit_list, positives, before, units[layer],
                         config.seed, device, reads,
                         info.floor.value if info.floor is not None else None)
            row.update(_examples_colour(units[layer]))
            faithful_rows.append(summary_rows(units[layer], layer))
            if base is None:
                previous_of[layer], previous = previous, layer
        layer_families[layer] = _families(loaded, evidence, info, unit_list, positives,
                                          units[layer], device)
        colour_rows.append(row)
        for unit in unit_list:
            scored = units[layer][str(unit)]
            poly_rows.append({"layer": layer, "unit": unit,
                              "examples": scored.get("example_polysemanticity"),
                              "seeds": scored.get("polysemanticity"),
                              "diversity": scored.get("diversity_spread"),
                              "labels": scored.get("labels", {})})
    colour = {"method": COLOUR_METHOD if probe is not None else SATURATION_ONLY_METHOD,
              "layers": colour_rows}
    if evidence is not None:
        colour["examples_method"] = EXAMPLES_COLOUR_METHOD
    analysis: Analysis = {
        "units": units,
        "colour": colour,
        "shortcut": _shortcut(loaded, store, chosen, evidence),
        "recognition": recognized,
        "polysemantic": _polysemantic(poly_rows),
        "faithfulness": {"method": FAITHFULNESS_METHOD, "layers": faithful_rows}
        if faithful_rows else None,
        "families": {"method": FAMILIES_METHOD.format(
            over="the dataset (each unit's strongest value on each image)" if evidence is not None
            else "the layer's positive visualizations (each unit's mean on each image)"),
            "layers": layer_families},
    }
    compared = concepts_against_channels(units)
    if compared is not None:  # absent without a dictionary: other builds' records unchanged
        analysis["concepts"] = compared
    return analysis


def _families(loaded: LoadedModel, evidence: DataEvidence | None, info: LayerInfo,
              unit_list: list, positives: dict[int, torch.Tensor],
              scored: dict[str, dict[str, Any]], device: torch.device) -> list[dict[str, Any]]:
    """The layer's families, over the dataset where it was scanned, else over the
    positive images of its units (values as the dataset pass reads them)."""
    if evidence is not None and info.name in evidence.scans:
        samples = np.asarray(evidence.scans[info.name].peaks(), dtype=np.float32)[:, unit_list]
    elif len(positives) >= 2:
        images = torch.cat(list(positives.values()))
        samples = _layer_activations(loaded, info.read, images, device).numpy()[:, unit_list]
    else:
        return []
    return families(unit_list, samples, scored)


def _polysemantic(rows: list[dict]) -> dict[str, Any]:
    """The most polysemantic units: by their dataset examples where labelled,
    else by the spread of their seed images."""
    source = "examples" if any(row["examples"] is not None for row in rows) else "seeds"
    ranked = [row for row in rows if row[source] is not None]
    ranked.sort(key=lambda row: (-row[source], row["layer"], row["unit"]))
    return {
        "method": EXAMPLES_POLY_METHOD if source == "examples" else POLY_METHOD,
        "source": source,
        "units": [{"layer": row["layer"], "unit": row["unit"], "score": row[source],
                   "seeds_score": row["seeds"], "diversity_score": row["diversity"],
                   "labels": row["labels"]} for row in ranked[:TOP_POLYSEMANTIC]],
    }


def _examples_colour(layer_units: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The layer's colour-vs-shape answer from its units' top examples."""
    def mean_share(key: str) -> float | None:
        shares = [scored["labels"][key]["count"] / scored["labels"][key]["of"]
                  for scored in layer_units.values() if key in scored.get("labels", {})]
        return round(float(np.mean(shares)), 4) if shares else None

    colour, shape = mean_share("colour"), mean_share("class")
    verdict = None
    if colour is not None and shape is not None:
        verdict = "colour" if colour > shape else "shape"
    return {"top_colour_share": colour, "top_class_share": shape, "examples_verdict": verdict}


def _data_scores(loaded: LoadedModel, evidence: DataEvidence, layer: str, unit_list: list,
                 positives: dict[int, torch.Tensor], previous: str | None,
                 scored: dict[str, dict[str, Any]], seed: int, device: torch.device,
                 reads: dict[str, str], floor: float | None) -> None:
    """Labels, super-stimulus ratio and faithfulness of every unit of `layer`;
    `positives` holds the positive images of the units that have one; `reads` the
    name each layer's values were read under (its pre-activation where clamped), `floor`
    the value `layer` is clamped at (None: no clamp)."""
    scan = evidence.scans[layer]
    keys = evidence.dataset.label_keys
    compared = [layer] + ([previous] if previous in evidence.scans else [])
    matrices = [np.asarray(evidence.scans[name].means(), dtype=np.float32) for name in compared]
    standardized = [Standardizer.of(matrix) for matrix in matrices]  # once per layer
    rows = {unit: i for i, unit in enumerate(positives)}
    measured: dict[str, Extremes] = {}
    if positives:
        images = torch.cat(list(positives.values()))
        read = [reads[name] for name in compared]
        with frozen(loaded.module), capture(loaded.module, read) as run, torch.no_grad():
            # The same value and spatial means as the dataset pass gives real images,
            # a chunk of images at a time.
            parts = []
            for chunk in chunks(images):
                acts = run(loaded.preprocess(chunk.to(device)))
                parts.append({name: spatial_extremes(acts[reads[name]].cpu())
                              for name in compared})
        measured = {name: Extremes(*(torch.cat([getattr(part[name], field.name)
                                                for part in parts])
                                     for field in dataclasses.fields(Extremes)))
                    for name in parts[0]}
    for unit in unit_list:
        entry = scored[str(unit)]
        shares = label_shares(evidence.top_labels(layer, unit), keys)
        if shares:
            entry["labels"] = shares
            entry["example_polysemanticity"] = example_polysemanticity(shares)
        value = float(measured[layer].max_values[rows[unit], unit]) if unit in rows else None
        entry["flags"] = unit_flags(value, float(scan.value_max[unit]), floor)
        if unit not in rows:
            continue
        i = rows[unit]
        assert value is not None  # measured: the unit is in rows
        entry["positive_value"] = round(value, 6)
        entry["super_stimulus"] = ratio(value, float(scan.value_max[unit]),
                                        float(np.max(scan.value_max)))
        vectors = [measured[name].means[i].numpy() for name in compared]
        top_rows = np.asarray(scan.top["images"][unit], dtype=np.int64)
        faithful, baseline = faithfulness(matrices, standardized, vectors, top_rows,
                                          baseline_rows(scan.count, top_rows, seed + unit))
        entry["faithfulness"] = round(faithful, 4)
        # NaN where every image of a small dataset is a top example: no random ones left.
        entry["faithfulness_baseline"] = round(baseline, 4) if np.isfinite(baseline) else None


def _recognition(loaded: LoadedModel, evidence: DataEvidence | None, layer: str,
                 positives: dict[int, torch.Tensor],
                 device: torch.device) -> dict[str, Any] | None:
    """Whether the model classifies each logit's positive image as the logit's class."""
    scanned = evidence is not None and layer in evidence.scans
    data = cast(DataEvidence, evidence)  # read only where scanned: then not None

    def top_label(unit: int) -> str | None:
        labels = data.top_labels(layer, unit) if scanned else []
        return labels[0].get("class") if labels else None

    # the dataset's class labels: None, where an image has none, is taken out
    labels = cast("set[str]", {data.dataset.labels(index).get("class") for index in
                               range(len(data.dataset))} - {None} if scanned else set())
    return recognition(loaded.module, loaded.preprocess, layer,
                       {unit: images[:1] for unit, images in positives.items()},
                       loaded.class_names or [], top_label, labels, device)


def _shortcut(loaded: LoadedModel, store: ResultStore, chosen: Chosen,
              evidence: DataEvidence | None) -> dict | None:
    probe = loaded.probe
    accuracy = loaded.metrics.get("accuracy", {})
    if probe is None or "unbiased_test" not in accuracy:
        return None
    classes = []
    logit_units = {info.name: units for info, units in chosen}.get(probe.logits_layer, [])
    for unit in logit_units:
        image = _images(store, probe.logits_layer, unit, "positive")
        if image is None:
            continue
        colour = dominant_colour(image[0])
        nearest = nearest_colour(colour, probe.palette)
        row = {"class": unit, "layer": probe.logits_layer,
               "class_colour": _hex(probe.palette[unit]), "image_colour": _hex(colour),
               "nearest_class_colour": nearest, "matches": nearest == unit}
        if evidence is not None and probe.logits_layer in evidence.scans:
            labels = evidence.top_labels(probe.logits_layer, unit)
            row.update(top_count=len(labels),
                       top_of_class=sum(item.get("class") == str(unit) for item in labels),
                       top_in_class_colour=sum(item.get("colour") == probe.colour_names[unit]
                                               for item in labels))
        classes.append(row)
    return {
        "method": SHORTCUT_METHOD,
        "biased_accuracy": accuracy.get("biased_test"),
        "unbiased_accuracy": accuracy.get("unbiased_test"),
        "colour_swap": loaded.metrics.get("colour_swap"),
        "classes": classes,
    }
