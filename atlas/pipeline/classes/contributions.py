"""The classes phase: which units of a layer make each class's logit, over the images
of that class.

What is shared out is the class's margin: its logit minus the mean of all the logits,
what a softmax reads (adding one number to every logit changes nothing, so a logit alone
has no zero to share out). For an image x of class c, the layer's output A and the
gradient G of c's margin with respect to it, a channel's contribution is Σ over
positions of A·G (gradient × activation, the first-order part of the margin the
channel carries, as CRAFT and LENS measure concept importance); a concept's is Σ over
positions of u·(G·d), its coefficient u in the dictionary (the codes
`dictionaries.encode` gives) times the gradient along its direction d. Each is averaged
over the class's images and divided by the mean margin: a share of the margin
(negative: a unit that lowers it). The channels' shares sum to `channels_share`: 1 less
the biases after the layer where only ReLUs and linear layers follow it; in a residual
network much of the margin goes around the layer through its skip connections, and the
channels carry less. The concepts' shares sum to what the dictionary's reconstruction
carries (`concepts_share`, with an SAE's input bias's part `bias_share`).

Images: with class labels named like the model's classes (compared case-insensitively),
up to PER_CLASS of each labelled class in the dataset's order; otherwise the model's own
prediction serves as each image's class, over the dataset's first MOST_IMAGES.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from atlas.datasets import Dataset
from atlas.dictionaries import encode
from atlas.dictionaries.dictionary import Dictionary
from atlas.fsio import read_json, write_json_atomic
from atlas.models.concept_reads import concept_layer
from atlas.optvis.hooks import capture, frozen
from atlas.pipeline.classes.plan import CODE_SWEEPS, MOST_IMAGES, PER_CLASS, TOP, ClassPlan
from atlas.pipeline.concepts.fit import load_dictionary
from atlas.pipeline.execution.gather import gather
from atlas.pipeline.execution.tasks import Executor, Task
from atlas.store import RESULTS

FOLDER = "_classes"
METHOD = ("Gradient × activation: for each image of the class, each unit's activation at "
          "{layer} times the gradient of the class's margin (its logit minus the mean of all "
          "logits, what the softmax reads) with respect to it, summed over positions (a "
          "concept: its coefficient in the dictionary times the gradient along its "
          "direction), averaged over the class's images and divided by the mean margin: a "
          "share is the part of the margin the unit carries (negative: it lowers it). The "
          "shares of all the channels need not sum to 1: biases after the layer, and in a "
          "residual network its skip connections, carry the rest. Images: {images}.")
LABELS = "the dataset's images labelled with the class (at most {per_class} each)"
PREDICTIONS = ("the dataset's images the model itself assigns to the class (its top "
               "prediction), over the first {most} images: the dataset has no class labels "
               "named like the model's classes")


def record_path(site_dir: Path, plan: ClassPlan) -> Path:
    return Path(site_dir) / RESULTS / FOLDER / f"{plan.key[:16]}.json"


def load_classes(site_dir: Path, plan: ClassPlan) -> dict[str, Any] | None:
    """The stored record of `plan`, None where there is none with its key."""
    record = read_json(record_path(site_dir, plan))
    return record if record is not None and record.get("key") == plan.key else None


def choose_images(dataset: Dataset, names: list[str]) -> tuple[list[int], list[int] | None]:
    """(dataset indices, their classes), or (indices, None) where the model's predictions
    must serve as the classes."""
    wanted = {name.strip().lower(): i for i, name in enumerate(names)}
    indices, classes, counts = [], [], [0] * len(names)
    if "class" in dataset.label_keys:
        for index in range(len(dataset)):
            found = wanted.get(str(dataset.labels(index).get("class", "")).strip().lower())
            if found is not None and counts[found] < PER_CLASS:
                counts[found] += 1
                indices.append(index)
                classes.append(found)
    if indices:
        return indices, classes
    return list(range(min(len(dataset), MOST_IMAGES))), None


def contribution_chunk(engine: Any, layer: str, logits: str, images: torch.Tensor,
                       classes: list[int] | None, dictionary: Dictionary | None,
                       on_progress: Callable[[int], None]) -> dict[str, np.ndarray]:
    """An executor task: each image's class, the channels' and concepts' contributions to
    its margin, and the margin, on the CPU."""
    images = images.to(engine.device).requires_grad_(True)
    with frozen(engine.model), torch.enable_grad(), capture(engine.model, [layer, logits]) as run:
        acts = run(engine.preprocess(images))
        values, scores = acts[layer], acts[logits].float().reshape(len(images), -1)
        chosen = (torch.as_tensor(classes, device=scores.device) if classes is not None
                  else scores.argmax(dim=1))
        margin = scores.gather(1, chosen[:, None])[:, 0] - scores.mean(dim=1)
        gradient, = torch.autograd.grad(margin.sum(), values, allow_unused=True)
    # None: the layer is on a branch the class output does not read; it makes nothing
    gradient = torch.zeros_like(values) if gradient is None else gradient
    values, gradient = values.detach().float(), gradient.float()
    spatial = values.dim() == 4
    channels = (values * gradient).flatten(2).sum(2) if spatial else values * gradient
    found = {"classes": chosen.cpu().numpy(), "channels": channels.cpu().numpy(),
             "margins": margin.detach().cpu().numpy()}
    if dictionary is not None:
        count = len(images)
        vectors = (values.permute(0, 2, 3, 1) if spatial else values).reshape(
            -1, values.shape[1]).cpu().numpy()
        gradients = (gradient.permute(0, 2, 3, 1) if spatial else gradient).reshape(
            -1, values.shape[1]).cpu().numpy()
        found["concepts"] = (encode(dictionary, vectors, CODE_SWEEPS)
                             * (gradients @ dictionary.directions.T)
                             ).reshape(count, -1, dictionary.count).sum(axis=1)
        # an SAE reconstructs codes · directions + its input bias: the bias's part
        bias = (dictionary.encoder or {}).get("input_bias")
        found["bias"] = (gradients @ bias if bias is not None
                         else np.zeros(len(gradients))).reshape(count, -1).sum(axis=1)
    on_progress(len(images))
    return found


def _largest(shares: np.ndarray) -> list[list[float]]:
    order = np.argsort(-shares, kind="stable")[:TOP]
    return [[int(i), round(float(shares[i]), 4)] for i in order]


def measure_classes(executor: Executor, dataset: Dataset, plan: ClassPlan, site_dir: Path,
                    batch_size: int, bar: Any) -> dict[str, Any]:
    """Measures `plan` over the dataset and stores its record; returns it."""
    indices, classes = choose_images(dataset, plan.class_names)
    class_of = dict(zip(indices, classes)) if classes is not None else None
    dictionary = (load_dictionary(site_dir, plan.concepts) if plan.concepts is not None
                  else None)

    def tasks():
        for start in range(0, len(indices), batch_size):
            images, kept = dataset.load(indices[start:start + batch_size])
            if kept:
                labels = [class_of[index] for index in kept] if class_of else None
                yield Task(contribution_chunk, (plan.layer, plan.logits, images, labels,
                                                dictionary), len(kept))

    bar.total = len(indices)
    found = gather(executor, tasks(), bar, "measuring the class contributions",
                   "the class pages")
    merged = {key: np.concatenate([part[key] for part in found]) for key in found[0]}
    rows = []
    for number, name in enumerate(plan.class_names):
        mine = merged["classes"] == number
        if not mine.any():
            continue
        total = float(merged["channels"][mine].sum(axis=1).mean())
        margin = float(merged["margins"][mine].mean())
        scale = margin if abs(margin) > 1e-12 else 1.0
        row: dict[str, Any] = {
            "index": number, "name": name, "images": int(mine.sum()),
            "margin": round(margin, 4),
            "attributed": round(total, 4), "channels_share": round(total / scale, 4),
            "channels": _largest(merged["channels"][mine].mean(axis=0) / scale)}
        if "concepts" in merged:
            shares = merged["concepts"][mine].mean(axis=0) / scale
            row["concepts"] = _largest(shares)
            row["concepts_share"] = round(float(shares.sum()), 4)
            row["bias_share"] = round(float(merged["bias"][mine].mean() / scale), 4)
        rows.append(row)
    record = {"key": plan.key, "layer": plan.layer, "logits": plan.logits,
              "concepts_layer": concept_layer(plan.concepts.layer) if plan.concepts else None,
              "labels": "dataset" if classes is not None else "predictions",
              "method": METHOD.format(layer=plan.layer, images=(
                  LABELS.format(per_class=PER_CLASS) if classes is not None
                  else PREDICTIONS.format(most=MOST_IMAGES))),
              "images": int(len(merged["classes"])), "classes": rows}
    path = record_path(site_dir, plan)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob("*.json"):  # one record: this build's
        if stale != path:
            stale.unlink(missing_ok=True)
    write_json_atomic(path, record)
    return record
