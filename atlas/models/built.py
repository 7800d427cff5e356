"""What a model spec builds: the module and what atlas needs to know about it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn


@dataclass
class BuiltModel:
    module: nn.Module
    spec: str
    title: str
    description: str
    input_size: int
    preprocess: str  # preset name
    default_layers: list[str] | None = None  # None: derive from the model
    pretrained_loaded: bool = False
    channels_last: bool = False  # known to run (and run faster) on NHWC tensors
    bfloat16: bool = False  # known to optimize as well in bfloat16 (see optvis/precision.py)
    class_names: list[str] | None = None  # what each unit of its class output stands for
    pretrained_file: Path | None = None  # the cached file its pretrained weights came from
    pretrained_sha256: str | None = None  # that file's sha256, checked as it was read
    # The model's own normalization where no preset names it (timm's pretrained configs).
    mean: list[float] | None = None
    std: list[float] | None = None
