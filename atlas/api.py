"""atlas from Python: `atlas.build(...)` builds (or resumes) an atlas and
`atlas.open(...)` reads one; both give an `Atlas` to look at in a notebook.

The keyword settings are the command line's, declared once in `atlas.config`
(docs/settings.md lists them): the same validation, the same one-line errors
(raised as `AtlasError`), the same results and cache keys as `atlas build`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from atlas.config import load_toml, make_config
from atlas.errors import AtlasError
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
    layers: the layers to visualize by their module names; None: the model's own.
    dataset: a folder path, a built-in name ("colored-digits") or "none"; or a
        `torch.utils.data.Dataset` of images or (image, label) pairs; or a Hugging
        Face `datasets` split with an image column. None: the model's own, if any.
    dataset_name: what the pages call a dataset from Python (default: its type's
        name); part of its key, so a new name starts its dataset pass over.
    out: the site's folder.
    config: a TOML file of settings, which the keyword settings override.
    progress: show progress bars, and the build's closing lines (the returned Atlas
        keeps them as `report` either way).
    settings: any other setting by its name (steps=64, channels="0-7",
        views=["positive", "examples"], image_size=64, ...).
    """
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
    file_values = load_toml(Path(config)) if config is not None else {}
    values = {**settings, "model": model, "layers": layers,
              "dataset": str(dataset) if dataset is not None else None, "out": str(out)}
    built = make_config(file_values, values)
    report = build_atlas(built, progress=progress, model=given_model, dataset=given_dataset)
    if progress:
        print("\n".join(f"atlas: {line}" for line in report.lines()))
    return Atlas(Path(built.out), report)


def open(site: str | Path = "site") -> Atlas:  # noqa: A001 (atlas.open, as io.open)
    """The atlas built into the folder `site`."""
    return Atlas(Path(site))
