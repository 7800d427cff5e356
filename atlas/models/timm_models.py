"""`timm:NAME` models: timm builds the module; its pretrained config gives the input
size, the normalization and (for ImageNet heads) the class names; `--pretrained`
reads the weights from the local Hugging Face cache (`hub_cache.hf_hub_file`) with
atlas's own loader, as --weights does (safetensors, or a `pytorch_model.bin` with
`weights_only=True`), not with timm's, whose safety depends on its version."""

from __future__ import annotations

import difflib
from typing import Any

from atlas.errors import AtlasError
from atlas.models.built import BuiltModel
from atlas.models.hub_cache import hf_hub_file, load_cached
from atlas.models.preprocess import PRESETS


def _timm() -> Any:
    try:
        import timm
    except ImportError:
        raise AtlasError("timm:NAME models need timm: pip install 'neuron-atlas[timm]' "
                         "(or pip install timm)") from None
    return timm


def timm_model(name: str, pretrained: bool) -> BuiltModel:
    timm = _timm()
    spec = f"timm:{name}"
    if not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise AtlasError(f"timm has no model {name!r}{hint}; see timm.list_models()")
    from timm.models import get_pretrained_cfg

    config = get_pretrained_cfg(name)
    cached = digest = None
    module = timm.create_model(name, pretrained=False)
    if pretrained:
        if config is None or not config.hf_hub_id:
            raise AtlasError(f"timm names no pretrained weights for {name!r}; give a weights "
                             "file with --weights")
        cached = hf_hub_file(spec, config.hf_hub_id)
        digest = load_cached(module, spec, cached)
    size = int(config.input_size[-1]) if config is not None else 224
    mean = list(config.mean) if config is not None else None
    std = list(config.std) if config is not None else None
    preset = next((preset for preset, (p_mean, p_std, _) in PRESETS.items()
                   if (tuple(p_mean), tuple(p_std)) == (tuple(mean or ()), tuple(std or ()))),
                  None)
    return BuiltModel(
        module, spec, f"timm {name}", f"timm's {name}.", size, preset or "none", None,
        pretrained, class_names=_class_names(module),
        pretrained_file=cached, pretrained_sha256=digest, mean=None if preset else mean,
        std=None if preset else std)


def _class_names(module: Any) -> list[str] | None:
    """Each class logit's name where the head is ImageNet's (timm ships the names)."""
    try:
        from timm.data import ImageNetInfo, infer_imagenet_subset

        subset = infer_imagenet_subset(module)
        if not subset:
            return None
        info = ImageNetInfo(subset)
        return [info.index_to_description(index).split(",")[0]
                for index in range(len(info.label_names()))]
    except (ImportError, AttributeError, ValueError, KeyError):
        return None
