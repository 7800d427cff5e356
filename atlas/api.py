"""atlas from Python: `atlas.build(...)` builds (or resumes) an atlas and
`atlas.open(...)` reads one; both give an `Atlas` to look at in a notebook.
`atlas.layers(...)` lists a model's layers as `atlas layers` prints them.

The keyword settings are the command line's, declared once in `atlas.config`
(docs/settings.md lists them): the same validation, the same one-line errors
(raised as `AtlasError`, with keyword arguments where the command line's name
flags: api_messages.py), the same results and cache keys as `atlas build`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atlas.api_messages import python_errors
from atlas.config import load_toml, make_config
from atlas.errors import AtlasError
from atlas.layer_listing import LayerListing
from atlas.results import Atlas


def build(model: Any = None, *, layers: list[str] | None = None, dataset: Any = None,
          out: str | Path = "site", config: str | Path | None = None, progress: bool = True,
          dataset_name: str | None = None, **settings: Any) -> Atlas:
    """Builds the atlas of `model` into `out` and returns it; a second call with the
    same arguments resumes, recomputing only what changed.

    model: a `torch.nn.Module` in memory (its architecture and weights key the
        results; see `atlas.models.in_memory`), or a model spec as `--model` takes
        it ("torchvision:resnet18", "timm:resnet18", "path/to/file.py:factory");
        None: the default model.
    layers: the layers to visualize by their module names (`atlas.layers(model)`
        lists them); None: the model's own.
    dataset: a folder path, a built-in name ("colored-digits") or "none"; or a
        `torch.utils.data.Dataset` of images or (image, label) pairs; or a Hugging
        Face `datasets` split with an image column. None: the model's own, if any.
        Its class names (`classes`, or the split's ClassLabel) name a module's class
        outputs where the module's last linear layer has as many.
    dataset_name: what the pages call a dataset from Python (default: its type's
        name); part of its key, so a new name starts its dataset pass over.
    out: the site's folder.
    config: a TOML file of settings, which the keyword settings override.
    progress: show progress bars, and the build's closing lines (the returned Atlas
        keeps them as `report` either way).
    settings: any other setting by its name (steps=64, channels=[0, 1] or range(8)
        or "0-7,12", views=["positive", "examples"], image_size=64, ...).
    """
    with python_errors():
        return _build(model, layers, dataset, out, config, progress, dataset_name, settings)


def _build(model: Any, layers: list[str] | None, dataset: Any, out: str | Path,
           config: str | Path | None, progress: bool, dataset_name: str | None,
           settings: dict[str, Any]) -> Atlas:
    from atlas.pipeline.build import build_atlas

    given_model, given_dataset = None, None
    if model is not None and not isinstance(model, str):
        from atlas.models.in_memory import module_model

        if settings.get("weights") or settings.get("pretrained"):
            raise AtlasError("weights and pretrained apply to a model spec; load the weights "
                             "into your module before handing it to atlas.build")
        given_model = module_model(model, settings.get("preprocess"), settings.get("mean"),
                                   settings.get("std"))
        model = given_model.spec
    if dataset is not None and not isinstance(dataset, (str, Path)):
        given_dataset, dataset = dataset, dataset_name
        if given_model is not None:
            from atlas.api_labels import named_by_dataset

            given_model = named_by_dataset(given_model, given_dataset,
                                           settings.get("logits_layer"))
    if "channels" in settings:
        settings = {**settings, "channels": channels_text(settings["channels"])}
    file_values = load_toml(Path(config)) if config is not None else {}
    values = {**settings, "model": model, "layers": layers,
              "dataset": str(dataset) if dataset is not None else None, "out": str(out)}
    built = make_config(file_values, values)
    report = build_atlas(built, progress=progress, model=given_model, dataset=given_dataset)
    if progress:
        print("\n".join(f"atlas: {line}" for line in report.lines()))
    return Atlas(Path(built.out), report)


def channels_text(channels: Any) -> Any:
    """`channels=` as the setting's text: 3 -> "3", [0, 1] -> "0,1", range(4) -> "0-3";
    text (and None) as given."""
    if channels is None or isinstance(channels, str):
        return channels
    if isinstance(channels, range) and channels.step == 1 and len(channels) > 1 \
            and channels.start >= 0:
        return f"{channels.start}-{channels.stop - 1}"
    if isinstance(channels, int) and not isinstance(channels, bool):
        channels = [channels]
    if not isinstance(channels, (list, tuple, range)) or not channels:
        raise AtlasError(f"channels={channels!r}: give a channel number, a list or range of "
                         "them, or text such as \"0-7,12\"")
    wrong = next((c for c in channels if isinstance(c, bool) or not isinstance(c, (int, str))
                  or isinstance(c, int) and c < 0), None)
    if wrong is not None:
        raise AtlasError(f"channels holds {wrong!r}; a channel is a whole number from 0")
    return ",".join(str(channel) for channel in channels)


def layers(model: Any = None, image_size: int | None = None, weights: str | Path | None = None,
           pretrained: bool = False) -> LayerListing:
    """The visualizable layers of `model`, as `atlas layers` prints them: a
    LayerListing of ListedLayer (name, type, output shape, channels), in forward
    order, with the model's default layers; its repr is the command's table.

    model: a `torch.nn.Module` in memory or a model spec ("torchvision:resnet18");
        None: the default model.
    image_size: the side of the input in pixels; None: the model's own (224 for a
        module without an `input_size` attribute).
    weights, pretrained: a spec's weights file, or its published weights.
    """
    with python_errors():
        from atlas.layer_listing import list_layers

        if model is not None and not isinstance(model, str):
            from atlas.models.in_memory import module_model

            if weights or pretrained:
                raise AtlasError("weights and pretrained apply to a model spec; load the "
                                 "weights into your module before handing it to atlas.layers")
            return list_layers(module_model(model), image_size)
        from atlas.models.registry import load_model
        from atlas.models.specs import DEFAULT_SPEC

        loaded = load_model(model or DEFAULT_SPEC, Path(weights) if weights else None,
                            pretrained)
        return list_layers(loaded, image_size)


def open(site: str | Path = "site") -> Atlas:  # noqa: A001 (atlas.open, as io.open)
    """The atlas built into the folder `site`."""
    with python_errors():
        return Atlas(Path(site))
