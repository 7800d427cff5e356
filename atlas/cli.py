"""The `atlas` command: build, layers, render.

Errors in the user's input print one line and exit 2; `--debug` (or
ATLAS_DEBUG=1) shows the full traceback instead, for bug reports.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from atlas.config import SETTINGS, BuildConfig, load_toml, make_config
from atlas.errors import AtlasError
from atlas.pipeline.control.interrupt import BuildInterrupted
from atlas.setting import GROUPS, Declared

BUILD_EXAMPLES = """examples:
  atlas build                                  # the default colored-digits atlas into site/
  atlas build --layers conv2,fc --steps 128    # two layers, fewer steps
  atlas build --channels 0-3 --views positive,negative --out /tmp/quick
  atlas build atlas.toml --seed 3              # settings from a file, one flag overriding
  atlas build examples/inceptionv1.toml --weights inception5h.pth
  atlas build --model torchvision:resnet18 --weights resnet18.pth --layers layer1.0.conv1,fc
  atlas build --model my_model.py:build --weights ckpt.pt --image-size 32 --layers conv1
  atlas build --model lucent:inceptionv1 --dataset photos/ --layers mixed3a --channels 0-7 \
              --image-size 128                 # dataset examples from a folder of images
  atlas build --dataset none                   # the default atlas without dataset examples
  atlas build --objective top_k:20             # maximize each unit's 20 strongest positions
"""
PLAN_EXAMPLES = """examples:
  atlas plan                                   # the default atlas: counts, storage, time
  atlas plan examples/inceptionv1.toml --workers 1,8,64
  atlas plan --executor ray --ray-address 10.0.0.5:6379   # calibrated on the cluster
"""
LAYERS_EXAMPLES = """examples:
  atlas layers                                 # layers of the default model
  atlas layers --model lucent:inceptionv1 --image-size 128
  atlas layers --model torchvision:resnet18 --weights resnet18.pth
  atlas layers --model my_model.py:build --weights checkpoint.pt --image-size 32
"""
BENCH_EXAMPLES = """examples:
  atlas bench                                  # InceptionV1 mixed4a, 16 channels, 128px, 256 steps:
                                               # per step, then time to quality
  atlas bench --methods lucent,atlas,floor     # skip the slow one-call-per-channel baseline
  atlas bench --methods lucent,lucent-atlas-model,atlas,atlas-fp32 --steps 64
  atlas bench --weights inception5h.pth --device cuda
  atlas bench --dataset                        # the dataset pass vs a bare forward, InceptionV1
  atlas bench --dataset photos/ --layer mixed3a,mixed4a --image-size 128
  atlas bench --quality                        # image quality per parameterization, default model
  atlas bench --quality --model lucent:inceptionv1 --dataset photos --layer mixed3a \
              --channels 4 --image-size 96 --steps 128
  atlas bench --executor ray                   # a build on Ray (2 workers x 1 thread) vs local
"""
RENDER_EXAMPLES = """examples:
  atlas render                                 # re-render site/ from its stored results
  atlas render --out /tmp/quick
"""


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (and exit code 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"atlas: error: {message}; see `{self.prog} --help`\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="atlas", description="Microscope-style static atlas generator for PyTorch CNNs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    raw = argparse.RawDescriptionHelpFormatter

    build = commands.add_parser("build", help="optimize every unit and render the site",
                                epilog=BUILD_EXAMPLES, formatter_class=raw)
    _build_flags(build)
    build.add_argument("--quiet", action="store_true", help="no progress bars")
    build.add_argument("--strict", action="store_true",
                       help="exit 1 if any view failed (NaN or Inf), instead of 0")
    build.add_argument("--debug", action="store_true", help="show full tracebacks")

    plan = commands.add_parser("plan", help="what a build will cost, before it runs: counts, "
                               "storage, wall time for N workers", epilog=PLAN_EXAMPLES,
                               formatter_class=raw)
    _build_flags(plan)
    plan.add_argument("--workers", type=_csv, metavar="N,N",
                      help="worker counts to give the wall time for (default 1,2,4,8 and "
                           "the executor's own)")
    plan.add_argument("--quiet", action="store_true", help="no progress bars")
    plan.add_argument("--debug", action="store_true", help="show full tracebacks")

    layers = commands.add_parser("layers", help="list the visualizable layers of a model",
                                 epilog=LAYERS_EXAMPLES, formatter_class=raw)
    _setting_flags(layers, ("model", "weights", "pretrained", "image_size"))
    layers.add_argument("--debug", action="store_true", help="show full tracebacks")

    bench = commands.add_parser("bench", help="time atlas against torch-lucent in one run",
                                epilog=BENCH_EXAMPLES, formatter_class=raw)
    bench.add_argument("--model", help="model spec (default lucent:inceptionv1; with "
                       "--quality, the default model)")
    bench.add_argument("--weights", help="weights file (default: random weights)")
    bench.add_argument("--layer", help="layer to optimize (default mixed4a); with --dataset, "
                       "comma-separated layers to scan (default: all mixed layers); with "
                       "--quality, comma-separated layers (default: the model's own)")
    bench.add_argument("--channels", type=int, help="number of channels (0..N-1; default 16, "
                       "with --quality all)")
    bench.add_argument("--units", metavar="SPEC", help="with --quality: the units of every "
                       "layer, e.g. 0-7,281,967 (instead of --channels)")
    bench.add_argument("--views", type=_csv, help="with --quality: the views built (default "
                       "positive,diversity,seeds,examples; positive,examples suffice for class "
                       "logits' recognition)")
    bench.add_argument("--without-lucent", action="store_true", dest="without_lucent",
                       help="with --quality: leave torch-lucent out (a sweep whose baseline "
                       "another run measured)")
    bench.add_argument("--vary", action="append", metavar="SETTING=A,B",
                       help="with --quality: instead of the parameterizations, one build per "
                       "value of a setting, e.g. lr=0.02,0.05 or jitter=4,8,16 (repeatable)")
    bench.add_argument("--steps", type=int, help="optimization steps (default 256: the "
                       "baselines' steps time to quality measures against; with --quality, "
                       "the build's default)")
    bench.add_argument("--image-size", type=int, dest="image_size",
                       help="pixels (default 128; 224 with --dataset)")
    bench.add_argument("--device", default="cpu", help="cpu or cuda")
    bench.add_argument("--repeats", type=int, default=1, help="runs of each method (median)")
    bench.add_argument("--methods", type=_csv, default=["seeds", "lucent", "atlas", "floor"],
                       help="from: seeds, lucent, lucent-atlas-model, atlas, atlas-fp32, floor "
                       "(default: seeds, lucent, atlas, floor)")
    bench.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                       help="atlas's precision (default auto: bfloat16 where the device has it "
                       "fast); fp32 times atlas as a machine without fast bfloat16 runs it")
    bench.add_argument("--seeds-channels", type=int, default=4, dest="seeds_channels",
                       help="channels the seeds' way runs, one call each (default 4; its time "
                       "for all channels is its start-up plus its time per call times the "
                       "channels)")
    bench.add_argument("--storage", type=Path, metavar="SITE",
                       help="instead: measure image and page sizes in a built SITE and "
                       "extrapolate to a full InceptionV1 atlas (all mixed layers)")
    bench.add_argument("--dataset", nargs="?", const="photos", metavar="SPEC",
                       help="instead: time the dataset pass against a bare forward pass over "
                       "the same images (SPEC: a folder, colored-digits, or photos: crops of "
                       "scikit-learn's sample photographs, the default)")
    bench.add_argument("--dataset-images", type=int, default=128, dest="dataset_images",
                       metavar="N", help="images for --dataset (default 128)")
    bench.add_argument("--dataset-batch", type=int, default=32, dest="dataset_batch",
                       metavar="B", help="batch size for --dataset (default 32)")
    bench.add_argument("--quality", action="store_true",
                       help="instead: build the positive, diversity and seeds views with each "
                       "parameterization (pixel, fourier, maco) and torch-lucent, and measure "
                       "activation, super-stimulus, faithfulness, saturation, diversity "
                       "retention and distinctness against the dataset (--dataset SPEC, "
                       "default: the model's own; photos: scikit-learn's sample photographs)")
    bench.add_argument("--example-format", nargs="?", const="photos", dest="example_format",
                       metavar="FOLDER",
                       help="instead: bytes and faithfulness (PSNR) of dataset examples stored "
                       "as PNG, WebP and AVIF at several qualities, on crops of real photographs "
                       "(a FOLDER of images, or crops of scikit-learn's sample photographs)")
    bench.add_argument("--render-units", type=_csv, dest="render_units", metavar="N,N",
                       help="instead: render synthetic atlases of N units (every view, "
                       "examples, connections, families) and print the time and peak memory "
                       "of each, e.g. 1000,5000,20000,50000")
    bench.add_argument("--executor", choices=["ray"],
                       help="time a build on a local Ray instance against the local executor "
                            "(the default model; --steps, --repeats, --workers)")
    bench.add_argument("--workers", type=int, default=2,
                       help="with --executor ray: Ray workers of one thread (default 2)")
    bench.add_argument("--debug", action="store_true", help="show full tracebacks")

    render = commands.add_parser("render", help="re-render the HTML from stored results only",
                                 epilog=RENDER_EXAMPLES, formatter_class=raw)
    render.add_argument("--out", default="site", help="site directory (default site/)")
    render.add_argument("--quiet", action="store_true", help="no progress bars")
    render.add_argument("--debug", action="store_true", help="show full tracebacks")
    return parser


def _build_flags(parser: argparse.ArgumentParser) -> None:
    """The settings `atlas build` and `atlas plan` both take: a config file, then a
    flag for every setting."""
    parser.add_argument("config", nargs="?", type=Path, help="TOML file of settings")
    _setting_flags(parser, SETTINGS)


def _setting_flags(parser: argparse.ArgumentParser, names: Iterable[str]) -> None:
    """A flag for each of the settings `names`, made from its declaration, under its
    group's heading; a flag not given is None, so it leaves the config file's value."""
    groups: dict[str, Any] = {}
    for name in names:
        declared = SETTINGS[name]
        group = declared.setting.group
        if group not in groups:
            groups[group] = parser.add_argument_group(GROUPS[group].lower())
        help_text = f"{declared.setting.help} (default: {declared.default_words()})"
        groups[group].add_argument(declared.flag, dest=name, default=None,
                                   help=help_text.replace("%", "%%"), **_flag_form(declared))


def _flag_form(declared: Declared) -> dict[str, Any]:
    """How a setting's flag reads its value, by the setting's kind."""
    if declared.kind == "bool":
        return {"action": argparse.BooleanOptionalAction}
    setting = declared.setting
    metavar = setting.metavar or ("{" + ",".join(setting.choices) + "}" if setting.choices
                                  else FLAG_METAVARS.get(declared.kind, declared.name.upper()))
    return {"type": FLAG_TYPES.get(declared.kind, str), "metavar": metavar}


def numbers(text: str) -> list[float]:
    """'0.5,0.25' -> [0.5, 0.25] (argparse names this function in its error)."""
    return [float(part) for part in _csv(text)]


FLAG_TYPES: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str_list": _csv,
                                               "float_list": numbers}
FLAG_METAVARS = {"int": "N", "float": "X", "str_list": "A,B", "float_list": "X,Y"}


def _build_config(args: argparse.Namespace) -> BuildConfig:
    file_values = load_toml(args.config) if args.config else {}
    return make_config(file_values, {name: getattr(args, name) for name in SETTINGS})


def cmd_build(args: argparse.Namespace) -> int:
    from atlas.pipeline.build import build_atlas

    report = build_atlas(_build_config(args), progress=not args.quiet)
    for note in report.notes:
        print(f"atlas: {note}")
    print(f"atlas: {report.units} units, {report.jobs_computed} of {report.jobs_total} views "
          f"computed ({report.images_optimized} images optimized, "
          f"{report.jobs_total - report.jobs_computed} unchanged) in {report.seconds:.1f} s")
    print(f"atlas: time by phase: {report.timing_note()}")
    if report.failed:
        print(f"atlas: {report.failed} view(s) failed (NaN or Inf); their units are marked "
              "failed on the site")
    print(f"atlas: open {report.site_dir / 'index.html'}")
    return 1 if report.failed and args.strict else 0


def cmd_plan(args: argparse.Namespace) -> int:
    from atlas.pipeline.cost.forecast import plan_build, report_lines

    workers = None
    if args.workers:
        if not all(part.isdigit() and int(part) > 0 for part in args.workers):
            raise AtlasError(f"--workers takes whole numbers above 0, e.g. 1,8; not "
                             f"{','.join(args.workers)}")
        workers = [int(part) for part in args.workers]
    result = plan_build(_build_config(args), progress=not args.quiet)
    print("\n".join(report_lines(result, workers)))
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    from atlas.layer_listing import format_layers
    from atlas.models.layers import dry_run
    from atlas.models.registry import load_model
    from atlas.models.specs import DEFAULT_SPEC

    loaded = load_model(args.model or DEFAULT_SPEC, Path(args.weights) if args.weights else None,
                        args.pretrained)
    size = args.image_size if args.image_size is not None else loaded.input_size
    if size < 1:
        raise AtlasError(f"image size must be a positive number of pixels, not {size}")
    run = dry_run(loaded.module, size, loaded.preprocess)
    if not run.layers:
        raise AtlasError(f"{loaded.spec} cannot run at image size {size}: it fails at "
                         f"{run.failed_at!r} ({run.error}); try a larger --image-size")
    print("\n".join(format_layers(loaded, run)))
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from atlas.pipeline.control.lock import BuildLock
    from atlas.pipeline.control.publish import publish_site
    from atlas.pipeline.manifest import build_manifest
    from atlas.store import ResultStore

    site = Path(args.out)
    if not (site / "results").is_dir():
        raise AtlasError(f"no stored results in {site}; run `atlas build --out {site}` first")
    with BuildLock(site):
        manifest = build_manifest(ResultStore(site))
        pages = publish_site(manifest, site, progress=not args.quiet)
    print(f"atlas: rendered {len(pages)} pages into {site}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.quality:
        return _bench_quality(args)
    if args.executor:
        from atlas.bench.executors import run_executor_bench

        if min(args.steps or 1, args.workers, args.repeats) < 1:
            raise AtlasError("steps, workers and repeats must be at least 1")
        run_executor_bench(args.steps or 128, args.workers, args.repeats,
                           echo=lambda line: print(line, flush=True))
        return 0
    args.model = args.model or "lucent:inceptionv1"
    args.channels = 16 if args.channels is None else args.channels
    args.steps = 256 if args.steps is None else args.steps
    if args.example_format:
        from atlas.bench.example_format import report

        folder = None if args.example_format == "photos" else Path(args.example_format)
        if folder is not None and not folder.is_dir():
            raise AtlasError(f"--example-format {folder}: no such folder of images")
        print("\n".join(report(folder, args.dataset_images if args.dataset_images != 128
                                else 400)))
        return 0
    if args.storage:
        from atlas.bench.storage import estimate, inception_units

        if not (args.storage / "atlas.json").is_file():
            raise AtlasError(f"{args.storage} holds no built atlas (no atlas.json)")
        print("\n".join(estimate(args.storage, inception_units())))
        return 0
    if args.dataset:
        from atlas.bench.dataset_pass import INCEPTION_MIXED, run_dataset_bench
        from atlas.models.registry import load_model
        from atlas.pipeline.prepare import resolve_device

        if min(args.dataset_images, args.dataset_batch) < 1:
            raise AtlasError("--dataset-images and --dataset-batch must be at least 1")
        loaded = load_model(args.model, Path(args.weights) if args.weights else None)
        layers = _csv(args.layer) if args.layer else _csv(INCEPTION_MIXED)
        run_dataset_bench(loaded, args.dataset, layers, args.image_size or 224,
                          args.dataset_images, args.dataset_batch, resolve_device(args.device),
                          echo=lambda line: print(line, flush=True))
        return 0
    if args.render_units:
        from atlas.bench.render_scale import report_lines

        if not all(part.isdigit() and int(part) > 0 for part in args.render_units):
            raise AtlasError(f"--render-units takes unit counts above 0, e.g. 1000,5000; not "
                             f"{','.join(args.render_units)}")
        for line in report_lines([int(part) for part in args.render_units]):
            print(line, flush=True)
        return 0
    from atlas.bench.methods import METHODS
    from atlas.bench.report import run_bench
    from atlas.bench.workload import Workload

    unknown = [m for m in args.methods if m not in METHODS]
    if unknown:
        raise AtlasError(f"unknown method {unknown[0]!r}; methods: {', '.join(METHODS)}")
    if min(args.channels, args.steps, args.image_size or 128, args.repeats,
           args.seeds_channels) < 1:
        raise AtlasError("channels, steps, image size, repeats and seeds channels must be at "
                         "least 1")
    from atlas.pipeline.prepare import resolve_device

    resolve_device(args.device)
    run_bench(Workload(args.model, args.weights, args.layer or "mixed4a", args.channels,
                       args.steps, args.image_size or 128, args.device, args.repeats,
                       min(args.seeds_channels, args.channels), args.precision), args.methods,
              echo=lambda line: print(line, flush=True))
    return 0


def _bench_quality(args: argparse.Namespace) -> int:
    from atlas.bench.quality import CANDIDATES, run_quality, vary_candidates
    from atlas.bench.quality_work import VIEWS as QUALITY_VIEWS
    from atlas.bench.quality_work import QualityWork

    if any(value is not None and value < 1 for value in (args.channels, args.steps,
                                                         args.image_size)):
        raise AtlasError("channels, steps and image size must be at least 1")
    with tempfile.TemporaryDirectory(prefix="atlas-photos-") as folder:
        dataset, label = args.dataset, None
        if dataset == "photos":
            from atlas.bench.dataset_pass import sample_photos

            dataset = str(sample_photos(Path(folder), args.dataset_images))
            label = (f"photos ({args.dataset_images} crops of scikit-learn's sample "
                     f"photographs)")
        units = args.units or (f"0-{args.channels - 1}" if args.channels else None)
        work = QualityWork(args.model, args.weights, dataset,
                           _csv(args.layer) if args.layer else None, units, args.steps,
                           args.image_size, args.device,
                           views=args.views or list(QUALITY_VIEWS))
        candidates = vary_candidates(args.vary) if args.vary else CANDIDATES
        run_quality(work, candidates, lucent=not args.without_lucent,
                    echo=lambda line: print(line, flush=True), dataset_label=label)
    return 0


COMMANDS = {"build": cmd_build, "plan": cmd_plan, "layers": cmd_layers, "render": cmd_render,
            "bench": cmd_bench}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    debug = args.debug or os.environ.get("ATLAS_DEBUG") == "1"
    try:
        return COMMANDS[args.command](args)
    except AtlasError as error:
        if debug:
            traceback.print_exc()
        print(f"atlas: error: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, BuildInterrupted) as stopped:
        done = f" {stopped};" if isinstance(stopped, BuildInterrupted) else ""
        print(f"atlas: interrupted;{done} finished views are saved: run the same command to "
              "resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
