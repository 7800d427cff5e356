"""The optimization loop on the tiny CPU model: determinism, history, snapshots,
packing independence, measurement, and a clean model afterwards."""

from __future__ import annotations

import pytest
import torch
from engine_helpers import IMAGE_SIZE, SEED, image_seeds, no_hooks_left, tiny_model
from torch import nn
from torch.testing import assert_close

from atlas.optvis import objectives as obj
from atlas.optvis.param import ImageParam
from atlas.optvis.render import measure, optimize
from atlas.optvis.transforms import no_transforms, standard_transforms

STEPS = 12


def _transform_seeds(seeds: list[int]) -> list[int]:
    return [seed + 7 for seed in seeds]


def _run(objective: obj.Objective, seeds: list[int], steps: int = STEPS, **kwargs):
    """Optimizes images with init `seeds` and transform seeds derived from them."""
    model = kwargs.pop("model", None) or tiny_model()
    transforms = kwargs.pop("transforms", None) or standard_transforms(IMAGE_SIZE)
    image = ImageParam(IMAGE_SIZE, seeds)
    return optimize(model, objective, image, transforms, steps,
                    transform_seeds=_transform_seeds(seeds), **kwargs)


def test_deterministic_for_a_seed() -> None:
    objective = obj.channel("conv", [0, 1]) - 0.05 * obj.total_variation()
    torch.manual_seed(1)  # the global RNG must not matter
    first = _run(objective, image_seeds(2))
    torch.manual_seed(2)
    second = _run(objective, image_seeds(2))
    assert first.images.numpy().tobytes() == second.images.numpy().tobytes()
    assert torch.equal(first.history, second.history)


def test_the_transform_seeds_matter() -> None:
    objective = obj.channel("conv", 1)
    model, seeds = tiny_model(), image_seeds(1)
    transforms = standard_transforms(IMAGE_SIZE)

    def run(transform_seeds):
        image = ImageParam(IMAGE_SIZE, seeds)
        return optimize(model, objective, image, transforms, STEPS, transform_seeds=transform_seeds)

    assert not torch.equal(run([1]).images, run([2]).images)
    assert torch.equal(run([0]).images, run(None).images)  # default: 0, 1, ...


def test_result_shapes_and_history() -> None:
    result = _run(obj.channel("conv", [0, 1, 0]), image_seeds(3))
    assert result.images.shape == (3, 3, IMAGE_SIZE, IMAGE_SIZE)
    assert result.images.device.type == "cpu"
    assert not result.images.requires_grad
    assert result.history.shape == (STEPS, 3)
    assert float(result.images.min()) >= 0.0 and float(result.images.max()) <= 1.0
    assert result.snapshots == []


def test_history_is_each_images_score_with_no_transforms() -> None:
    model, seeds = tiny_model(), image_seeds(2)
    objective = obj.channel("conv", [0, 1])
    image = ImageParam(IMAGE_SIZE, seeds)
    initial_scores = measure(model, objective, image().detach())
    result = optimize(model, objective, image, no_transforms(IMAGE_SIZE), STEPS)
    # step 0 is scored on the initial images, before the first update
    assert_close(result.history[0], initial_scores)


def test_snapshots_at_zero_every_k_and_the_end() -> None:
    seeds = image_seeds(2)
    result = _run(obj.channel("conv", [0, 1]), seeds, steps=10, snapshot_every=4)
    assert [step for step, _ in result.snapshots] == [0, 4, 8, 10]
    assert all(images.shape == (2, 3, IMAGE_SIZE, IMAGE_SIZE) for _, images in result.snapshots)
    with torch.no_grad():
        initial = ImageParam(IMAGE_SIZE, seeds)()
    assert torch.equal(result.snapshots[0][1], initial)
    assert torch.equal(result.snapshots[-1][1], result.images)
    assert not torch.equal(result.snapshots[1][1], initial)


def test_snapshot_at_the_end_is_not_duplicated() -> None:
    result = _run(obj.channel("conv", 0), image_seeds(1), steps=8, snapshot_every=4)
    assert [step for step, _ in result.snapshots] == [0, 4, 8]


def test_on_step_counts_steps() -> None:
    seen: list[int] = []
    _run(obj.channel("conv", 0), image_seeds(1), steps=5, on_step=seen.append)
    assert seen == [1, 2, 3, 4, 5]


def test_zero_steps_returns_the_initial_images() -> None:
    seeds = image_seeds(2)
    result = _run(obj.channel("conv", [0, 1]), seeds, steps=0)
    assert result.history.shape == (0, 2)
    with torch.no_grad():
        assert torch.equal(result.images, ImageParam(IMAGE_SIZE, seeds)())


@pytest.mark.parametrize("layer, units", [("conv", [0, 1]), ("fc", [0, 2])])
def test_optimizing_increases_the_objective(layer: str, units: list[int]) -> None:
    model, seeds = tiny_model(), image_seeds(2)
    objective = obj.channel(layer, units)
    image = ImageParam(IMAGE_SIZE, seeds)
    before = measure(model, objective, image().detach())
    result = optimize(model, objective, image, standard_transforms(IMAGE_SIZE), 20, lr=0.1)
    after = measure(model, objective, result.images)
    assert after.shape == (2,)
    assert bool((after > before + 0.02).all()), (before, after)
    assert bool((result.history[-1] > result.history[0]).all())


def test_negated_objective_decreases_the_activation() -> None:
    model, seeds = tiny_model(), image_seeds(1)
    target = obj.channel("conv", 0)
    image = ImageParam(IMAGE_SIZE, seeds)
    before = measure(model, target, image().detach())
    result = optimize(model, -target, image, standard_transforms(IMAGE_SIZE), 20, lr=0.1)
    assert float(measure(model, target, result.images)) < float(before) - 0.02


def test_packing_independence() -> None:
    """Units [0, 1] optimized together = each optimized alone, with the same
    per-image init and transform seeds."""
    seeds = image_seeds(2)
    together = _run(obj.channel("conv", [0, 1]), seeds)
    alone_0 = _run(obj.channel("conv", 0), seeds[:1])
    alone_1 = _run(obj.channel("conv", 1), seeds[1:])
    assert_close(together.images[0:1], alone_0.images, rtol=0, atol=1e-5)
    assert_close(together.images[1:2], alone_1.images, rtol=0, atol=1e-5)
    assert_close(together.history[:, 0:1], alone_0.history, rtol=0, atol=1e-5)
    assert_close(together.history[:, 1:2], alone_1.history, rtol=0, atol=1e-5)
    # and the two units really do pull their images apart
    assert not torch.allclose(alone_0.images, alone_1.images, atol=1e-3)


def test_packing_independence_with_on_images_pieces() -> None:
    """A packed batch of different objectives (as the pipeline builds) = each alone."""
    seeds = image_seeds(3)
    conv_piece = obj.channel("conv", [1, 0]).on_images(0, 2)
    fc_piece = obj.channel("fc", 2).on_images(2, 3)
    together = _run(conv_piece + fc_piece - 0.05 * obj.total_variation(), seeds)
    alone_conv = _run(obj.channel("conv", [1, 0]) - 0.05 * obj.total_variation(), seeds[:2])
    alone_fc = _run(obj.channel("fc", 2) - 0.05 * obj.total_variation(), seeds[2:])
    assert_close(together.images[:2], alone_conv.images, rtol=0, atol=1e-5)
    assert_close(together.images[2:], alone_fc.images, rtol=0, atol=1e-5)


def test_measure_returns_exact_per_image_scores() -> None:
    model = tiny_model()
    images = torch.rand(3, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(SEED))
    scores = measure(model, obj.channel("conv", [0, 1, 1]), images)
    conv = model.conv(images).detach()
    expected = torch.stack([conv[0, 0].mean(), conv[1, 1].mean(), conv[2, 1].mean()])
    assert scores.shape == (3,)
    assert not scores.requires_grad
    assert_close(scores, expected)
    # the fc logits, through the whole model
    assert_close(measure(model, obj.channel("fc", 2), images), model(images)[:, 2].detach())


def test_measure_image_only_objective() -> None:
    model = tiny_model()
    grey = torch.full((2, 3, IMAGE_SIZE, IMAGE_SIZE), 0.5)
    assert_close(measure(model, obj.l2() + obj.total_variation(), grey), torch.zeros(2))


def test_preprocess_is_applied_before_the_model() -> None:
    model = tiny_model()
    images = torch.rand(2, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(SEED))

    class Double(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 2 * x

    plain = measure(model, obj.channel("conv", 0), images)
    doubled = measure(model, obj.channel("conv", 0), images, preprocess=Double())
    assert_close(doubled, 2 * plain)  # conv 0 is linear with zero bias


def test_no_hooks_remain_and_parameters_keep_requires_grad() -> None:
    model = tiny_model().train()
    model.fc.bias.requires_grad_(False)
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    _run(obj.channel("conv", 0) + obj.channel("fc", 1), image_seeds(1), model=model)
    measure(model, obj.channel("fc", 0), torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE))
    assert no_hooks_left(model)
    assert {name: p.requires_grad for name, p in model.named_parameters()} == flags
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_no_hooks_remain_when_the_objective_raises() -> None:
    model = tiny_model()
    with pytest.raises(ValueError, match="3 units given for a batch of 2"):
        _run(obj.channel("conv", [0, 1, 0]), image_seeds(2), model=model)
    assert no_hooks_left(model)
    assert all(p.requires_grad for p in model.parameters())


def test_template_dicts_read_keys_first_and_keep_their_methods() -> None:
    from atlas.site.render import make_environment

    env = make_environment()
    template = env.from_string("{{ a.title }} {% for k, v in b.items() %}{{ k }}={{ v }}{% endfor %}")
    assert template.render(a={"title": "x<"}, b={"k": 1}) == "x&lt; k=1"
