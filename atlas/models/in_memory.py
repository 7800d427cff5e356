"""A model already in memory, handed to `atlas.build(model=...)`.

Its cache key stands where a spec's weights file's sha256 stands: `module_digest`,
a SHA-256 over the architecture (the module's class, its printed structure, which
names every submodule with its hyperparameters, and the source of its class's
`forward` where Python can read it) and every parameter and buffer (name, dtype,
shape and bytes). Change a weight, a layer or the forward code, and the build
recomputes; run the same cell again, and it resumes.
"""

from __future__ import annotations

import copy
import hashlib
import inspect
from collections.abc import Sequence

import torch
from torch import nn

from atlas.errors import AtlasError
from atlas.models.preprocess import make_preprocess
from atlas.models.registry import LoadedModel


def module_digest(module: nn.Module) -> str:
    digest = hashlib.sha256()
    cls = type(module)
    digest.update(f"{cls.__module__}.{cls.__qualname__}\n{module!r}\n".encode())
    try:
        digest.update(inspect.getsource(cls.forward).encode())
    except (OSError, TypeError):  # defined where Python keeps no source
        pass
    for name, tensor in module.state_dict().items():
        value = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name} {value.dtype} {tuple(tensor.shape)}\n".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


def module_model(module: nn.Module, preprocess: str | None = None,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None
                 ) -> LoadedModel:
    """`module` as a build loads a model: a copy in eval mode (the build moves it to its
    device and may change its memory format; the caller's module stays as it was)."""
    if not isinstance(module, nn.Module):
        raise AtlasError(f"the model is a {type(module).__name__}; give a torch.nn.Module or a "
                         "model spec such as torchvision:resnet18")
    copied = copy.deepcopy(module).eval()
    name = type(module).__qualname__
    size = getattr(module, "input_size", None)
    return LoadedModel(
        module=copied, spec=f"python:{name}", title=name,
        description=f"{name}, a model handed to atlas.build in Python.",
        input_size=int(size) if isinstance(size, int) else 224, default_layers=None,
        weights_path=None, weights_sha256=module_digest(module),
        preprocess=make_preprocess(preprocess or "none", mean, std))
