"""A torch-lucent run in a process of its own, as its users run it: import
torch-lucent, build the model, load the weights, `render_vis`, save. The
benchmark times the whole process from outside; this prints the seconds spent
inside `render_vis` (the per-step figure) as its last line, in JSON.

    python -m atlas.bench.lucent_process '{"way": "best", "model": ..., ...}'

way: "best" (one call over a batch with a summed `batch=` objective and
fixed_image_size) or "seeds" (one call per channel with the defaults, as the
seed notebooks do). For `lucent:inceptionv1` the model is torch-lucent's own
module, with its own preprocessing; other models come from atlas's loader.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from atlas.models.registry import LoadedModel


def _model(task: dict):
    """(model, transforms, preprocess flag) for render_vis."""
    from pathlib import Path

    if task["model"] == "lucent:inceptionv1":
        from lucent.modelzoo import inceptionv1

        from atlas.models.weights import read_state_dict

        # the user's --weights or the bench's own file, read as data as atlas reads it
        model = inceptionv1()
        model.load_state_dict(read_state_dict(Path(task["weights"])))
        return model.to(task["device"]).eval(), None, True
    from atlas.models.registry import load_model

    loaded = load_model(task["model"], Path(task["weights"]))
    loaded.module.to(task["device"]).eval()
    loaded.preprocess.to(task["device"])
    return loaded.module, lucent_transforms(loaded), False


def lucent_transforms(loaded: LoadedModel) -> list:
    """lucent's standard transforms, then atlas's preprocessing of the model, so
    every method feeds the model the same normalization (render_vis is called
    with preprocess=False; for InceptionV1 and torchvision models this is exactly
    what its own preprocessing would add)."""
    from lucent.optvis import transform

    return [*transform.standard_transforms, loaded.preprocess]


def lucent_layer(layer: str) -> str:
    # lucent names nested modules by joining their path with "_"
    return layer.replace(".", "_")


def from_lucent(images) -> torch.Tensor:
    """render_vis's images (NHWC arrays, one per threshold) as an NCHW tensor of the last."""
    array = images[-1] if isinstance(images, list) else images
    return torch.as_tensor(array).permute(0, 3, 1, 2).float()


def run(task: dict) -> dict:
    from lucent.optvis import objectives, param, render

    model, transforms, preprocess = _model(task)
    layer, size, steps = lucent_layer(task["layer"]), task["size"], task["steps"]
    common = {"transforms": transforms, "thresholds": (steps,), "progress": False,
              "show_image": False, "preprocess": preprocess}
    seconds, images = [], []
    if task["way"] == "seeds":
        for unit in task["units"]:
            started = time.perf_counter()
            images.append(from_lucent(render.render_vis(
                model, f"{layer}:{unit}", lambda: param.image(size), **common)))
            seconds.append(time.perf_counter() - started)
    else:
        objective = sum(objectives.channel(layer, unit, batch=index)
                        for index, unit in enumerate(task["units"]))
        started = time.perf_counter()
        images.append(from_lucent(render.render_vis(
            model, objective, lambda: param.image(size, batch=len(task["units"])),
            fixed_image_size=size, **common)))
        seconds.append(time.perf_counter() - started)
    torch.save(torch.cat(images), task["out"])
    return {"render_seconds": seconds}


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
