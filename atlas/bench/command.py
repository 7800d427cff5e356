"""`atlas bench`: its flags and what each form of it runs (the benches themselves are the
other modules of this folder, imported only when asked for)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from atlas.errors import AtlasError
from atlas.flags import csv_list

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


def bench_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of `atlas bench` (its own: a bench is not a build's settings)."""
    parser.add_argument("--model", help="model spec (default lucent:inceptionv1; with "
                       "--quality, the default model)")
    parser.add_argument("--weights", help="weights file (default: random weights)")
    parser.add_argument("--layer", help="layer to optimize (default mixed4a); with --dataset, "
                       "comma-separated layers to scan (default: all mixed layers); with "
                       "--quality, comma-separated layers (default: the model's own)")
    parser.add_argument("--channels", type=int, help="number of channels (0..N-1; default 16, "
                       "with --quality all)")
    parser.add_argument("--units", metavar="SPEC", help="with --quality: the units of every "
                       "layer, e.g. 0-7,281,967 (instead of --channels)")
    parser.add_argument("--views", type=csv_list, help="with --quality: the views built (default "
                       "positive,diversity,seeds,examples; positive,examples suffice for class "
                       "logits' recognition)")
    parser.add_argument("--without-lucent", action="store_true", dest="without_lucent",
                       help="with --quality: leave torch-lucent out (a sweep whose baseline "
                       "another run measured)")
    parser.add_argument("--vary", action="append", metavar="SETTING=A,B",
                       help="with --quality: instead of the parameterizations, one build per "
                       "value of a setting, e.g. lr=0.02,0.05 or jitter=4,8,16 (repeatable)")
    parser.add_argument("--steps", type=int, help="optimization steps (default 256: the "
                       "baselines' steps time to quality measures against; with --quality, "
                       "the build's default)")
    parser.add_argument("--image-size", type=int, dest="image_size",
                       help="pixels (default 128; 224 with --dataset)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each method (median)")
    parser.add_argument("--methods", type=csv_list, default=["seeds", "lucent", "atlas", "floor"],
                       help="from: seeds, lucent, lucent-atlas-model, atlas, atlas-fp32, floor "
                       "(default: seeds, lucent, atlas, floor)")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                       help="atlas's precision (default auto: bfloat16 where the device has it "
                       "fast); fp32 times atlas as a machine without fast bfloat16 runs it")
    parser.add_argument("--seeds-channels", type=int, default=4, dest="seeds_channels",
                       help="channels the seeds' way runs, one call each (default 4; its time "
                       "for all channels is its start-up plus its time per call times the "
                       "channels)")
    parser.add_argument("--storage", type=Path, metavar="SITE",
                       help="instead: measure image and page sizes in a built SITE and "
                       "extrapolate to a full InceptionV1 atlas (all mixed layers)")
    parser.add_argument("--dataset", nargs="?", const="photos", metavar="SPEC",
                       help="instead: time the dataset pass against a bare forward pass over "
                       "the same images (SPEC: a folder, colored-digits, or photos: crops of "
                       "scikit-learn's sample photographs, the default)")
    parser.add_argument("--dataset-images", type=int, default=128, dest="dataset_images",
                       metavar="N", help="images for --dataset (default 128)")
    parser.add_argument("--dataset-batch", type=int, default=32, dest="dataset_batch",
                       metavar="B", help="batch size for --dataset (default 32)")
    parser.add_argument("--quality", action="store_true",
                       help="instead: build the positive, diversity and seeds views with each "
                       "parameterization (pixel, fourier, maco) and torch-lucent, and measure "
                       "activation, super-stimulus, faithfulness, saturation, diversity "
                       "retention and distinctness against the dataset (--dataset SPEC, "
                       "default: the model's own; photos: scikit-learn's sample photographs)")
    parser.add_argument("--example-format", nargs="?", const="photos", dest="example_format",
                       metavar="FOLDER",
                       help="instead: bytes and faithfulness (PSNR) of dataset examples stored "
                       "as PNG, WebP and AVIF at several qualities, on crops of real photographs "
                       "(a FOLDER of images, or crops of scikit-learn's sample photographs)")
    parser.add_argument("--render-units", type=csv_list, dest="render_units", metavar="N,N",
                       help="instead: render synthetic atlases of N units (every view, "
                       "examples, connections, families) and print the time and peak memory "
                       "of each, e.g. 1000,5000,20000,50000")
    parser.add_argument("--executor", choices=["ray"],
                       help="time a build on a local Ray instance against the local executor "
                            "(the default model; --steps, --repeats, --workers)")
    parser.add_argument("--workers", type=int, default=2,
                       help="with --executor ray: Ray workers of one thread (default 2)")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")


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
        layers = csv_list(args.layer) if args.layer else csv_list(INCEPTION_MIXED)
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
                           csv_list(args.layer) if args.layer else None, units, args.steps,
                           args.image_size, args.device,
                           views=args.views or list(QUALITY_VIEWS))
        candidates = vary_candidates(args.vary) if args.vary else CANDIDATES
        run_quality(work, candidates, lucent=not args.without_lucent,
                    echo=lambda line: print(line, flush=True), dataset_label=label)
    return 0
