"""Layers clamped at a floor: the final clamp found where it is a module, and the
pre-activation it receives captured, in place or not, with gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from atlas.models.floors import (Floor, PreActivation, final_clamp, pre_activation, pre_layer,
                                 pre_sources)


def _model(clamp: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.Sequential(nn.Conv2d(4, 5, 1), nn.BatchNorm2d(5), clamp),  # Conv2dNormActivation
        nn.Conv2d(5, 2, 1),
    ).eval()


@pytest.mark.parametrize("clamp, floor", [
    (nn.ReLU(), 0.0), (nn.ReLU(inplace=True), 0.0), (nn.ReLU6(), 0.0),
    (nn.ReLU6(inplace=True), 0.0), (nn.Hardtanh(0.0, 6.0), 0.0)])
def test_the_clamp_at_the_end_of_a_block_is_found(clamp: nn.Module, floor: float) -> None:
    model = _model(clamp)
    assert final_clamp(model, "1") == Floor("1.2", floor)
    assert final_clamp(model, "1.2") == Floor("1.2", floor)  # the clamp as the layer


def test_a_layer_without_a_clamp_has_no_floor() -> None:
    model = _model(nn.ReLU())
    assert final_clamp(model, "0") is None and final_clamp(model, "2") is None
    assert final_clamp(model, "1.1") is None  # the batch norm before the clamp
    assert final_clamp(nn.Sequential(nn.Conv2d(3, 3, 1), nn.Hardtanh(-1.0, 1.0)), "1") is None


def test_nested_sequentials_are_followed_to_their_last_module() -> None:
    model = nn.Sequential(nn.Sequential(nn.Conv2d(3, 3, 1), nn.Sequential(nn.ReLU6())))
    assert final_clamp(model, "0") == Floor("0.1.0", 0.0)


@pytest.mark.parametrize("inplace", [False, True])
def test_the_pre_activation_is_the_clamps_input_with_its_negative_values(inplace: bool) -> None:
    model = _model(nn.ReLU(inplace=inplace))
    image = torch.randn(2, 3, 8, 8, requires_grad=True)
    block = model[1]
    expected = block[1](block[0](model[0](image))).detach()  # before the clamp
    with pre_activation(model, final_clamp(model, "1")) as found:
        output = model(image)
    pre = found["pre"]
    assert torch.equal(pre.detach(), expected) and (pre < 0).any()
    assert torch.equal(output.detach(), model(image).detach())  # the model computes the same
    (pre.min()).backward()  # the negative view's objective reaches the image
    assert image.grad is not None and image.grad.abs().sum() > 0


def test_the_hook_is_gone_after_the_block() -> None:
    model = _model(nn.ReLU())
    with pre_activation(model, final_clamp(model, "1")) as found:
        pass
    model(torch.randn(1, 3, 8, 8))
    assert found == {}


def test_the_pre_activation_is_the_module_before_the_clamp_where_there_is_one() -> None:
    model = _model(nn.ReLU6(inplace=True))
    assert pre_layer(model, final_clamp(model, "1")) == "1.1"  # the batch norm
    alone = nn.Sequential(nn.ReLU())
    assert pre_layer(alone, final_clamp(alone, "0")) is None  # first in its Sequential


def test_pre_sources_of_a_block_and_of_concatenated_relu_branches() -> None:
    model = _model(nn.ReLU6(inplace=True))
    assert pre_sources(model, "1") == PreActivation(("1.1",), 0.0, True)
    assert pre_sources(model, "2") is None  # no clamp: as it always was

    class Mixed(nn.Module):
        """InceptionV1's pattern in torch-lucent: relu'd branches, concatenated."""

        def __init__(self) -> None:
            super().__init__()
            for suffix, out in (("1x1", 2), ("3x3", 3), ("5x5", 1), ("pool_reduce", 2)):
                setattr(self, f"mixed_{suffix}_pre_relu_conv", nn.Conv2d(3, out, 1))
            self.mixed = nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            branches = [getattr(self, f"mixed_{suffix}_pre_relu_conv")(x)
                        for suffix in ("1x1", "3x3", "5x5", "pool_reduce")]
            return self.mixed(torch.cat([torch.relu(b) for b in branches], dim=1))

    found = pre_sources(Mixed(), "mixed")
    assert found == PreActivation(("mixed_1x1_pre_relu_conv", "mixed_3x3_pre_relu_conv",
                                   "mixed_5x5_pre_relu_conv", "mixed_pool_reduce_pre_relu_conv"),
                                  0.0, False)


def test_a_capture_running_past_an_in_place_clamp_keeps_the_pre_activation() -> None:
    from atlas.models.floors import pre_tensor
    from atlas.optvis.hooks import capture

    model = _model(nn.ReLU6(inplace=True))
    source = pre_sources(model, "1")
    image = torch.randn(2, 3, 8, 8)
    with torch.no_grad(), capture(model, ["1", *source.modules]) as run:
        overwritten = run(image)["1.1"]
    assert overwritten.min() >= 0  # the in-place clamp ran over the captured tensor
    with torch.no_grad(), capture(model, ["1", *source.modules], copied=source.modules) as run:
        acts = run(image)
    pre = pre_tensor(acts, source)
    assert pre.min() < 0 and torch.equal(pre.clamp(0, 6), acts["1"])
