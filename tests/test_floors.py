"""Layers clamped at a floor: their pre-activation found (a clamp module at the
end of a block, a ResNet-style block, a functional relu, concatenated relu'd
branches), captured in place or not, with gradients, the model computing the same."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from atlas.models.floors import Floor, NoPreActivation, find_floor, pre_name, split_pre
from atlas.optvis.hooks import capture


def _model(clamp: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3),
        nn.Sequential(nn.Conv2d(4, 5, 1), nn.BatchNorm2d(5), clamp),  # Conv2dNormActivation
        nn.Conv2d(5, 2, 1),
    ).eval()


class _Block(nn.Module):
    """A ResNet basic block: one ReLU module called twice, the block ending in relu(out + x)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 3, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.conv1(x)))
        out += x
        return self.relu(out)


class _FunctionalRelu(nn.Module):  # torch-lucent's ReluLayer
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(x)


class _Mixed(nn.Module):
    """An InceptionV1 mixed layer as torch-lucent writes it: relu per branch, then cat."""

    def __init__(self) -> None:
        super().__init__()
        self.m_1x1_pre_relu_conv = nn.Conv2d(3, 2, 1)
        self.m_3x3_pre_relu_conv = nn.Conv2d(3, 3, 3, padding=1)
        self.m_5x5_pre_relu_conv = nn.Conv2d(3, 1, 5, padding=2)
        self.m_pool_reduce_pre_relu_conv = nn.Conv2d(3, 2, 1)
        self.m = _Cat()
        self.after = nn.Conv2d(8, 1, 1)

    def branches(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.m_1x1_pre_relu_conv(x), self.m_3x3_pre_relu_conv(x),
                self.m_5x5_pre_relu_conv(x), self.m_pool_reduce_pre_relu_conv(x)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after(self.m([F.relu(branch) for branch in self.branches(x)]))


class _Cat(nn.Module):
    def forward(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(tensors, 1)


def _image(channels: int = 3) -> torch.Tensor:
    torch.manual_seed(1)
    return torch.randn(2, channels, 8, 8, requires_grad=True)


def test_a_pre_activation_name_names_its_layer() -> None:
    assert split_pre(pre_name("features.13.conv.0")) == ("features.13.conv.0", True)
    assert split_pre("features.13.conv.0") == ("features.13.conv.0", False)


CLAMPS = [(nn.ReLU(), 6.0), (nn.ReLU(inplace=True), 6.0), (nn.ReLU6(), 6.0),
          (nn.ReLU6(inplace=True), 6.0), (nn.Hardtanh(0.0, 6.0), 6.0)]


@pytest.mark.parametrize("clamp", [clamp for clamp, _ in CLAMPS],
                         ids=["relu", "relu-inplace", "relu6", "relu6-inplace", "hardtanh"])
def test_the_pre_activation_of_a_block_is_its_clamps_input_with_negative_values(
        clamp: nn.Module) -> None:
    model, image = _model(clamp), _image()
    block = model[1]
    expected = block[1](block[0](model[0](image))).detach()  # the batch norm's output
    with capture(model, ["1", pre_name("1")]) as run:
        acts = run(image)
    pre, post = acts[pre_name("1")], acts["1"]
    assert torch.equal(pre.detach(), expected) and (pre < 0).any()
    assert torch.equal(post.detach(), clamp(expected.clone()))  # the model computes the same
    pre.min().backward()  # the negative view's objective reaches the image
    assert image.grad is not None and image.grad.abs().sum() > 0
    assert find_floor(model, "1", image.detach()) == Floor(
        0.0, f"the input of {type(clamp).__name__} 1.2")


def test_the_clamp_chosen_as_the_layer_gives_its_own_input() -> None:
    model, image = _model(nn.ReLU6(inplace=True)), _image()
    block = model[1]
    expected = block[1](block[0](model[0](image))).detach()
    with torch.no_grad(), capture(model, [pre_name("1.2")]) as run:
        assert torch.equal(run(image)[pre_name("1.2")], expected)


def test_a_resnet_block_gives_the_sum_before_its_last_relu() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(_Block(), nn.Conv2d(3, 1, 1)).eval()
    image = _image()
    block = model[0]
    with torch.no_grad():
        expected = block.conv2(torch.relu(block.conv1(image))) + image
    with torch.no_grad(), capture(model, ["0", pre_name("0")]) as run:
        acts = run(image)
    assert torch.equal(acts[pre_name("0")], expected) and (expected < 0).any()
    assert torch.equal(acts["0"], expected.clamp(min=0))
    assert find_floor(model, "0", image.detach()) == Floor(0.0, "the input of ReLU 0.relu")


def test_a_functional_relu_layer_gives_its_input() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), _FunctionalRelu(), nn.Conv2d(4, 1, 1)).eval()
    image = _image()
    with capture(model, [pre_name("1")]) as run:
        pre = run(image)[pre_name("1")]
    assert torch.equal(pre.detach(), model[0](image).detach())
    pre.min().backward()
    assert image.grad.abs().sum() > 0
    assert find_floor(model, "1", image.detach()) == Floor(
        0.0, "the input of 1, which clamps it at 0")


def test_concatenated_relu_branches_give_their_convolutions_in_order() -> None:
    torch.manual_seed(0)
    model, image = _Mixed().eval(), _image()
    with torch.no_grad():
        expected = torch.cat(model.branches(image), 1)
        with capture(model, ["m", pre_name("m")]) as run:
            acts = run(image)
    assert torch.equal(acts[pre_name("m")], expected)
    assert torch.equal(acts["m"], expected.clamp(min=0))  # relu of the concatenation is the layer
    assert find_floor(model, "m", image.detach()).value == 0.0


def test_a_layer_without_a_clamp_has_none() -> None:
    model, image = _model(nn.ReLU()), _image().detach()
    assert find_floor(model, "0", image) is None  # a convolution
    assert find_floor(model, "1.1", image) is None  # the batch norm before the clamp
    assert find_floor(model, "2", image) is None
    with pytest.raises(NoPreActivation), capture(model, [pre_name("0")]) as run:
        run(image)
    negative_floor = nn.Sequential(nn.Conv2d(3, 3, 1), nn.Hardtanh(-1.0, 1.0))
    assert find_floor(negative_floor, "1", image) is None


def test_no_hook_is_left_behind() -> None:
    model, image = _model(nn.ReLU(inplace=True)), _image().detach()
    find_floor(model, "1", image)
    with capture(model, [pre_name("1")]) as run:
        run(image)
    assert all(not module._forward_hooks and not module._forward_pre_hooks
               for module in model.modules())
    assert model.training is False


def test_the_forward_stops_once_the_pre_activation_is_captured() -> None:
    model, image = _model(nn.ReLU()), _image().detach()
    reached = []
    model[2].register_forward_hook(lambda *args: reached.append(True))
    with capture(model, [pre_name("1")]) as run:
        run(image)
    assert not reached
