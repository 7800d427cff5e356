"""Opens a model by spec and describes its visualizable layers."""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from atlas.errors import AtlasError
from atlas.models import colored_digits

DEFAULT_SPEC = "colored-digits"
KNOWN_SPECS = [DEFAULT_SPEC]
VISUALIZABLE_TYPES = (nn.Conv2d, nn.Linear)


@dataclass
class ProbeSet:
    """Labelled images for measuring what units respond to (colour vs class)."""

    images: torch.Tensor  # (N, 3, H, W) in [0, 1]
    classes: np.ndarray  # (N,) class of each image
    colours: np.ndarray  # (N,) colour index of each image
    palette: np.ndarray  # (K, 3) RGB in [0, 1]: the training colour of each class
    logits_layer: str  # the layer whose units are the class logits


@dataclass
class LoadedModel:
    module: nn.Module
    spec: str
    title: str
    description: str
    input_size: int
    default_layers: list[str]
    weights_path: Optional[Path]
    weights_sha256: Optional[str]
    preprocess: nn.Module = field(default_factory=nn.Identity)
    metrics: dict = field(default_factory=dict)  # accuracies etc. recorded at training
    probe: Optional[ProbeSet] = None

    @property
    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.module.parameters())


@dataclass(frozen=True)
class LayerInfo:
    name: str
    type: str
    shape: tuple[int, ...]  # one image's output shape

    @property
    def channels(self) -> int:
        return self.shape[0]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_state_dict(module: nn.Module, path: Path) -> None:
    if not path.is_file():
        raise AtlasError(f"weights file {path} does not exist; check the path given to --weights")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a non-torch file
        raise AtlasError(f"{path} is not a PyTorch weights file ({type(error).__name__})") from None
    if isinstance(state, dict) and not all(isinstance(v, torch.Tensor) for v in state.values()):
        for key in ("state_dict", "model", "model_state_dict", "weights"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[1:3]
        raise AtlasError(
            f"{path} does not match the model: {' '.join(s.strip() for s in first)}"
        ) from None


def _colored_digits(weights: Optional[Path]) -> LoadedModel:
    module = colored_digits.ColoredDigitsCNN()
    path = Path(weights) if weights else colored_digits.WEIGHTS
    if not path.is_file() and weights is None:
        raise AtlasError(
            f"the default model's weights {path} are missing; run `make weights` to train them"
        )
    _load_state_dict(module, path)
    metrics = {}
    if weights is None and colored_digits.METRICS.is_file():
        metrics = json.loads(colored_digits.METRICS.read_text())
    return LoadedModel(
        module=module.eval(),
        spec=DEFAULT_SPEC,
        title=colored_digits.TITLE,
        description=colored_digits.DESCRIPTION,
        input_size=28,
        default_layers=list(colored_digits.LAYERS),
        weights_path=path,
        weights_sha256=sha256_of(path),
        metrics=metrics,
        probe=_colored_digits_probe(),
    )


def _colored_digits_probe() -> ProbeSet:
    from atlas.models import digits_data

    test = digits_data.load_splits()["unbiased_test"]
    return ProbeSet(test.images, test.labels.numpy(), test.colours.numpy(),
                    digits_data.PALETTE, "fc")


def load_model(spec: str = DEFAULT_SPEC, weights: Optional[Path] = None) -> LoadedModel:
    """The model named by `spec`, with `weights` if given (else its own)."""
    if spec == DEFAULT_SPEC:
        return _colored_digits(weights)
    close = difflib.get_close_matches(spec, KNOWN_SPECS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise AtlasError(f"unknown model {spec!r}{hint}; known models: {', '.join(KNOWN_SPECS)}")


def list_layers(model: nn.Module, input_size: int) -> list[LayerInfo]:
    """Every named module whose output is a (N, C) or (N, C, H, W) tensor, in forward
    order, found by one dry forward pass at `input_size`."""
    seen: dict[str, LayerInfo] = {}
    handles = []

    def record(name: str):
        def hook(module: nn.Module, inputs: tuple, output: object) -> None:
            if isinstance(output, torch.Tensor) and output.dim() in (2, 4) and name not in seen:
                seen[name] = LayerInfo(name, type(module).__name__, tuple(output.shape[1:]))

        return hook

    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_hook(record(name)))
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, input_size, input_size, device=_device_of(model)))
    finally:
        for handle in handles:
            handle.remove()
    return list(seen.values())


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
