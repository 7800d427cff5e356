"""`torchvision:NAME` models: torchvision builds the module; its weights entry gives
the class names; `--pretrained` reads the weights from torch's hub cache as data.

torchvision's own loader unpickles the cached file with `weights_only=False`, so
atlas reads it itself (`hub_cache.read_cached`) and hands torchvision a private
copy of the weights entry that holds that state dict: the builder then makes the
model exactly as it does for its weights (GoogLeNet's input transform, DenseNet's
old key names, ViT's image size) and reads no file of its own.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from atlas.errors import AtlasError
from atlas.models.built import BuiltModel
from atlas.models.hub_cache import CACHE_REMEDY, read_cached, torch_hub_file


def torchvision_model(name: str, pretrained: bool) -> BuiltModel:
    import torchvision.models as models

    available = sorted(models.list_models(module=models))
    if name not in available:
        close = difflib.get_close_matches(name, available, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise AtlasError(f"torchvision has no model {name!r}{hint}; see torchvision.models")
    spec = f"torchvision:{name}"
    cached = digest = None
    if pretrained:
        try:
            entry = models.get_model_weights(name).DEFAULT
        except (ValueError, AttributeError) as error:
            raise AtlasError(f"torchvision has no pretrained weights for {name!r} "
                             f"({error}); give a weights file with --weights") from None
        cached = torch_hub_file(spec, entry.url)
        state, digest = read_cached(spec, cached)
        module = _built_with(name, _entry_holding(entry, state), cached)
    else:
        module = models.get_model(name, weights=None)
    return BuiltModel(module, spec, f"torchvision {name}", f"torchvision.models.{name}.", 224,
                      "imagenet", None, pretrained, channels_last=True, bfloat16=True,
                      class_names=_categories(name), pretrained_file=cached,
                      pretrained_sha256=digest)


def _entry_holding(entry: Any, state: dict[str, torch.Tensor]) -> Any:
    """A copy of weights entry `entry` (a member of torchvision's WeightsEnum, so its
    builder accepts it) whose `get_state_dict` gives `state` instead of reading the
    cache. The library's own entry is left as it is."""
    copy = object.__new__(type(entry))
    copy._value_ = entry.value
    copy._name_ = entry.name
    copy.get_state_dict = lambda *args, **kwargs: dict(state)  # builders may edit it
    return copy


def _built_with(name: str, entry: Any, path: Path) -> nn.Module:
    import torchvision.models as models

    try:
        return models.get_model(name, weights=entry)
    except RuntimeError as error:  # load_state_dict: keys or shapes differ
        problem = next((line.strip() for line in str(error).splitlines()[1:] if line.strip()),
                       str(error))
        raise AtlasError(f"{path} does not fit torchvision's {name} ({problem[:160]}); "
                         f"{CACHE_REMEDY}") from None


def _categories(name: str) -> list[str] | None:
    """The class names torchvision's weights of `name` were trained on (shipped with
    torchvision, nothing downloaded), None where it has no weights."""
    import torchvision.models as models

    try:
        categories = models.get_model_weights(name).DEFAULT.meta.get("categories")
    except (ValueError, AttributeError, KeyError):
        return None
    return list(categories) if categories else None
