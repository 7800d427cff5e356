"""The batch scheduler: out-of-memory halving, and the GPU path where one exists."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from tqdm import tqdm

from atlas.manifest_io import read_manifest
from atlas.config import make_config
from atlas.pipeline.optimize import schedule
from atlas.pipeline.build import build_atlas
from atlas.pipeline.optimize.batch import BatchOutput
from atlas.pipeline.execution.local import LocalExecutor
from atlas.pipeline.control.interrupt import StopAfterBatch
from atlas.pipeline.jobs import ImageSpec, Job


class FakeEngine:
    steps = 3
    image_size = 8
    lr = 0.05
    device = torch.device("cpu")


def jobs(count: int, images: int) -> list[Job]:
    return [Job("conv", unit, "diversity", [ImageSpec(unit * 10 + i) for i in range(images)],
                {"unit": unit}) for unit in range(count)]


def executor() -> LocalExecutor:
    local = LocalExecutor(FakeEngine.device)
    local.start(FakeEngine())
    return local


def run(batches: list[list[Job]], bar) -> int:
    return schedule.run_batches(executor(), batches, None, bar, StopAfterBatch(),
                                FakeEngine.steps, FakeEngine.lr, FakeEngine.image_size)


def test_out_of_memory_halves_the_batch_and_retries(monkeypatch) -> None:
    ran: list[int] = []

    def fake_optimize_batch(engine, batch, lr, on_progress):
        size = sum(len(job.images) for job in batch)
        if size > 8:  # this "GPU" holds 8 images
            on_progress(1)  # some progress before running out, as on a real device
            raise torch.OutOfMemoryError("CUDA out of memory")
        for _ in range(engine.steps):
            on_progress(1)
        ran.append(size)
        return BatchOutput([], [])

    monkeypatch.setattr(schedule, "optimize_batch", fake_optimize_batch)
    # 32 images in one batch of 8 jobs, then 4 images in another: the second is cut
    # to the limit the first found before it is tried
    work = [jobs(8, 4), jobs(2, 2)]
    with tqdm(total=2 * FakeEngine.steps, file=io.StringIO()) as bar:
        failures = run(work, bar)
        assert bar.n == bar.total  # the progress bar ends full, not over or under
    assert failures == 0
    assert ran == [4, 8, 8, 8, 8]  # 32 → 16 → 8 images a batch, every job run once


def test_out_of_memory_with_a_single_view_is_a_clear_error(monkeypatch) -> None:
    def fake_optimize_batch(engine, batch, lr, on_progress):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(schedule, "optimize_batch", fake_optimize_batch)
    from atlas.errors import AtlasError

    with tqdm(total=3, disable=True) as bar, pytest.raises(AtlasError, match="out of GPU memory"):
        run([jobs(1, 4)], bar)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_build_keeps_every_tensor_on_the_gpu(tmp_path: Path, monkeypatch) -> None:
    from atlas.optvis import hooks

    devices = set()
    original = hooks.LayerCapture.hook

    def watching(self, name):
        record = original(self, name)

        def hook(module, inputs, output):
            devices.add(inputs[0].device.type)
            return record(module, inputs, output)
        return hook

    monkeypatch.setattr(hooks.LayerCapture, "hook", watching)
    build_atlas(make_config({}, {"steps": 2, "channels": "0", "device": "cuda",
                                 "out": str(tmp_path / "site")}), progress=False)
    assert devices == {"cuda"}
    manifest = read_manifest(tmp_path / "site")
    assert manifest["layers"][0]["units"][0]["status"] == "ok"
