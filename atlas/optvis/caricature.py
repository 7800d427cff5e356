"""Caricatures (Microscope's, after lucid's `dot_compare`): an image optimized to
amplify a layer's whole activation pattern on a real image. What the layer
"sees" in the image, exaggerated: the parts of the pattern the layer weighs
most grow first.

Each image i is scored by its layer activations a against the real image's t
(both flattened over channels and positions): (a · t) / |t|² · cos(a, t), the
projection of a on t in units of |t| (1: as strong as the real image along its
own pattern), times their cosine, so a larger pattern pointing elsewhere does
not score (lucid's `cossim_pow` = 1). A cosine below COSINE_FLOOR counts as that
floor, so an image that starts far from the pattern still has a gradient.
"""

from __future__ import annotations

import torch

from atlas.optvis.objectives import Activations, Objective

COSINE_FLOOR = 0.1


def caricature(layer: str, targets: torch.Tensor) -> Objective:
    """Image i amplifies `targets[i]`, the layer's activations (C, H, W) or (C,) on
    the real image it caricatures."""
    flat = targets.detach().float().flatten(1)
    norms = flat.pow(2).sum(1).clamp_min(1e-12)

    def fn(acts: Activations) -> torch.Tensor:
        found = acts[layer].float().flatten(1)
        wanted = flat.to(found.device)
        dot = (found * wanted).sum(1)
        cosine = dot / (found.norm(dim=1) * wanted.norm(dim=1)).clamp_min(1e-12)
        return dot / norms.to(found.device) * cosine.clamp_min(COSINE_FLOOR)

    return Objective(fn, f"caricature({layer})", frozenset({layer}))
