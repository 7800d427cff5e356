"""The `atlas` command: build, plan, layers, render and bench.

Errors in the user's input print one line and exit 2; `--debug` (or
ATLAS_DEBUG=1) shows the full traceback instead, for bug reports.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from atlas.bench.command import BENCH_EXAMPLES, bench_flags, cmd_bench
from atlas.config import SETTINGS, BuildConfig, load_toml, make_config
from atlas.errors import AtlasError
from atlas.flags import csv_list, setting_flags, unknown_flags_line
from atlas.fsio import disk_full_line
from atlas.pipeline.control.interrupt import BuildInterrupted

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
RENDER_EXAMPLES = """examples:
  atlas render                                 # re-render site/ from its stored results
  atlas render --out /tmp/quick
"""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (and exit code 2), an unknown
    flag with the closest flag of the command it was given to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: Mapping[str, argparse.ArgumentParser] = {}  # set by `_parser`

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: None = None) -> argparse.Namespace:
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            command = self.commands.get(getattr(parsed, "command", None) or "", self)
            command.error(unknown_flags_line(unknown, command))
        return parsed

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"atlas: error: {message}; see `{self.prog} --help`\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="atlas", description="Microscope-style static atlas generator for PyTorch CNNs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    parser.commands = commands.choices
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
    plan.add_argument("--workers", type=csv_list, metavar="N,N",
                      help="worker counts to give the wall time for (default 1,2,4,8 and "
                           "the executor's own)")
    plan.add_argument("--quiet", action="store_true", help="no progress bars")
    plan.add_argument("--debug", action="store_true", help="show full tracebacks")

    layers = commands.add_parser("layers", help="list the visualizable layers of a model",
                                 epilog=LAYERS_EXAMPLES, formatter_class=raw)
    setting_flags(layers, ("model", "weights", "pretrained", "image_size"))
    layers.add_argument("--debug", action="store_true", help="show full tracebacks")

    bench = commands.add_parser("bench", help="time atlas against torch-lucent in one run",
                                epilog=BENCH_EXAMPLES, formatter_class=raw)
    bench_flags(bench)

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
    setting_flags(parser, SETTINGS)


def _build_config(args: argparse.Namespace) -> BuildConfig:
    file_values = load_toml(args.config) if args.config else {}
    return make_config(file_values, {name: getattr(args, name) for name in SETTINGS})


def cmd_build(args: argparse.Namespace) -> int:
    from atlas.pipeline.build import build_atlas

    report = build_atlas(_build_config(args), progress=not args.quiet)
    print("\n".join(f"atlas: {line}" for line in report.lines()))
    return 1 if report.failed and args.strict else 0


def cmd_plan(args: argparse.Namespace) -> int:
    from atlas.pipeline.cost.forecast import plan_build
    from atlas.pipeline.cost.plan_report import report_lines

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
    from atlas.layer_listing import list_layers
    from atlas.models.registry import load_model
    from atlas.models.specs import DEFAULT_SPEC

    loaded = load_model(args.model or DEFAULT_SPEC, Path(args.weights) if args.weights else None,
                        args.pretrained)
    print("\n".join(list_layers(loaded, args.image_size).lines()))
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from atlas.pipeline.control.lock import BuildLock
    from atlas.pipeline.control.ownership import existing_site
    from atlas.pipeline.control.publish import publish_site, remove_leftovers
    from atlas.pipeline.manifest import build_manifest
    from atlas.store import ResultStore

    site = Path(args.out)
    ownership = existing_site(site)
    if not (site / "results").is_dir():
        raise AtlasError(f"no stored results in {site}; run `atlas build --out {site}` first")
    with BuildLock(site):
        remove_leftovers(ownership)
        store = ResultStore(site)
        manifest = build_manifest(store)
        pages = publish_site(manifest, site, progress=not args.quiet)
    print("\n".join(f"atlas: {line}" for line in store.broken_lines()
                    + [f"rendered {len(pages)} pages into {site}"]))
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
    except OSError as error:  # a full disk from a writer that is not atlas's (numpy, torch)
        where = Path(error.filename).parent if error.filename else Path(getattr(args, "out",
                                                                                "."))
        line = disk_full_line(error, where)
        if line is None or debug:
            raise
        print(f"atlas: error: {line}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, BuildInterrupted) as stopped:
        done = f" {stopped};" if isinstance(stopped, BuildInterrupted) else ""
        print(f"atlas: interrupted;{done} finished views are saved: run the same command to "
              "resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
