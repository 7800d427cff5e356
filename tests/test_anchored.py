"""Feature accentuation's anchored images and the caricature objective, on tiny
models: an accentuated image starts at its real image, never moves further than
its radius, and excites its unit more; a caricature scores 1 on its own image."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from atlas.optvis import objectives as obj
from atlas.optvis.anchored import AnchoredImage, accent, closeness, distance
from atlas.optvis.caricature import COSINE_FLOOR, caricature
from atlas.optvis.objectives import INPUT
from atlas.optvis.render import optimize
from atlas.optvis.transforms import no_transforms


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 3)).eval()


def _anchors() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.rand(3, 3, 16, 16)


@pytest.mark.parametrize("param", ["fourier", "pixel", "maco"])
def test_an_anchored_image_starts_at_its_real_image(param: str) -> None:
    anchors = _anchors()
    image = AnchoredImage(anchors, 0.05, seeds=[1, 2, 3], param=param)
    assert torch.equal(image(), anchors)


@pytest.mark.parametrize("param", ["fourier", "pixel"])
def test_accentuation_excites_the_unit_and_stays_within_its_radius(param: str) -> None:
    model, anchors, radius = _model(), _anchors(), 0.04
    units = [0, 1, 2]
    target = obj.channel("2", units)
    image = AnchoredImage(anchors, radius, seeds=[1, 2, 3], param=param)
    result = optimize(model, accent(target, anchors, weight=1.0), image, no_transforms(16),
                      steps=40, lr=0.5)  # a large step: the radius must hold anyway
    moved = distance(result.images, anchors)
    assert (moved <= radius + 1e-6).all() and (moved > radius / 4).all()
    with torch.no_grad():
        before = model(anchors)[torch.arange(3), torch.tensor(units)].mean((1, 2))
        after = model(result.images)[torch.arange(3), torch.tensor(units)].mean((1, 2))
    assert (after > before).all()


def test_closeness_is_the_mean_squared_change() -> None:
    anchors = torch.zeros(2, 3, 2, 2)
    images = torch.zeros(2, 3, 2, 2)
    images[0, 0, 0, 0] = 0.6  # one of 12 values changed by 0.6
    assert closeness(anchors)({INPUT: images}).tolist() == pytest.approx([0.36 / 12, 0.0])
    assert distance(images, anchors).tolist() == pytest.approx([(0.36 / 12) ** 0.5, 0.0])


def test_the_radius_must_be_positive_and_anchors_square_images() -> None:
    with pytest.raises(ValueError, match="radius"):
        AnchoredImage(_anchors(), 0.0, seeds=[1, 2, 3])
    with pytest.raises(ValueError, match="anchors"):
        AnchoredImage(torch.rand(1, 3, 8, 9), 0.1, seeds=[1])


def test_a_caricature_scores_its_real_image_1_and_more_for_a_stronger_pattern() -> None:
    targets = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]])
    score = caricature("layer", targets)
    assert score({"layer": targets}).tolist() == pytest.approx([1.0, 1.0])
    assert score({"layer": 2 * targets}).tolist() == pytest.approx([2.0, 2.0])
    orthogonal = torch.tensor([[2.0, -1.0, 0.0], [1.0, 0.0, 0.0]])
    assert score({"layer": orthogonal}).tolist() == pytest.approx([0.0, 0.0])
    assert score({"layer": -targets}).tolist() == pytest.approx([-COSINE_FLOOR] * 2)


def test_optimizing_a_caricature_amplifies_the_real_images_pattern() -> None:
    from atlas.optvis.param import ImageParam

    model, real = _model(), _anchors()
    with torch.no_grad():
        targets = model(real)
    objective = caricature("2", targets)
    from atlas.optvis.hooks import capture

    result = optimize(model, objective, ImageParam(16, [4, 5, 6], "fourier"), no_transforms(16),
                      steps=60, lr=0.05)
    with torch.no_grad(), capture(model, ["2"]) as run:
        reached = objective(run(result.images))
    assert (reached > 1.0).all()  # beyond the real image along its own pattern
