"""Does the model recognize its own class visualizations? For each chosen unit of
a classifier's class output (a logit) with a positive visualization, the model
classifies that image: how often the unit's own class comes first (top-1) and
among the first five (top-5). Where the dataset has class labels named like the
model's classes, how often a logit's top dataset example belongs to its class.

A check a trained classifier makes possible: a picture made to excite "tabby"
that the same network reads as "tabby" shows the class to the network, whatever
it shows a person.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from atlas.optvis.hooks import capture, frozen

METHOD = (
    "Each chosen class logit's positive visualization is classified by the model itself: "
    "top-1 counts the images whose own class scores highest of all the model's classes, "
    "top-5 those whose class is among the five highest. Of the logits whose class is among "
    "the dataset's class labels (named like the model's classes), 'top example in class' "
    "counts those whose strongest dataset image carries that label."
)
TOP = 5
LISTED = 12  # units the summary lists by name, misread ones first


def ranks(logits: torch.Tensor, classes: list[int]) -> list[int]:
    """Each row's rank of its own class among all classes (0: the highest)."""
    own = logits[torch.arange(len(classes)), torch.as_tensor(classes)]
    return [int(rank) for rank in (logits > own[:, None]).sum(dim=1)]


def recognition(model: torch.nn.Module, preprocess: torch.nn.Module, layer: str,
                images: dict[int, torch.Tensor], class_names: list[str],
                top_label: Callable[[int], str | None], labels: set[str],
                device: torch.device) -> dict[str, Any] | None:
    """The summary's recognition section for the class output `layer`, from the
    positive `images` of its units (unit -> (1, 3, H, W)); `top_label(unit)` gives the
    class label of the unit's top dataset example (None: unlabelled or no dataset),
    `labels` the class labels the dataset has: a logit whose class is not among them
    has no top example of its class to find."""
    known = {label.strip().lower() for label in labels}
    units = sorted(images)
    if not units:
        return None
    with frozen(model), torch.no_grad(), capture(model, [layer]) as run:
        logits = torch.cat([run(preprocess(images[unit].to(device)))[layer].float().cpu()
                            for unit in units])
    rank = ranks(logits, units)
    predicted = logits.argmax(dim=1).tolist()
    rows = []
    for unit, own, best in zip(units, rank, predicted):
        label, name = top_label(unit), _name(class_names, unit).strip().lower()
        rows.append({"unit": unit, "class": _name(class_names, unit), "rank": own + 1,
                     "predicted": _name(class_names, best),
                     "top_example": label,
                     "top_example_in_class": None if name not in known
                     else label is not None and label.strip().lower() == name})
    labelled = [row for row in rows if row["top_example_in_class"] is not None]
    rows.sort(key=lambda row: (row["rank"] == 1, row["unit"]))  # misread ones first
    return {
        "method": METHOD,
        "layer": layer,
        "units": len(units),
        "top1": round(sum(r == 0 for r in rank) / len(units), 4),
        "top5": round(sum(r < TOP for r in rank) / len(units), 4),
        "top_example_in_class": sum(row["top_example_in_class"] for row in labelled),
        "labelled": len(labelled),
        "rows": rows[:LISTED],
    }


def _name(class_names: list[str], unit: int) -> str:
    return class_names[unit] if unit < len(class_names) else str(unit)
