"""What `atlas layers` prints and `atlas.layers()` returns: every visualizable layer of a
model at one image size, as objects (`LayerListing`) and as the aligned, indented text
the command prints (`LayerListing.lines`). Both come from `list_layers`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from atlas.errors import AtlasError

if TYPE_CHECKING:  # `import atlas` loads no torch: these name types only
    from atlas.models.layers import DryRun
    from atlas.models.registry import LoadedModel


@dataclass(frozen=True)
class ListedLayer:
    """One visualizable layer: its module name, module type, one image's output shape
    (channels first) and channel count; `branches`, for a concatenating layer, how its
    channels split ("1x1 192 + 3x3 204 + ...")."""

    name: str
    type: str
    shape: tuple[int, ...]
    channels: int
    branches: str = ""

    def __repr__(self) -> str:
        shape = "x".join(str(d) for d in self.shape)
        return f"ListedLayer({self.name!r}, {self.type}, {shape}, {self.channels} channels)"


@dataclass(frozen=True, repr=False)
class LayerListing:
    """The visualizable layers of `spec` at `size` px, in forward order: `.layers`
    (ListedLayer), `.defaults` (the layers a build takes when none are named),
    `.rejected` (module name -> why it is not visualizable) and `.stopped`
    (where the forward pass failed at this size, else None)."""

    spec: str
    size: int
    preprocess: str
    layers: list[ListedLayer]
    defaults: list[str]
    rejected: dict[str, str]
    stopped: str | None
    own_size: int | None  # the model's own input size, suggested where the pass stopped

    def __getitem__(self, name: str) -> ListedLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def __iter__(self) -> Iterator[ListedLayer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def names(self) -> list[str]:
        """The layers' names, as `layers=` takes them."""
        return [layer.name for layer in self.layers]

    def lines(self) -> list[str]:
        """The table `atlas layers` prints: layer (indented by nesting depth), type,
        output shape, channels, and the branch split for concatenating layers."""
        rows = [("  " * layer.name.count(".") + layer.name, layer.type,
                 "x".join(str(d) for d in layer.shape), str(layer.channels),
                 f" = {layer.branches}" if layer.branches else "") for layer in self.layers]
        lines = [f"{self.spec} at {self.size}x{self.size}: {len(rows)} visualizable layers "
                 f"(preprocess: {self.preprocess})",
                 f"default layers: {', '.join(self.defaults)}", ""]
        headers = ("layer", "type", "output shape", "channels", "")
        widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(4)]
        for row in [headers, *rows]:
            lines.append("  ".join(
                [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]),
                 row[3].rjust(widths[3])]) + row[4])
        if self.rejected:
            lines.append("")
            lines.append(f"not visualizable ({len(self.rejected)}): " + "; ".join(
                f"{name} {why}" for name, why in list(self.rejected.items())[:5])
                + ("; …" if len(self.rejected) > 5 else ""))
        if self.stopped:
            lines.append("")
            lines.append(f"at {self.size}x{self.size} the forward pass stops at {self.stopped}; "
                         "layers after it are not listed. Try "
                         + (f"the model's own --image-size {self.own_size}."
                            if self.own_size and self.own_size != self.size
                            else "a larger --image-size."))
        return lines

    def __repr__(self) -> str:
        from atlas.api_messages import in_python

        return "\n".join(in_python(line) for line in self.lines())


def list_layers(loaded: LoadedModel, image_size: int | None) -> LayerListing:
    """The listing of `loaded` at `image_size` (None: the model's own), from one dry
    forward pass; an AtlasError where the size is not positive, would not fit in
    memory, or the pass reaches no layer."""
    import torch

    from atlas.models.layers import dry_run
    from atlas.pipeline.optimize.memory import memory_budget
    from atlas.pipeline.prepare import check_image_memory

    size = image_size if image_size is not None else loaded.input_size
    if size < 1:
        raise AtlasError(f"image size must be a positive number of pixels, not {size}")
    check_image_memory(loaded, size, memory_budget(None, torch.device("cpu")))
    run = dry_run(loaded.module, size, loaded.preprocess)
    if not run.layers:
        raise AtlasError(f"{loaded.spec} cannot run at image size {size}: it fails at "
                         f"{run.failed_at!r} ({run.error}); try a larger --image-size")
    return layer_listing(loaded, run)


def layer_listing(loaded: LoadedModel, run: DryRun) -> LayerListing:
    """The listing of what the dry run `run` of `loaded` reached."""
    layers = []
    for info in run.layers:
        branches = loaded.branches(info.name)
        split = (" + ".join(f"{b['label']} {b['stop'] - b['start']}" for b in branches)
                 if branches else "")
        layers.append(ListedLayer(info.name, info.type, tuple(info.shape), info.channels, split))
    return LayerListing(
        loaded.spec, run.size, loaded.preprocess.description, layers,
        loaded.defaults_from(run.layers), dict(run.rejected),
        None if run.ok else f"{run.failed_at!r} ({run.error})", loaded.input_size)
