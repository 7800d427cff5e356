"""Turns a model spec into an `nn.Module` and its defaults.

Spec forms: `colored-digits` (embedded), `lucent:inceptionv1`,
`torchvision:NAME`, `timm:NAME`, `path/to/file.py:factory`, `package.module:factory`.
Pretrained weights come from the libraries' local caches only, hash-checked and
read as data by atlas's own loader (`hub_cache`), never by the libraries'.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import sys
from pathlib import Path

from torch import nn

from atlas.errors import AtlasError
from atlas.models.built import BuiltModel
from atlas.models.fast_lrn import use_fast_lrn
from atlas.models.fast_relu import replace_redirected_relus
from atlas.models.hub_cache import load_cached, torch_hub_file
from atlas.setting import did_you_mean

DEFAULT_SPEC = "colored-digits"
INCEPTION_SPEC = "lucent:inceptionv1"
INCEPTION_LAYERS = ["conv2d0", "conv2d1", "conv2d2", "mixed3a", "mixed3b", "mixed4a", "mixed4b",
                    "mixed4c", "mixed4d", "mixed4e", "mixed5a", "mixed5b"]
SPEC_FORMS = ("colored-digits, lucent:inceptionv1, torchvision:NAME, timm:NAME, "
              "path/to/file.py:factory, package.module:factory")
# The model families atlas knows by name: the part of a spec before ':'.
FAMILIES = ("torchvision", "timm", "lucent", DEFAULT_SPEC)


def build_module(spec: str, pretrained: bool = False) -> BuiltModel:
    if spec == INCEPTION_SPEC or spec.lower() == INCEPTION_SPEC:
        return _inceptionv1(pretrained)
    if spec.startswith("lucent:"):
        raise AtlasError(f"unknown lucent model {spec.split(':', 1)[1]!r}; the lucent model "
                         f"atlas loads is {INCEPTION_SPEC}")
    if spec.startswith("torchvision:"):
        from atlas.models.torchvision_models import torchvision_model

        return torchvision_model(spec.split(":", 1)[1], pretrained)
    if spec.startswith("timm:"):
        from atlas.models.timm_models import timm_model

        return timm_model(spec.split(":", 1)[1], pretrained)
    if pretrained:
        raise AtlasError(f"--pretrained works with {INCEPTION_SPEC}, torchvision:NAME and "
                         f"timm:NAME; give the weights of {spec!r} with --weights FILE")
    if ":" in spec:
        return _factory(spec)
    named = (DEFAULT_SPEC, INCEPTION_SPEC, "torchvision:NAME", "timm:NAME")
    raise AtlasError(f"unknown model {spec!r}{did_you_mean(spec, named)}; model specs are: "
                     f"{SPEC_FORMS}")


def _family_line(spec: str) -> str | None:
    """The line for a spec whose family (before ':') is close to a known one but is
    not a module either: 'torchvison:resnet18' -> did you mean 'torchvision:resnet18'?"""
    family, _, name = spec.partition(":")
    close = difflib.get_close_matches(family, FAMILIES, n=1)
    if not close or "." in family:
        return None
    meant = DEFAULT_SPEC if close[0] == DEFAULT_SPEC else f"{close[0]}:{name}"
    return (f"unknown model family {family!r} (did you mean {meant!r}?); model specs are: "
            f"{SPEC_FORMS}")


def _inceptionv1(pretrained: bool) -> BuiltModel:
    from atlas.models.lucent_zoo import inceptionv1_class

    module = inceptionv1_class()(pretrained=False)  # torch-lucent's loader unpickles anything
    cached = digest = None
    if pretrained:
        from lucent.modelzoo.inceptionv1.InceptionV1 import model_urls

        cached = torch_hub_file(INCEPTION_SPEC, model_urls["inceptionv1"])
        digest = load_cached(module, INCEPTION_SPEC, cached)
    replace_redirected_relus(module)  # same gradients, a fraction of the backward time
    use_fast_lrn(module)  # same numbers to rounding, a fraction of the time
    return BuiltModel(
        module, INCEPTION_SPEC, "InceptionV1 (GoogLeNet)",
        "torch-lucent's InceptionV1 with the Distill layer names (conv2d0 … mixed3a … "
        "mixed5b). Mixed layers concatenate four branches (1x1, 3x3, 5x5, pool "
        "projection); each unit page names its branch.",
        224, "inceptionv1", list(INCEPTION_LAYERS), pretrained, channels_last=True,
        bfloat16=True, pretrained_file=cached, pretrained_sha256=digest)


def _factory(spec: str) -> BuiltModel:
    target, _, attribute = spec.rpartition(":")
    if not target or not attribute:
        raise AtlasError(f"model spec {spec!r} needs the form file.py:factory or module:factory")
    if target.endswith(".py") or "/" in target or "\\" in target:
        module_obj = _load_file(Path(target))
    else:
        try:
            module_obj = importlib.import_module(target)
        except ImportError as error:
            family_line = _family_line(spec)
            if family_line is not None:
                raise AtlasError(family_line) from None
            raise AtlasError(f"cannot import module {target!r} ({error}); check the spec "
                             f"{spec!r} and that the package is installed") from None
    factory = getattr(module_obj, attribute, None)
    if factory is None:
        names = [n for n in dir(module_obj) if not n.startswith("_") and callable(
            getattr(module_obj, n))]
        raise AtlasError(f"{target} has no {attribute!r}; callables there: "
                         f"{', '.join(names[:10]) or 'none'}")
    if not callable(factory):
        raise AtlasError(f"{target}:{attribute} is of type {type(factory).__name__}, not callable; "
                         "it must be a function or class that returns an nn.Module")
    try:
        module = factory()
    except Exception as error:  # the user's code may raise anything
        raise AtlasError(f"calling {target}:{attribute}() failed: {type(error).__name__}: "
                         f"{error}; the factory must build the model with no arguments") from None
    if not isinstance(module, nn.Module):
        raise AtlasError(f"{target}:{attribute}() returned a {type(module).__name__}, not a "
                         "torch.nn.Module")
    size = getattr(module, "input_size", None)
    return BuiltModel(module, spec, attribute, f"{attribute} from {target}.",
                      int(size) if isinstance(size, int) else 224, "none", None)


def _load_file(path: Path):
    if not path.is_file():
        raise AtlasError(f"model file {path} does not exist; check the path in the spec")
    name = f"atlas_user_model_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AtlasError(f"cannot load {path} as Python; the file must end in .py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise AtlasError(f"{path} failed to import: {type(error).__name__}: {error}") from None
    return module
