"""Build settings, each declared once as a field of `BuildConfig` (see atlas/setting.py),
read from defaults, a TOML file, then command-line flags, in that order."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from atlas.dictionaries.fit import parse_spec
from atlas.errors import AtlasError
from atlas.objective_spec import MOST_WEIGHT, WEIGHT_CEILING, parse_objective
from atlas.optvis import PARAMS, PRECISIONS
from atlas.optvis.transforms import REFERENCE_SIZE
from atlas.setting import Ceiling, declarations, did_you_mean, setting
from atlas.sizes import parse_size
from atlas.views import DEFAULT_VIEWS
from atlas.views import VIEW_NAMES as VIEWS

DEFAULT_JOINT = ["fc:0 + fc:7", "conv2:0 + conv2:1"]
# The pre_activation modes, the default first.
PRE_ACTIVATION = ("all", "negative", "off")
EXECUTORS = ("local", "ray")
# How a dataset image is brought to the image size (datasets/resize.py), the default first.
RESIZE_MODES = ("crop", "stretch")
# Which symbolic links in a dataset folder are read (datasets/walk.py), the default first.
DATASET_LINKS = ("inside", "follow")
MAX_EXAMPLES = 100  # per column; Microscope shows up to 48
MAX_CONNECTIONS = 50  # per unit and direction, as the Circuits weight explorer shows
# Ceilings for a reason outside what the setting means (atlas/setting.py, `Ceiling`).
STEPS_CEILING = Ceiling(10_000, "a bound on time: 40 times the default, and every image "
                                "keeps a record of each step")
LR_CEILING = Ceiling(10, "Adam moves a value by about lr a step; larger rates only "
                         "saturate the image")
JITTER_CEILING = Ceiling(REFERENCE_SIZE, f"the whole image: jitter is given at "
                                         f"{REFERENCE_SIZE} px and scaled to the image size")
# A job's images are never split between batches, whatever batch_size (pipeline/jobs.py,
# `batches`): a batch of 1024 images is what the default batch_size allows.
IN_ONE_BATCH = Ceiling(1024, "a unit's images of a view share one batch")
MOST_SEED = 2**32 - 1  # numpy's and torch's generators all take it
TRANSFORM_AMOUNTS = ("transform amounts must be jitter >= 0 pixels, 0 <= scale < 1 and "
                     "0 <= rotate <= 180 degrees, not jitter {jitter}, scale {scale}, "
                     "rotate {rotate}")
# The groups of settings/setting.GROUPS, by the names the declarations below use.
MODEL, UNITS, OPTIMIZATION, VIEW, DATASET, SITE, EXECUTION = (
    "model", "units", "optimization", "views", "dataset", "site", "execution")


def _known_views(views: list[str]) -> None:
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        raise AtlasError(f"unknown view {unknown[0]!r}{did_you_mean(unknown[0], VIEWS)}; "
                         f"views are: {', '.join(VIEWS)}")


def _layer_list(layers: list[str]) -> None:
    if not layers:
        raise AtlasError("the layer list is empty; name at least one layer (see "
                         "`atlas layers`)")
    twice = next((name for i, name in enumerate(layers) if name in layers[:i]), None)
    if twice is not None:
        raise AtlasError(f"layers names {twice!r} twice; name each layer once")


def _device(name: str) -> None:
    if name not in ("auto", "cpu", "cuda") and not name.startswith("cuda:"):
        raise AtlasError(f"device must be auto, cpu or cuda, not {name!r}")


def _out_folder(out: str) -> None:
    if not out.strip():
        raise AtlasError("out is empty: name the site's folder (e.g. site)")


def _concept_specs(concepts: dict[str, str]) -> None:
    for layer, spec in concepts.items():
        try:
            parse_spec(spec)
        except AtlasError as error:
            raise AtlasError(f"concepts of layer {layer!r}: {error}") from None


def _window(window: list[float]) -> None:
    if len(window) != 2 or not 0 <= window[0] < window[1] <= 1:
        raise AtlasError(f"diversity_window must be two shares of the steps, "
                         f"0 <= start < end <= 1, not {window}")


@dataclass
class BuildConfig:
    """Every build setting: a key of the TOML file, a flag of `atlas build` and `atlas
    plan`, a row of docs/settings.md. `keyed` settings join the cache keys of the results
    they shape, so changing one recomputes those results and nothing else."""

    model: str = setting(
        "colored-digits", group=MODEL, keyed=True, metavar="SPEC",
        help="the model: colored-digits, lucent:inceptionv1, torchvision:NAME, timm:NAME, "
             "path/to/file.py:factory or package.module:factory")
    weights: str | None = setting(
        group=MODEL, keyed=True, metavar="FILE",
        shown="the model's own: colored-digits' trained weights, random for others",
        help="weights file: a torch file (a state dict, or a checkpoint dict holding one) or "
             "a .safetensors file")
    pretrained: bool = setting(
        False, group=MODEL, keyed=True,
        help="the library's own weights, from its local cache (never downloaded): timm's "
             "from the Hugging Face cache, torchvision's and torch-lucent's from torch's hub "
             "cache")
    preprocess: str | None = setting(
        group=MODEL, keyed=True, shown="the model's own", metavar="PRESET",
        help="input normalization: none, imagenet or inceptionv1")
    mean: list[float] | None = setting(
        group=MODEL, keyed=True, shown="the preset's", metavar="R,G,B",
        help="explicit normalization mean, one number per colour, instead of a preset")
    std: list[float] | None = setting(
        group=MODEL, keyed=True, shown="the preset's", metavar="R,G,B",
        help="explicit normalization standard deviation, with mean")
    layers: list[str] | None = setting(
        group=UNITS, keyed="the compare view's (its runs span the chosen layers)",
        check=_layer_list, shown="the model's own list",
        help="the layers to visualize (see `atlas layers`)")
    channels: str | None = setting(
        group=UNITS, keyed="the connections (they list the chosen units)", shown="all",
        metavar="0-7,12",
        help="the units of every chosen layer")
    views: list[str] = setting(
        factory=lambda: list(DEFAULT_VIEWS), group=UNITS,
        keyed="positive, when evolution comes or goes (its snapshots are of that run)",
        check=_known_views,
        help=f"the views to build, from: {', '.join(VIEWS)}")
    steps: int = setting(
        256, group=OPTIMIZATION, keyed=True, at_least=1, ceiling=STEPS_CEILING,
        help="optimization steps (the most any image runs)")
    image_size: int | None = setting(
        group=MODEL, keyed=True, at_least=1, shown="the model's input size", metavar="PIXELS",
        error="image size must be a positive number of pixels, not {value}",
        help="the side of the optimized and dataset images, in pixels")
    seed: int = setting(
        0, group=OPTIMIZATION, keyed=True, at_least=0, at_most=MOST_SEED,
        help="random seed of every image's initialization and of the dataset sample")
    device: str = setting(
        "auto", group=EXECUTION, keyed=False, check=_device,
        help="auto, cpu, cuda or cuda:N (auto: a CUDA GPU where there is one)")
    out: str = setting(
        "site", group=SITE, keyed=False, metavar="DIR", check=_out_folder,
        help="the site's folder; its results/ keep what a rebuild reuses")
    force: bool = setting(
        False, group=SITE, keyed=False,
        help="build into a folder that holds files atlas did not make: atlas adds its own "
             "beside them (never over them) and still deletes only what it made")
    # None: the parameterization's default at the size (LR_BY_PARAM).
    lr: float | None = setting(
        group=OPTIMIZATION, keyed=True, above=0, ceiling=LR_CEILING,
        shown="pixel 0.12; fourier 0.05 up to 64 px, 0.075 above; maco 0.05",
        help="Adam's learning rate")
    param: str | None = setting(
        group=OPTIMIZATION, keyed=True, choices=PARAMS, shown="pixel up to 64 px, fourier above",
        help="image parameterization; maco adds transparency maps")
    decorrelate: bool = setting(
        True, group=OPTIMIZATION, keyed=True,
        help="optimize colour in a decorrelated basis (as lucid does)")
    valid: str = setting(
        "sigmoid", group=OPTIMIZATION, keyed=True, choices=("sigmoid", "clamp"),
        help="how pixels are kept within [0, 1]")
    transforms: str = setting(
        "standard", group=OPTIMIZATION, keyed=True, choices=("standard", "none"),
        help="random jitter, scaling and rotation at each step, or none")
    # The standard transforms' amounts (optvis/transforms.py); 0 leaves that transform out.
    jitter: int = setting(
        8, group=OPTIMIZATION, keyed=True, at_least=0, error=TRANSFORM_AMOUNTS,
        ceiling=JITTER_CEILING,
        help="the largest jitter in pixels at 128 px (scaled to the image size)")
    scale: float = setting(
        0.1, group=OPTIMIZATION, keyed=True, at_least=0, below=1, error=TRANSFORM_AMOUNTS,
        help="the largest relative scaling")
    rotate: int = setting(
        10, group=OPTIMIZATION, keyed=True, at_least=0, at_most=180, error=TRANSFORM_AMOUNTS,
        help="the largest rotation, in degrees")
    tv_weight: float = setting(
        0.05, group=OPTIMIZATION, keyed=True, at_least=0, ceiling=WEIGHT_CEILING,
        help="weight of the total-variation penalty (smoother images)")
    l2_weight: float = setting(
        0.0, group=OPTIMIZATION, keyed=True, at_least=0, ceiling=WEIGHT_CEILING,
        help="weight of the L2 penalty on the pixels")
    # See `objective_spec.parse_objective`.
    objective: str = setting(
        "channel", group=OPTIMIZATION, keyed=True, check=parse_objective,
        help="what the positive, negative, diversity and seeds views maximize: channel (the "
             "mean over positions), neuron (the centre position), top_k:K (the K strongest "
             "positions) or class:C[:λ] (the mean plus λ times class C's logit)")
    class_weight: float = setting(
        0.1, group=OPTIMIZATION, keyed=True, at_least=-MOST_WEIGHT, ceiling=WEIGHT_CEILING,
        help="λ of class objectives (unit + λ·logit) that do not give one")
    # The accent view (pipeline/dataset/accent.py): how far (RMS) an accentuated dataset
    # image may move from the real one, and the weight of the term that pulls it back
    # (against the unit's activation over its dataset maximum).
    accent_radius: float = setting(
        0.1, group=VIEW, keyed=True, above=0, at_most=1,
        help="accent view: how far (RMS, in [0, 1] pixel units) an image may move from the "
             "real one")
    accent_weight: float = setting(
        1.0, group=VIEW, keyed=True, at_least=0, ceiling=WEIGHT_CEILING,
        help="accent view: the weight of the pull back to the real image")
    # See PRE_ACTIVATION (views/optimized.py) for what decided the default.
    pre_activation: str = setting(
        "all", group=OPTIMIZATION, keyed=True, choices=PRE_ACTIVATION,
        help="layers clamped by a ReLU are read before it: all (their values and every "
             "view's objective), negative (values, and only the negative and neuron views) "
             "or off (their output)")
    logits_layer: str | None = setting(
        group=MODEL, keyed=True, shown="found from the model", metavar="LAYER",
        help="the layer of class logits (class objectives, the compare page, recognition)")
    compare_units: int = setting(
        3, group=VIEW, keyed=False, at_least=1,
        help="compare view: units per layer, each layer's first ones")
    # Circuits (pipeline/weights/circuits.py), by the units' expanded weights.
    connections: int = setting(
        12, group=VIEW, keyed=True, at_least=0, at_most=MAX_CONNECTIONS,
        help="each unit's strongest connections to the chosen layers before and after it "
             "(0: none)")
    # The diversity push (objectives.diverse) scales with the unit's activation and moves
    # each image only while it keeps `diversity_keep` of its group's best so far, after the
    # group stopped climbing, and within `diversity_window` (shares of the steps: the last
    # 20% optimize the target alone, so every image ends firing). Held that tightly, the push
    # can be strong; docs/quality.md has what chose the weight.
    diversity_weight: float = setting(
        32.0, group=VIEW, keyed=True, at_least=0, ceiling=WEIGHT_CEILING,
        help="diversity view: the weight of the push apart")
    diversity_images: int = setting(
        4, group=VIEW, keyed=True, at_least=1, ceiling=IN_ONE_BATCH,
        help="diversity view: images per unit")
    diversity_keep: float = setting(
        0.95, group=VIEW, keyed=True, at_least=0, below=1,
        help="diversity view: the share of its best activation an image keeps while pushed")
    diversity_window: list[float] = setting(
        factory=lambda: [0.0, 0.8], group=VIEW, keyed=True, check=_window, metavar="START,END",
        help="diversity view: the shares of the steps the push acts in")
    neuron_positions: int = setting(
        3, group=VIEW, keyed=True, at_least=1, ceiling=IN_ONE_BATCH,
        help="neuron view: positions per unit (the centre, then spread across the map)")
    seed_count: int = setting(
        5, group=VIEW, keyed=True, at_least=1, ceiling=IN_ONE_BATCH,
        help="seeds view: images from different random starts")
    snapshot_every: int = setting(
        50, group=VIEW, keyed=True, at_least=1,
        help="evolution view: steps between snapshots")
    # Convergence-aware stopping (optvis/stopping.py).
    stop_tolerance: float = setting(
        0.0, group=OPTIMIZATION, keyed=True, at_least=0, below=1, shown="0: off",
        help="stop an image once the mean of its objective over stop_window steps gains less "
             "than this share over the window before")
    stop_window: int = setting(
        32, group=OPTIMIZATION, keyed=True, at_least=1,
        help="the steps stop_tolerance compares")
    joint: list[str] | None = setting(
        group=UNITS, keyed=False, shown="the default model's pairs, none for others",
        metavar="EXPR,EXPR", help="joint view: sums of units to optimize together, e.g. "
                                  "'conv2:0 + conv2:1'")
    # The compare view's runs of many techniques share batches cut to it, and the
    # library kernels round differently at other batch sizes (pipeline/compare/plan.py).
    batch_size: int = setting(
        1024, group=EXECUTION, keyed="the compare view's", at_least=1,
        help="the most images per optimization batch (fewer where memory_limit allows fewer)")
    # Batches are sized to it (pipeline/optimize/memory.py).
    memory_limit: str | None = setting(
        group=EXECUTION, keyed=False, check=partial(parse_size, setting="memory_limit"),
        shown="half the free memory on a CPU, 80% of a GPU's", metavar="SIZE",
        help="the memory an optimization batch may take, e.g. 8GB")
    channels_last: bool | None = setting(
        group=EXECUTION, keyed=False, shown="on where the model is known to run faster so",
        help="NHWC tensors during optimization")
    precision: str = setting(
        "auto", group=EXECUTION, keyed=True, choices=PRECISIONS,
        help="the model's precision while optimizing: auto (bfloat16 where the model and "
             "device do it well), fp32 or bf16")
    image_format: str = setting(
        "auto", group=SITE, keyed=True, choices=("auto", "png", "webp"),
        help="stored images: png, webp, or auto (png up to 64 px, webp above)")
    image_quality: int = setting(
        90, group=SITE, keyed=True, at_least=1, at_most=100, help="webp quality")
    dataset: str | None = setting(
        group=DATASET, keyed=True, shown="the model's own, if it has one",
        metavar="SPEC",
        help="real images for the examples and spectrum views: colored-digits, a folder of "
             "images (class subfolders optional), or none")
    dataset_limit: int | None = setting(
        group=DATASET, keyed=True, at_least=1, shown="all", metavar="N",
        help="scan a seeded random sample of N images of the dataset")
    dataset_resize: str = setting(
        "crop", group=DATASET, keyed=True, choices=RESIZE_MODES,
        help="crop: the shorter side to the image size, then a centre crop; or stretch")
    # The dataset's fingerprint holds the files found, so the choice needs no key of its own.
    dataset_links: str = setting(
        "inside", group=DATASET, keyed=False, choices=DATASET_LINKS,
        help="links in a dataset folder: inside (read those whose target is in the folder, "
             "skip the others) or follow (read every link)")
    example_count: int = setting(
        10, group=DATASET, keyed=True, at_least=1, at_most=MAX_EXAMPLES, metavar="K",
        help="dataset examples per column: max, min, below, above")
    # The build stores fewer, smaller examples until its predicted size fits
    # (pipeline/cost/site_budget.py).
    site_budget: str | None = setting(
        group=SITE, keyed=True, check=partial(parse_size, setting="site_budget"),
        shown="none", metavar="SIZE",
        help="the most the published site may take, e.g. 1GB (GitHub Pages' limit): fewer, "
             "smaller dataset examples until it fits")
    dataset_batch: int = setting(
        128, group=DATASET, keyed=False, at_least=1, help="images per batch of the dataset pass")
    # The driver writes every file, whichever executor computes (pipeline/execution/).
    executor: str = setting(
        "local", group=EXECUTION, keyed=False, choices=EXECUTORS,
        help="where the optimization and the dataset pass run: local (this process) or ray "
             "(a Ray cluster's workers)")
    ray_address: str | None = setting(
        group=EXECUTION, keyed=False, shown="a local Ray instance", metavar="ADDRESS",
        help="an existing Ray cluster, e.g. 10.0.0.5:6379")
    ray_workers: int | None = setting(
        group=EXECUTION, keyed=False, at_least=1,
        shown="one per GPU, else one per ray_threads CPUs", metavar="N", help="Ray workers")
    ray_threads: int = setting(
        1, group=EXECUTION, keyed=False, at_least=1,
        help="CPU threads of each Ray worker without a GPU")
    # Dictionaries of directions fitted on the layer's activations over the dataset
    # (atlas/dictionaries, pipeline/concepts): NMF for a non-negative layer, a TopK
    # sparse autoencoder for any.
    concepts: dict[str, str] | None = setting(
        group=UNITS, keyed=True, check=_concept_specs, shown="none", metavar="LAYER=SPEC,...",
        help="a dictionary of concepts per layer, e.g. conv3=nmf:16 or "
             "features.13.conv.0=sae:256 (needs a dataset)")

    # Class pages (pipeline/classes): gradient x activation shares of each class's logit.
    class_pages: bool = setting(
        True, group=UNITS, keyed=False,
        help="a page per class of the class output: the channels and concepts of the last "
             "chosen layer before it that make its logit most (needs a dataset)")

    def validate(self) -> BuildConfig:
        """Every setting within its choices and bounds, and the rules between settings."""
        values = vars(self)
        for name, declared in SETTINGS.items():
            declared.check(values[name], values)
        if self.ray_address is not None and self.executor != "ray":
            raise AtlasError("ray_address is given but the executor is local; add "
                             "--executor ray (or executor = \"ray\")")
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


SETTINGS = declarations(BuildConfig)
# The kind of value each setting takes, read from its declaration (a config file can hold
# anything).
KINDS = {name: declared.kind for name, declared in SETTINGS.items()}
# Settings that were replaced, with what to write instead.
RENAMED = {"fft": 'the key fft was replaced by param: write param = "fourier" (fft = true) '
                  'or param = "pixel" (fft = false)'}


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
        if key not in SETTINGS:
            raise AtlasError(
                f"config {path}: unknown key {key!r}{did_you_mean(key, SETTINGS)}; "
                f"known keys: {', '.join(SETTINGS)}"
            )
    return values


def make_config(file_values: dict[str, Any], overrides: dict[str, Any]) -> BuildConfig:
    """Defaults, then the file's values, then the non-None overrides (flags)."""
    values = {**file_values, **{k: v for k, v in overrides.items() if v is not None}}
    for key in list(values):
        if key not in SETTINGS:
            raise AtlasError(f"unknown setting {key!r}{did_you_mean(key, SETTINGS)}")
        values[key] = check_setting(key, values[key])
    return BuildConfig(**values).validate()


def check_setting(key: str, value: Any) -> Any:
    """`value` as setting `key` takes it, or an AtlasError naming the key."""
    return SETTINGS[key].take(value)


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
                # Bounded before it is spelled out: '0-100000000' is refused, not listed.
                chosen.extend(range(low, min(high, count) + 1))
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
