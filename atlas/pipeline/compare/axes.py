"""The axes of the technique comparison, declared once: the build computes the
variants they list and the compare page shows them in this order, with these
titles.

Each axis changes one thing from the build's own settings (the reference,
marked where it is among the choices) and keeps everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from atlas.config import default_lr
from atlas.optvis.transforms import (
    REFERENCE_SIZE,
    Compose,
    FitSize,
    Jitter,
    no_transforms,
    standard_transforms,
)
from atlas.pipeline.compare.runs import PREDICTED, Context, Layer, Variant, reference

TV_ON = 0.05  # the total-variation weight where the build has none (the build's default)
L2_ON = 2.0  # the L2 weight where the build has none: clearly visible at 28 px
TOP_K_SHARE = 0.1  # top-k's k where the build sets none: this share of the positions


@dataclass(frozen=True)
class Axis:
    name: str
    title: str
    about: str  # one sentence for the page: what the axis changes
    variants: Callable[[Context, Layer, int], list[Variant]]


def _param(context: Context, layer: Layer, unit: int) -> list[Variant]:
    config = context.config
    choices = (("pixel", "pixels", "pixel", False),
               ("fourier", "Fourier", "fourier", False),
               ("decorrelate", "decorrelated colour", "pixel", True),
               ("fourier+decorrelate", "Fourier + decorrelated colour", "fourier", True))
    variants = []
    assert config.lr is not None  # the build's config, its lr set (with_sized_defaults)
    for name, label, param, decorrelate in choices:
        own = param == config.param
        lr = float(config.lr) if own else default_lr(param, context.image_size)
        variants.append(Variant(
            "param", name, label, own and decorrelate == config.decorrelate,
            reference(context, layer, unit, param=param, decorrelate=decorrelate, lr=lr),
            note=f"lr {lr:g}"))
    return variants


def jitter_only(image_size: int) -> Compose:
    """A random shift by up to the standard set's first jitter, nothing else."""
    return Compose([Jitter(max(1, round(8 * image_size / REFERENCE_SIZE))), FitSize(image_size)])


TRANSFORMS: dict[str, tuple[str, Callable[[int], Compose]]] = {
    "none": ("none", no_transforms),
    "jitter": ("jitter only", jitter_only),
    "standard": ("standard", standard_transforms),
}
"""The transforms a run may use, by name (the build's `transforms` setting names
two of them): the page's label and the transforms for an image size."""


def _transforms(context: Context, layer: Layer, unit: int) -> list[Variant]:
    return [Variant("transforms", name, label, name == context.config.transforms,
                    reference(context, layer, unit, transforms=name))
            for name, (label, _) in TRANSFORMS.items()]


def _positions(layer: Layer) -> int:
    return layer.shape[1] * layer.shape[2] if layer.spatial else 1


def _top_k(context: Context, layer: Layer) -> int:
    own = context.config.objective_spec()
    if own["kind"] == "top_k":
        return own["k"]
    return max(1, round(TOP_K_SHARE * _positions(layer)))


def _class(context: Context, layer: Layer, unit: int) -> Variant:
    own = context.config.objective_spec()
    if own["kind"] == "class":
        return Variant("objective", "class", "class-conditional", True,
                       reference(context, layer, unit),
                       note=f"class {own['class']}, λ {own['weight']:g}")
    if context.logits is None:
        return Variant("objective", "class", "class-conditional", False, skipped=context.no_logits)
    spec = {"kind": "class", "class": PREDICTED, "weight": context.config.class_weight,
            "logits": context.logits}
    return Variant("objective", "class", "class-conditional", False,
                   reference(context, layer, unit, objective=spec))


def _objective(context: Context, layer: Layer, unit: int) -> list[Variant]:
    own = context.config.objective_spec()["kind"]
    k = _top_k(context, layer)
    flat = "no positions: the channel mean"  # a linear unit
    choices = (("channel", "channel mean", {"kind": "channel"}, None),
               ("neuron", "spatial neuron (centre)", {"kind": "neuron"},
                None if layer.spatial else flat),
               ("top_k", "top-k spatial mean", {"kind": "top_k", "k": k},
                f"k = {k} of {_positions(layer)}" if layer.spatial else flat))
    variants = [Variant("objective", name, label, name == own,
                        reference(context, layer, unit, objective=spec), note=note)
                for name, label, spec, note in choices]
    return variants + [_class(context, layer, unit)]


def _regularization(context: Context, layer: Layer, unit: int) -> list[Variant]:
    config = context.config
    tv, l2 = config.tv_weight or TV_ON, config.l2_weight or L2_ON
    own = (config.tv_weight > 0, config.l2_weight > 0)
    choices = (("none", "none", False, False), ("tv", "total variation", True, False),
               ("l2", "L2", False, True), ("tv+l2", "total variation + L2", True, True))
    variants = []
    for name, label, with_tv, with_l2 in choices:
        weights = [f"TV {tv:g}"] * with_tv + [f"L2 {l2:g}"] * with_l2
        variants.append(Variant(
            "regularization", name, label, (with_tv, with_l2) == own,
            reference(context, layer, unit, tv_weight=tv if with_tv else 0.0,
                      l2_weight=l2 if with_l2 else 0.0),
            note=", ".join(weights) or None))
    return variants


def _depth(context: Context, layer: Layer, unit: int) -> list[Variant]:
    variants = []
    for other in context.layers:
        own = other.name == layer.name
        if unit >= other.shape[0]:
            variants.append(Variant("depth", other.name, other.name, own,
                                    skipped=f"{other.name} has {other.shape[0]} channels"))
            continue
        run = reference(context, other, unit)
        variants.append(Variant("depth", other.name, other.name, own, run,
                                note=None if own else run.target))
    return variants


AXES: tuple[Axis, ...] = (
    Axis("param", "Parameterization",
         "How the image is represented while it is optimized: raw pixels or a Fourier "
         "spectrum scaled by 1/frequency, each in RGB or in decorrelated colour space.",
         _param),
    Axis("transforms", "Transforms",
         "The random changes applied to the image before every step: none, a small random "
         "shift only, or the standard set (pad, shift, scale, rotate, shift).", _transforms),
    Axis("objective", "Objective",
         "What the optimizer maximizes: the channel's mean over positions, its value at the "
         "centre position, the mean of its k strongest positions, or its mean plus λ times a "
         "class logit (the unit as that class sees it): the build's class, else the class the "
         "model predicts on the unit's channel-mean image.", _objective),
    Axis("regularization", "Regularization",
         "Penalties on the image itself: total variation (differences between neighbouring "
         "pixels) and L2 (distance from grey), off and on.", _regularization),
    Axis("depth", "Depth",
         "The same channel index in every layer of the build, at the build's own settings.",
         _depth),
)


def variants(context: Context, layer: Layer, unit: int) -> list[Variant]:
    """Every variant of one compare unit, axis by axis."""
    return [variant for axis in AXES for variant in axis.variants(context, layer, unit)]


def predicted_note(class_index: int, weight: float) -> str:
    """The caption of a class-conditional variant whose class was predicted."""
    return f"predicted class {class_index}, λ {weight:g}"


__all__ = ["AXES", "TRANSFORMS", "Axis", "predicted_note", "variants"]
