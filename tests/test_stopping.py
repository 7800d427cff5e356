"""Convergence-aware stopping: the rule on exact numbers, the loop on the tiny
model (a stopped image is the image a shorter run makes), Adam limited to the
running images, and a build that records the steps each image took."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from engine_helpers import IMAGE_SIZE, image_seeds, tiny_model
from torch.testing import assert_close

from atlas.config import make_config
from atlas.errors import AtlasError
from atlas.optvis import objectives as obj
from atlas.optvis.adam import Adam
from atlas.optvis.param import ImageParam
from atlas.optvis.render import optimize
from atlas.optvis.stopping import Stopping, settled
from atlas.optvis.transforms import standard_transforms

STEPS = 60
RULE = Stopping(tolerance=0.02, window=4)


def test_an_image_stops_after_a_whole_window_settled() -> None:
    from atlas.optvis.stopping import Running

    running = Running(2, Stopping(0.05, 2))
    # image 0 settles from step 4 on (flat), image 1 keeps doubling
    history = []
    for step, scores in enumerate([[1.0, 1.0]] * 6, start=1):
        history.append(torch.tensor([scores[0], 2.0 ** step]))
        assert running.update(history, step)
        stopped = running.stopped_at.tolist()
        # settled at steps 4 and 5: a whole window (2 steps) of it stops image 0 at 5
        assert stopped == ([5, 0] if step >= 5 else [0, 0])
    assert running.steps_taken(6).tolist() == [5, 6]


def test_settled_compares_the_last_window_with_the_one_before() -> None:
    history = torch.tensor([[1.0, 1.0, -2.0], [1.0, 1.0, -2.0],
                            [2.0, 1.01, -1.94], [2.0, 1.01, -1.94]])
    # gains: 1.0 of 1.0, 0.01 of 1.0, 0.06 of 2.0
    assert settled(history, 2, 0.05).tolist() == [False, True, True]
    assert settled(history, 2, 0.02).tolist() == [False, True, False]
    assert settled(history[:3], 2, 0.05).tolist() == [False, False, False]  # under 2 windows


def test_a_rule_needs_a_tolerance_and_a_window() -> None:
    with pytest.raises(ValueError):
        Stopping(0.0, 4)
    with pytest.raises(ValueError):
        Stopping(0.01, 0)


def _run(steps: int, stopping=None, on_step=None):
    seeds = image_seeds(4)
    return optimize(tiny_model(), obj.channel("conv", [0, 1, 0, 1]), ImageParam(IMAGE_SIZE, seeds),
                    standard_transforms(IMAGE_SIZE), steps, lr=0.1,
                    transform_seeds=[seed + 7 for seed in seeds], stopping=stopping,
                    on_step=on_step)


def test_a_stopped_image_is_what_a_run_of_its_steps_makes() -> None:
    stopped = _run(STEPS, RULE)
    taken = stopped.steps_taken.tolist()
    assert min(taken) < STEPS  # some image stopped early
    first = min(taken)
    for image, steps in enumerate(taken):
        alone = _run(steps)
        # Up to the first stop the batch is the same; after it, the running images go
        # on in a smaller batch, so their numbers may differ by rounding only.
        tolerance = 0 if steps == first else 1e-5
        assert_close(stopped.images[image], alone.images[image], rtol=0, atol=tolerance)
        assert_close(stopped.ran(image), alone.history[:, image], rtol=0, atol=tolerance)
        assert bool(torch.isnan(stopped.history[steps:, image]).all())


def test_the_loop_ends_when_every_image_stopped() -> None:
    heard: list[int] = []
    result = _run(400, RULE, heard.append)
    assert int(result.steps_taken.max()) < 400
    assert result.history.shape[0] == int(result.steps_taken.max())
    assert heard[-1] == 400 and heard[:-1] == list(range(1, len(heard)))


def test_images_that_may_not_stop_run_every_step() -> None:
    assert max(_run(STEPS, RULE).steps_taken[[1, 3]]) < STEPS  # they would stop
    rule = Stopping(RULE.tolerance, RULE.window, eligible=[False, True, False, True])
    result = _run(STEPS, rule)
    assert result.steps_taken[0] == STEPS and result.steps_taken[2] == STEPS
    assert max(result.steps_taken[1], result.steps_taken[3]) < STEPS
    assert_close(result.images[0], _run(STEPS).images[0], rtol=0, atol=1e-5)


def test_adam_on_some_rows_moves_only_those() -> None:
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(4, 3, generator=generator)
    grads = [torch.randn(4, 3, generator=generator) for _ in range(3)]
    whole = start.clone().requires_grad_(True)
    some = start.clone().requires_grad_(True)
    full, limited = Adam([whole], lr=0.1), Adam([some], lr=0.1)
    rows = torch.tensor([0, 2])
    for grad in grads:
        whole.grad, some.grad = grad.clone(), grad.clone()
        full.step()
        limited.step(rows)
    assert torch.equal(some[rows], whole[rows])
    assert torch.equal(some[[1, 3]], start[[1, 3]])
    assert torch.equal(limited.exp_avg[0][[1, 3]], torch.zeros(2, 3))


def test_a_build_records_the_steps_each_image_took(tmp_path: Path) -> None:
    from atlas.pipeline.build import build_atlas

    settings = {"layers": ["conv2"], "channels": "0-1", "steps": 96, "joint": [],
                "views": ["positive", "diversity", "evolution"], "dataset": "none"}
    plain, early = tmp_path / "plain", tmp_path / "early"
    build_atlas(make_config({}, {**settings, "out": str(plain)}), progress=False)
    build_atlas(make_config({}, {**settings, "out": str(early), "stop_tolerance": 0.02,
                                 "stop_window": 8}), progress=False)

    def record(site: Path, view: str) -> dict:
        return json.loads((site / "results" / "conv2" / "0" / f"{view}.json").read_text())

    positive = record(early, "positive")
    assert positive["settings"]["stopping"] == {"tolerance": 0.02, "window": 8}
    assert 16 <= positive["steps_taken"][0] < 96
    assert record(plain, "positive")["steps_taken"] == [96]
    evolution = record(early, "evolution")
    assert len(evolution["loss"]) == positive["steps_taken"][0]
    # The diversity push is scheduled by step: its images never stop, and its key
    # (so its stored results) is the same with or without stopping.
    assert record(early, "diversity")["steps_taken"] == [96] * 4
    assert record(early, "diversity")["key"] == record(plain, "diversity")["key"]
    assert record(early, "positive")["key"] != record(plain, "positive")["key"]


def test_stop_tolerance_out_of_range_is_a_clear_error() -> None:
    with pytest.raises(AtlasError, match="stop_tolerance"):
        make_config({}, {"stop_tolerance": -0.1})
    with pytest.raises(AtlasError, match="stop_window"):
        make_config({}, {"stop_window": 0})
