"""Whole processes the benchmark times from outside: a torch-lucent run
(`lucent_process.py`) and an `atlas build`, each on the same weights file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch

from atlas.bench.workload import Workload
from atlas.errors import AtlasError
from atlas.models.registry import LoadedModel
from atlas.store import ResultStore


def weights_file(work: Workload, loaded: LoadedModel, folder: Path) -> Path:
    """The weights every process loads: the user's file, or the random weights
    this process made, saved once."""
    if work.weights:
        return Path(work.weights)
    path = folder / "weights.pt"
    if not path.exists():
        torch.save(loaded.module.state_dict(), path)
    return path


def _run(command: list[str], what: str) -> tuple[float, str]:
    """(wall seconds, stdout) of `command`; a failure is an AtlasError with its last lines."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise AtlasError(f"{what} failed (exit {done.returncode}): {tail}")
    return seconds, done.stdout


@dataclass
class LucentRun:
    images: torch.Tensor
    render_seconds: list[float]  # inside render_vis: one per call
    wall: float  # the whole process, start to saved images


def lucent_process(work: Workload, way: str, units: list[int], weights: Path,
                   folder: Path) -> LucentRun:
    out = folder / f"lucent-{way}.pt"
    task = {"way": way, "model": work.model, "weights": str(weights), "layer": work.layer,
            "units": units, "steps": work.steps, "size": work.image_size,
            "device": work.device, "out": str(out)}
    wall, stdout = _run([sys.executable, "-m", "atlas.bench.lucent_process", json.dumps(task)],
                        f"torch-lucent ({way})")
    report = json.loads(stdout.strip().splitlines()[-1])
    # a tensor the child just saved: weights_only reads it as data all the same
    return LucentRun(torch.load(out, weights_only=True), report["render_seconds"], wall)


@dataclass
class BuildRun:
    steps: int
    wall: float  # the whole `atlas build` process
    activations: list[float]  # each unit's positive image, as the build measured it


def build_process(work: Workload, weights: Path, steps: int, folder: Path) -> BuildRun:
    """`atlas build` of the workload's channels (positive view, `steps` steps,
    no total-variation penalty: the objective torch-lucent optimizes) into a
    new folder, timed from outside."""
    site = folder / f"build-{steps}"
    config = folder / f"build-{steps}.toml"
    config.write_text("\n".join([
        f"model = {json.dumps(work.model)}", f"weights = {json.dumps(str(weights))}",
        f"layers = [{json.dumps(work.layer)}]", f'channels = "0-{work.channels - 1}"',
        'views = ["positive"]', f"steps = {steps}", f"image_size = {work.image_size}",
        f"device = {json.dumps(work.device)}", "tv_weight = 0.0",
        f"precision = {json.dumps(work.precision)}",
        f"out = {json.dumps(str(site))}", ""]), encoding="utf-8")
    wall, _ = _run([sys.executable, "-m", "atlas", "build", str(config), "--quiet"],
                   "atlas build")
    store = ResultStore(site)
    # the build just stored every unit's positive view
    activations = [cast("dict[str, Any]", store.load_view(work.layer, unit, "positive"))
                   ["activations"][0] for unit in work.units]
    return BuildRun(steps, wall, activations)
