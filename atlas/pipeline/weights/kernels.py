"""The kernel view: the first conv layer's filters drawn as small RGB images."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from atlas.store import ResultStore, settings_key


def first_conv_layer(model: nn.Module, layer_names: list[str]) -> str | None:
    """The first Conv2d (in forward order) whose input is the 3-channel image."""
    modules = dict(model.named_modules())
    for name in layer_names:
        module = modules.get(name)
        if isinstance(module, nn.Conv2d):
            return name if module.in_channels == 3 and module.groups == 1 else None
    return None


def kernel_images(conv: nn.Conv2d) -> torch.Tensor:
    """(C_out, 3, k, k) in [0, 1]: weights scaled by the layer's largest |weight|
    so that grey is zero and filters are comparable with each other."""
    weight = conv.weight.detach().float().cpu()
    return (weight / (2 * weight.abs().max().clamp_min(1e-12)) + 0.5).clamp(0, 1)


def store_kernels(
    store: ResultStore, model: nn.Module, layer: str, units: list[int], common: dict[str, Any]
) -> int:
    """Writes the kernel view of `units`; returns how many were (re)written."""
    conv = dict(model.named_modules())[layer]
    images = kernel_images(conv)
    written = 0
    for unit in units:
        settings = {"atlas": common["atlas"], "model": common["model"],
                    "weights_sha256": common["weights_sha256"], "layer": layer,
                    "unit": unit, "view": "kernel"}
        key = settings_key(settings)
        if store.is_done(layer, unit, "kernel", key):
            continue
        raw = conv.weight.detach()[unit]
        record = {"key": key, "settings": settings, "activations": [None],
                  "weight_range": [round(float(raw.min()), 6), round(float(raw.max()), 6)]}
        store.save_view(layer, unit, "kernel", [images[unit]], record, "png")  # exact weights
        written += 1
    return written
