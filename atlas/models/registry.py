"""Opens a model by spec: module, weights, preprocessing, default layers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from atlas.errors import AtlasError
from atlas.models import colored_digits
from atlas.models.branches import inception_branches
from atlas.models.layers import LayerInfo
from atlas.models.preprocess import Normalize, make_preprocess
from atlas.models.specs import DEFAULT_SPEC, INCEPTION_SPEC, build_module
from atlas.models.weights import check_weights_file, load_weights

# Layer types that are never a sensible default to visualize.
NOT_DEFAULT = (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm, nn.Dropout)


@dataclass
class ProbeSet:
    """Labelled images for measuring what units respond to (colour vs class)."""

    images: torch.Tensor  # (N, 3, H, W) in [0, 1]
    classes: np.ndarray  # (N,) class of each image
    colours: np.ndarray  # (N,) colour index of each image
    palette: np.ndarray  # (K, 3) RGB in [0, 1]: the training colour of each class
    logits_layer: str  # the layer whose units are the class logits
    colour_names: tuple[str, ...] = ()  # the name of each palette colour, as dataset labels give it


@dataclass
class LoadedModel:
    module: nn.Module
    spec: str
    title: str
    description: str
    input_size: int
    default_layers: list[str] | None  # None: top-level layers with weights
    weights_path: Path | None
    weights_sha256: str | None
    preprocess: Normalize
    metrics: dict = field(default_factory=dict)  # accuracies etc. recorded at training
    probe: ProbeSet | None = None
    channels_last: bool = False  # feed NHWC tensors: faster convolutions, if the model allows
    bfloat16: bool = False  # optimizes as well in bfloat16, so `precision = auto` may use it
    default_dataset: str | None = None  # the dataset spec a build scans when none is given
    class_names: list[str] | None = None  # each class output unit's class, where known

    @property
    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    def branches(self, layer: str) -> list[dict] | None:
        return inception_branches(self.module, layer) if self.spec == INCEPTION_SPEC else None

    def defaults_from(self, table: Sequence[LayerInfo]) -> list[str]:
        """The layers a build visualizes when none are named: the model's own
        list, else its top-level modules with weights (norm layers aside) that
        give a (N, C) or (N, C, H, W) output. Modules the dry run in `table`
        never reached stay in, so a too-small image size is reported, not hidden."""
        if self.default_layers is not None:
            return list(self.default_layers)
        reached = {info.name for info in table}
        order = [name for name, _ in self.module.named_children()]
        candidates = [name for name in order
                      if any(True for _ in getattr(self.module, name).parameters())
                      and not isinstance(getattr(self.module, name), NOT_DEFAULT)]
        last_reached = max((order.index(n) for n in candidates if n in reached), default=-1)
        chosen = [n for n in candidates if n in reached or order.index(n) > last_reached]
        return chosen or [info.name for info in table[-1:]]


RANDOM_WEIGHTS_SEED = 0


def load_model(
    spec: str = DEFAULT_SPEC,
    weights: Path | None = None,
    pretrained: bool = False,
    preprocess: str | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> LoadedModel:
    """The model named by `spec`; `weights` (a state dict or checkpoint file) if given."""
    if weights:
        check_weights_file(Path(weights))
    if spec == DEFAULT_SPEC:
        loaded = _colored_digits(weights)
        if preprocess or mean or std:
            loaded.preprocess = make_preprocess(preprocess or "none", mean, std)
        return loaded
    # A model without a weights file keeps the random weights it is built with: drawn
    # from a fixed seed, so they are the same on every load (the cache key, which has no
    # weights hash for them, and every comparison between builds depend on that).
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        built = build_module(spec, pretrained)
    path = Path(weights) if weights else None
    digest = load_weights(built.module, path) if path else None
    if digest is None and built.pretrained_file is not None:
        path, digest = built.pretrained_file, built.pretrained_sha256
    own = preprocess is None and mean is None and std is None  # the model's normalization
    return LoadedModel(
        module=built.module.eval(), spec=built.spec, title=built.title,
        description=built.description, input_size=built.input_size,
        default_layers=built.default_layers, weights_path=path, weights_sha256=digest,
        preprocess=make_preprocess(preprocess or built.preprocess,
                                   built.mean if own else mean, built.std if own else std),
        channels_last=built.channels_last, bfloat16=built.bfloat16,
        class_names=built.class_names,
    )


def _colored_digits(weights: Path | None) -> LoadedModel:
    module = colored_digits.ColoredDigitsCNN()
    path = Path(weights) if weights else colored_digits.WEIGHTS
    if weights is None and not path.is_file():
        raise AtlasError(
            f"the default model's weights {path} are missing; run `make weights` to train them")
    digest = load_weights(module, path)
    metrics = {}
    if weights is None and colored_digits.METRICS.is_file():
        metrics = json.loads(colored_digits.METRICS.read_text())
    return LoadedModel(
        module=module.eval(), spec=DEFAULT_SPEC, title=colored_digits.TITLE,
        description=colored_digits.DESCRIPTION, input_size=28,
        default_layers=list(colored_digits.LAYERS), weights_path=path, weights_sha256=digest,
        preprocess=make_preprocess("none"), metrics=metrics, probe=_colored_digits_probe(),
        default_dataset="colored-digits", class_names=[str(digit) for digit in range(10)],
    )


def _colored_digits_probe() -> ProbeSet:
    from atlas.models import digits_data

    test = digits_data.load_splits()["unbiased_test"]
    return ProbeSet(test.images, test.labels.numpy(), test.colours.numpy(),
                    digits_data.PALETTE, "fc", digits_data.COLOUR_NAMES)
