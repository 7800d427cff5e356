"""Build settings: defaults, a TOML file, then command-line flags, in that order."""

from __future__ import annotations

import dataclasses
import difflib
import math
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from atlas.errors import AtlasError
from atlas.optvis import PARAMS
from atlas.sizes import parse_size
from atlas.views import DEFAULT_VIEWS
from atlas.views import VIEW_NAMES as VIEWS

DEFAULT_JOINT = ["fc:0 + fc:7", "conv2:0 + conv2:1"]
# The pre_activation modes, the default first.
PRE_ACTIVATION = ("all", "negative", "off")


@dataclass
class BuildConfig:
    model: str = "colored-digits"
    weights: str | None = None
    pretrained: bool = False  # ask the model's library to download its weights
    preprocess: str | None = None  # preset: none, imagenet, inceptionv1; None: the model's
    mean: list[float] | None = None  # explicit normalization instead of a preset
    std: list[float] | None = None
    layers: list[str] | None = None  # None: the model's default layers
    channels: str | None = None  # e.g. "0-7,12", for every layer; None: all
    views: list[str] = field(default_factory=lambda: list(DEFAULT_VIEWS))
    steps: int = 256
    image_size: int | None = None  # None: the model's native input size
    seed: int = 0
    device: str = "auto"
    out: str = "site"
    lr: float | None = None  # None: the parameterization's default at the size (LR_BY_PARAM)
    param: str | None = None  # pixel, fourier or maco (optvis/param.py); None: by size
    decorrelate: bool = True
    valid: str = "sigmoid"
    transforms: str = "standard"  # "standard" or "none"
    # The standard transforms' amounts (optvis/transforms.py): jitter in pixels at 128 px
    # (scaled to the image size), the largest relative scaling, the largest rotation in
    # degrees; 0 leaves that transform out.
    jitter: int = 8
    scale: float = 0.1
    rotate: int = 10
    tv_weight: float = 0.05
    l2_weight: float = 0.0
    # What the positive, negative, diversity, seeds (and evolution) views maximize, for the
    # whole build: channel (the mean over positions), neuron (the centre position), top_k:K
    # (the mean of the K strongest positions) or class:C[:λ] (the channel mean plus λ times
    # the logit of class C). See `parse_objective`.
    objective: str = "channel"
    class_weight: float = 0.1  # λ of class-conditional objectives (unit + λ·logit)
    # The accent view (pipeline/dataset/accent.py): how far (RMS, in [0, 1] pixel units) an
    # accentuated dataset image may move from the real one, and the weight of the term
    # that pulls it back (against the unit's activation over its dataset maximum).
    accent_radius: float = 0.1
    accent_weight: float = 1.0
    # A layer whose output is clamped at a floor (a ReLU; models/floors.py) is read before
    # its clamp: "all" (its values, and every optimized view's objective), "negative" (its
    # values, and only the negative and neuron views' objectives) or "off" (its output, as
    # for any layer). See PRE_ACTIVATION for what decided the default.
    pre_activation: str = "all"
    logits_layer: str | None = None  # the class output; None: found from the model
    compare_units: int = 3  # units per layer on the compare page: each layer's first ones
    # Circuits: each unit's strongest connections to the chosen layer before it and the
    # one after it, by their expanded weights (pipeline/weights/circuits.py); 0: none, at most 50.
    connections: int = 12
    # The diversity push (objectives.diverse) scales with the unit's activation and moves
    # each image only while it keeps `diversity_keep` of its group's best so far, after the
    # group stopped climbing, and within `diversity_window` (shares of the steps: the last
    # 20% optimize the target alone, so every image ends firing). Held that tightly, the push
    # can be strong; docs/quality.md has what chose the weight.
    diversity_weight: float = 32.0
    diversity_images: int = 4
    diversity_keep: float = 0.95
    diversity_window: list[float] = field(default_factory=lambda: [0.0, 0.8])
    neuron_positions: int = 3
    seed_count: int = 5
    snapshot_every: int = 50
    # Convergence-aware stopping (optvis/stopping.py): an image stops once the mean of its
    # objective over the last `stop_window` steps gains less than `stop_tolerance` (a share)
    # over the window before; `steps` stays the most any image runs. 0: every image runs
    # every step.
    stop_tolerance: float = 0.0
    stop_window: int = 32
    joint: list[str] | None = None  # None: the default model's pairs, none for others
    batch_size: int = 1024  # the most images per optimization batch
    # The memory one optimization batch may take, e.g. "8GB"; None: half the machine's free
    # memory on a CPU, 80% of a GPU's (pipeline/optimize/memory.py). Batches are sized to it.
    memory_limit: str | None = None
    channels_last: bool | None = None  # NHWC tensors; None: on where the model is known to run so
    precision: str = "auto"  # auto, fp32 or bf16 (see optvis/precision.py)
    image_format: str = "auto"  # png, webp, or auto: png up to 64 px, webp above
    image_quality: int = 90  # webp quality, 1-100
    dataset: str | None = None  # colored-digits, a folder, or "none"; None: the model's own
    dataset_limit: int | None = None  # scan a seeded sample of this many images
    dataset_resize: str = "crop"  # crop: shorter side to the image size, then centre crop
    example_count: int = 10  # dataset examples per column (max, min, below, above)
    # The most the published site may take, e.g. "1GB" (GitHub Pages' limit): the build
    # stores fewer, smaller examples until its predicted size fits (pipeline/cost/site_budget.py).
    site_budget: str | None = None
    dataset_batch: int = 128  # images per batch of the dataset pass
    # Where the optimization and the dataset pass run: "local" (this process) or "ray"
    # (workers of a Ray cluster; the driver still writes every file). See
    # atlas/pipeline/execution/ray.
    executor: str = "local"
    ray_address: str | None = None  # an existing cluster; None: a local Ray instance
    ray_workers: int | None = None  # None: one per GPU, else one per `ray_threads` CPUs
    ray_threads: int = 1  # CPU threads of each worker without a GPU

    def validate(self) -> BuildConfig:
        unknown = [v for v in self.views if v not in VIEWS]
        if unknown:
            raise AtlasError(
                f"unknown view {unknown[0]!r}{_did_you_mean(unknown[0], VIEWS)}; "
                f"views are: {', '.join(VIEWS)}"
            )
        for name in ("steps", "seed_count", "diversity_images", "neuron_positions", "batch_size",
                     "example_count", "dataset_batch", "compare_units", "ray_threads",
                     "stop_window"):
            if getattr(self, name) < 1:
                raise AtlasError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.image_size is not None and self.image_size < 1:
            raise AtlasError(f"image size must be a positive number of pixels, not "
                             f"{self.image_size}")
        if self.layers is not None and not self.layers:
            raise AtlasError("the layer list is empty; name at least one layer (see "
                             "`atlas layers`)")
        if self.jitter < 0 or not 0 <= self.scale < 1 or not 0 <= self.rotate <= 180:
            raise AtlasError(f"transform amounts must be jitter >= 0 pixels, 0 <= scale < 1 and "
                             f"0 <= rotate <= 180 degrees, not jitter {self.jitter}, scale "
                             f"{self.scale}, rotate {self.rotate}")
        if self.transforms not in ("standard", "none"):
            raise AtlasError(f"transforms must be 'standard' or 'none', not {self.transforms!r}")
        if self.example_count > MAX_EXAMPLES:
            raise AtlasError(f"example_count must be at most {MAX_EXAMPLES}, not "
                             f"{self.example_count}")
        window = self.diversity_window
        if len(window) != 2 or not 0 <= window[0] < window[1] <= 1:
            raise AtlasError(f"diversity_window must be two shares of the steps, "
                             f"0 <= start < end <= 1, not {window}")
        if not 0 <= self.diversity_keep < 1:
            raise AtlasError(f"diversity_keep must be at least 0 and below 1, not "
                             f"{self.diversity_keep}")
        if self.dataset_limit is not None and self.dataset_limit < 1:
            raise AtlasError(f"dataset_limit must be at least 1, not {self.dataset_limit}")
        if self.dataset_resize not in ("crop", "stretch"):
            raise AtlasError(f"dataset_resize must be 'crop' or 'stretch', not "
                             f"{self.dataset_resize!r}")
        if self.image_format not in ("auto", "png", "webp"):
            raise AtlasError(f"image_format must be auto, png or webp, not {self.image_format!r}")
        if not 1 <= self.image_quality <= 100:
            raise AtlasError(f"image_quality must be 1-100, not {self.image_quality}")
        if not 0 < self.accent_radius <= 1 or self.accent_weight < 0:
            raise AtlasError(f"accent_radius must be above 0 and at most 1 and accent_weight "
                             f"at least 0, not {self.accent_radius} and {self.accent_weight}")
        if self.pre_activation not in PRE_ACTIVATION:
            raise AtlasError(f"pre_activation must be one of {', '.join(PRE_ACTIVATION)}, not "
                             f"{self.pre_activation!r}")
        if self.param is not None and self.param not in PARAMS:
            raise AtlasError(f"param must be one of {', '.join(PARAMS)}, not {self.param!r}")
        if self.valid not in ("sigmoid", "clamp"):
            raise AtlasError(f"valid must be 'sigmoid' or 'clamp', not {self.valid!r}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise AtlasError(f"device must be auto, cpu or cuda, not {self.device!r}")
        parse_objective(self.objective)
        if self.executor not in EXECUTORS:
            raise AtlasError(f"executor must be {' or '.join(EXECUTORS)}, not {self.executor!r}")
        if self.ray_workers is not None and self.ray_workers < 1:
            raise AtlasError(f"ray_workers must be at least 1, not {self.ray_workers}")
        if self.ray_address is not None and self.executor != "ray":
            raise AtlasError("ray_address is given but the executor is local; add "
                             "--executor ray (or executor = \"ray\")")
        if not 0 <= self.stop_tolerance < 1:
            raise AtlasError(f"stop_tolerance must be at least 0 (0: off) and below 1, not "
                             f"{self.stop_tolerance}")
        for name in ("memory_limit", "site_budget"):
            if getattr(self, name) is not None:
                parse_size(getattr(self, name), name)
        if not 0 <= self.connections <= MAX_CONNECTIONS:
            raise AtlasError(f"connections must be from 0 (none) to {MAX_CONNECTIONS}, "
                             f"not {self.connections}")
        return self

    def objective_spec(self) -> dict[str, Any]:
        """The build's objective as it joins cache keys: `parse_objective`'s dict,
        a class objective completed with its weight (`class_weight` unless the text
        gives one) and its class output (`logits_layer`, which the build resolves)."""
        spec = parse_objective(self.objective)
        if spec["kind"] == "class":
            spec.setdefault("weight", self.class_weight)
            spec["logits"] = self.logits_layer
        return spec


EXECUTORS = ("local", "ray")
MAX_EXAMPLES = 100  # per column; Microscope shows up to 48
MAX_CONNECTIONS = 50  # per unit and direction, as the Circuits weight explorer shows

# The parameterization's default depends on the image size, and the learning rate's on
# the parameterization and the size; all chosen by measurement with `atlas bench
# --quality` (docs/quality.md has the tables): raw pixels on small images (the 28-pixel
# default model), the Fourier basis with decorrelated colour at ImageNet sizes, tuned on
# a trained MobileNetV2.
SMALL_IMAGE = 64  # pixels: up to this size an image is small
PARAM_BY_SIZE = {"small": "pixel", "large": "fourier"}
LR_BY_PARAM = {"small": {"pixel": 0.12, "fourier": 0.05, "maco": 0.05},
               "large": {"pixel": 0.12, "fourier": 0.075, "maco": 0.05}}


def size_class(image_size: int) -> str:
    return "small" if image_size <= SMALL_IMAGE else "large"


def default_lr(param: str, image_size: int) -> float:
    """The learning rate `param` takes at `image_size` unless one is given."""
    return LR_BY_PARAM[size_class(image_size)][param]


def with_sized_defaults(config: BuildConfig, image_size: int) -> BuildConfig:
    """`config` with an unset parameterization at the default for `image_size`,
    and an unset learning rate at the parameterization's for that size."""
    param = config.param or PARAM_BY_SIZE[size_class(image_size)]
    lr = config.lr if config.lr is not None else default_lr(param, image_size)
    return dataclasses.replace(config, param=param, lr=lr)

FIELDS = {f.name: f for f in dataclasses.fields(BuildConfig)}
# Settings that were replaced, with what to write instead.
RENAMED = {"fft": 'the key fft was replaced by param: write param = "fourier" (fft = true) '
                  'or param = "pixel" (fft = false)'}


def _did_you_mean(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_toml(path: Path) -> dict[str, Any]:
    """The settings in a TOML file, checked against the known keys."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise AtlasError(f"cannot read config {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise AtlasError(f"config {path} is not UTF-8 text; save it as UTF-8 TOML") from None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise AtlasError(f"config {path} is not valid TOML: {error}") from None
    for key in values:
        if key in RENAMED:
            raise AtlasError(f"config {path}: {RENAMED[key]}")
        if key not in FIELDS:
            raise AtlasError(
                f"config {path}: unknown key {key!r}{_did_you_mean(key, FIELDS)}; "
                f"known keys: {', '.join(FIELDS)}"
            )
    return values


def make_config(file_values: dict[str, Any], overrides: dict[str, Any]) -> BuildConfig:
    """Defaults, then the file's values, then the non-None overrides (flags)."""
    values = {**file_values, **{k: v for k, v in overrides.items() if v is not None}}
    for key in list(values):
        if key not in FIELDS:
            raise AtlasError(f"unknown setting {key!r}{_did_you_mean(key, FIELDS)}")
        values[key] = check_setting(key, values[key])
    return BuildConfig(**values).validate()


def _kind(annotation: Any) -> str:
    """What a setting's annotation asks of a value: "int", "float", "bool", "str",
    "str_list" or "float_list" (None, where a setting allows it, stays None)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation, = (arg for arg in typing.get_args(annotation) if arg is not type(None))
    if typing.get_origin(annotation) is list:
        item, = typing.get_args(annotation)
        return f"{item.__name__}_list"
    return str(annotation.__name__)


# The kind of value each setting takes, read from its declaration above (a config file
# can hold anything).
KINDS = {name: _kind(hint) for name, hint in typing.get_type_hints(BuildConfig).items()}


def check_setting(key: str, value: Any) -> Any:
    """`value` as setting `key` takes it, or an AtlasError naming the key."""
    def wrong(kind: str) -> AtlasError:
        return AtlasError(f"setting {key!r} must be {kind}, not {value!r} "
                          f"({type(value).__name__})")

    kind = KINDS[key]
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("a whole number")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        return float(value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise wrong("true or false")
    elif kind == "str_list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong("a list of strings, e.g. [\"a\", \"b\"]")
    elif kind == "float_list":
        if not isinstance(value, list) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise wrong("a list of numbers")
    elif key == "channels" and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    elif not isinstance(value, str):
        raise wrong("a string")
    return value


def _whole(text: str) -> bool:
    return text.isascii() and text.isdigit()


OBJECTIVES = ("channel", "neuron", "top_k:K", "class:C", "class:C:λ")
"""The `objective` setting's forms: the names and arguments `parse_objective` reads."""


def parse_objective(text: str) -> dict[str, Any]:
    """'top_k:20' -> {"kind": "top_k", "k": 20}, 'class:3:0.5' -> {"kind": "class",
    "class": 3, "weight": 0.5}, 'channel' -> {"kind": "channel"}: the form the
    objective takes in cache keys and in `views.optimized.unit_objective`."""
    name, _, rest = text.strip().partition(":")
    args = rest.split(":") if rest else []

    def bad(why: str) -> AtlasError:
        return AtlasError(f"objective {text!r} {why}; objectives are: {', '.join(OBJECTIVES)}")

    if name in ("channel", "neuron"):
        if args:
            raise bad("takes no argument")
        return {"kind": name}
    if name == "top_k":
        if len(args) != 1 or not _whole(args[0]) or int(args[0]) < 1:
            raise bad("needs K, a whole number of positions of at least 1, e.g. top_k:20")
        return {"kind": "top_k", "k": int(args[0])}
    if name == "class":
        if len(args) not in (1, 2) or not _whole(args[0]):
            raise bad("needs C, a class index, e.g. class:3 or class:3:0.5")
        spec: dict[str, Any] = {"kind": "class", "class": int(args[0])}
        if len(args) == 2:
            try:
                spec["weight"] = float(args[1])
            except ValueError:
                raise bad(f"has a weight {args[1]!r} that is not a number") from None
            if not math.isfinite(spec["weight"]):
                raise bad("needs a finite weight")
        return spec
    kinds = [form.split(":")[0] for form in OBJECTIVES]
    raise AtlasError(f"unknown objective {text!r}{_did_you_mean(name, kinds)}; objectives are: "
                     f"{', '.join(OBJECTIVES)}")


AUTO_PNG_UP_TO = 64  # pixels: small images stay lossless; larger ones would be too big


def resolve_image_format(config: BuildConfig, image_size: int) -> str:
    if config.image_format != "auto":
        return config.image_format
    return "png" if image_size <= AUTO_PNG_UP_TO else "webp"


def parse_channels(text: str, count: int, layer: str) -> list[int]:
    """'0-7,12' -> [0, ..., 7, 12], checked against the layer's channel count."""
    chosen: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                low, high = (int(p) for p in part.split("-", 1))
                if high < low:
                    raise AtlasError(f"channel range {part!r} runs backwards; write low-high")
                chosen.extend(range(low, high + 1))
            else:
                chosen.append(int(part))
        except ValueError:
            raise AtlasError(f"cannot read channels {text!r}; write e.g. 0-7,12") from None
    bad = [c for c in chosen if not 0 <= c < count]
    if bad:
        raise AtlasError(
            f"channel {bad[0]} is out of range for layer {layer!r}, which has {count} "
            f"channels (0-{count - 1})"
        )
    return sorted(set(chosen))
