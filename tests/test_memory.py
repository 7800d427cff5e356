"""Memory-aware batches: the tracker's exact counts, sizes as people write them, batches
sized to a budget, and a budget that forces several batches changing no result."""

from __future__ import annotations

import filecmp
import importlib.util
from pathlib import Path

import pytest
import torch
from torch import nn

from atlas.config import make_config
from atlas.errors import AtlasError
from atlas.optvis.memory import MemoryCost, PeakTracker, peak_bytes, per_image_cost
from atlas.pipeline.weights import circuits
from atlas.pipeline.build import build_atlas
from atlas.pipeline.optimize.memory import DEFAULT_SHARE, memory_budget
from atlas.pipeline.prepare import prepare_build
from atlas.sizes import format_size, parse_size

MODELS = Path(__file__).parent / "models"
FLOAT = 4  # bytes


def test_the_tracker_counts_what_is_alive_at_once() -> None:
    with PeakTracker() as tracker:
        a = torch.ones(1000)  # 4,000 bytes
        b = torch.ones(500)  # 2,000 more: 6,000 alive
        del a, b
        c = torch.ones(250)  # 1,000: the peak stays
    assert tracker.peak == 6000 * 1
    assert tracker.live == 1000
    del c


def test_the_tracker_leaves_out_what_existed_before() -> None:
    weights = torch.ones(10_000)
    assert peak_bytes(lambda: weights.sum()) == FLOAT  # only the one-value result


def test_the_tracker_sees_the_backward_pass() -> None:
    image = torch.ones(1, 1000, requires_grad=True)

    def step() -> None:
        image.exp().sum().backward()

    # exp keeps its output (4,000 bytes) for the backward, which makes the gradient
    # (4,000 more) while that output is still held.
    assert peak_bytes(step) >= 8000


def test_cost_per_image_from_two_batch_sizes() -> None:
    def run(images: int) -> None:
        fixed = torch.zeros(300)  # 1,200 bytes whatever the batch
        per_image = torch.zeros(images, 1000)  # 4,000 bytes an image
        del fixed, per_image

    cost = per_image_cost(run)
    assert cost == MemoryCost(fixed=1200, per_image=4000)
    assert cost.at(10) == 41_200
    assert cost.images_within(41_200) == 10
    assert cost.images_within(41_199) == 9
    assert cost.images_within(100) == 1  # never fewer than one
    assert MemoryCost(fixed=50, per_image=0).images_within(100) > 10**6
    assert MemoryCost(fixed=500, per_image=0).images_within(100) == 1


@pytest.mark.parametrize("text, size", [("12GB", 12 * 10**9), ("512 MB", 512 * 10**6),
                                        ("1.5GiB", 3 * 2**29), ("2kib", 2048), ("100", 100)])
def test_sizes_as_people_write_them(text: str, size: int) -> None:
    assert parse_size(text, "memory_limit") == size


@pytest.mark.parametrize("text", ["lots", "-3GB", "12 parsecs", "0GB", ""])
def test_a_size_that_is_not_one_names_the_setting(text: str) -> None:
    with pytest.raises(AtlasError, match="memory_limit must be"):
        parse_size(text, "memory_limit")


def test_sizes_print_in_the_largest_unit() -> None:
    assert format_size(11_500_000_000) == "11.5 GB"
    assert format_size(164_800) == "164.8 KB"
    assert format_size(12) == "12 B"


def test_the_budget_is_the_limit_or_a_share_of_what_is_free(monkeypatch) -> None:
    cpu = torch.device("cpu")
    assert memory_budget("3GB", cpu).bytes == 3 * 10**9
    monkeypatch.setattr("atlas.pipeline.optimize.memory.free_memory", lambda device: 10**10)
    assert memory_budget(None, cpu).bytes == int(10**10 * DEFAULT_SHARE["cpu"])
    shared = memory_budget(None, cpu, sharing=4)
    assert shared.bytes == int(10**10 * DEFAULT_SHARE["cpu"] / 4)
    assert "split between 4 workers" in shared.description


def test_a_bad_memory_limit_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(AtlasError, match="memory_limit must be a size"):
        make_config({}, {"memory_limit": "half", "out": str(tmp_path)})


def _small(out: Path, **extra):
    return make_config({}, {"layers": ["conv2", "conv3"], "channels": "0-5", "steps": 6,
                            "views": ["positive", "negative", "diversity", "seeds"],
                            "dataset": "none", "connections": 0, "out": str(out), **extra})


def test_batches_fit_the_budget_that_was_measured(tmp_path: Path) -> None:
    ready = prepare_build(_small(tmp_path / "site", memory_limit="2MB"))
    with ready.executor:
        ready.executor.start(ready.engine)
        todo = ready.todo()
        ready.size_batches(todo, _Bar())
    assert set(ready.memory) == {"conv2", "conv3"}
    for jobs in filter(None, todo):  # the joint list is empty: no joint objectives
        sized = ready.memory[jobs[0].layer]
        assert sized.cost.per_image > 0
        assert 1 <= sized.images < len([image for job in jobs for image in job.images])
        assert sized.cost.at(sized.images) <= 2 * 10**6
        for batch in ready.batches([jobs]):
            # a job is never split, so a batch may pass the limit by one job's images
            assert sum(len(job.images) for job in batch[:-1]) < sized.images


def test_a_budget_that_forces_several_batches_changes_no_result(tmp_path: Path) -> None:
    one = build_atlas(_small(tmp_path / "one"), progress=False)
    several = build_atlas(_small(tmp_path / "several", memory_limit="2MB"), progress=False)
    assert one.images_optimized == several.images_optimized == 2 * 6 * (1 + 1 + 4 + 5)
    assert any("memory: budget 2.0 MB" in note for note in several.notes)
    results = [path.relative_to(tmp_path / "one" / "results")
               for path in (tmp_path / "one" / "results").rglob("*")
               if path.is_file() and "_build" not in path.parts]
    assert len(results) > 100
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "one" / "results",
                                               tmp_path / "several" / "results",
                                               [str(path) for path in results], shallow=False)
    assert mismatch == [] and errors == []


def _chain() -> nn.Module:
    spec = importlib.util.spec_from_file_location("linear_chain", MODELS / "linear_chain.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build().double().eval()


def test_connections_take_fewer_units_a_chunk_within_a_small_memory() -> None:
    chain = _chain()
    free = list(circuits._jacobian_chunks(chain, None, 8, "conv3", "fc", torch.device("cpu"),
                                          circuits.CHUNK_ELEMENTS))
    tight = list(circuits._jacobian_chunks(chain, None, 8, "conv3", "fc", torch.device("cpu"),
                                           circuits.CHUNK_ELEMENTS, memory=1))
    assert len(free) == 1 and len(tight) == len(free[0].units) > 1
    assert torch.equal(torch.cat([chunk.jacobian for chunk in tight]), free[0].jacobian)


class _Bar:
    """Stands in for tqdm where nothing is shown."""

    total = 0

    def update(self, count: int = 1) -> None:
        pass

    def write(self, text: str) -> None:
        pass
