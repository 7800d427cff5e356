"""Receptive fields measured from gradient footprints, checked against fields
worked out by hand, and the crops they give."""

from __future__ import annotations

import pytest
import torch
from engine_helpers import no_hooks_left
from torch import nn

from atlas.models.colored_digits import ColoredDigitsCNN
from atlas.models.receptive_field import ReceptiveField, crop, crop_box, receptive_field


def positive(model: nn.Module) -> nn.Module:
    """Weights in [0.1, 1]: every path carries gradient, so no ReLU or sign
    cancellation can hide part of a footprint."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.uniform_(0.1, 1.0)
    return model


def field_of(model: nn.Module, layer: str, size: int = 16, preprocess=None) -> ReceptiveField:
    return receptive_field(model, preprocess, layer, size)


def test_one_5x5_conv() -> None:
    model = positive(nn.Sequential(nn.Conv2d(3, 4, 5, padding=2)))
    field = field_of(model, "0")
    # Output p reads inputs p-2..p+2 (padding 2): size 5, centred on p itself.
    assert field == ReceptiveField((5, 5), (1.0, 1.0), (0.0, 0.0), 16, whole_image=False)


def test_two_3x3_convs_grow_by_two() -> None:
    model = positive(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, padding=1)))
    assert field_of(model, "1").size == (5, 5)  # 3 + (3 - 1) * 1
    assert field_of(model, "0").size == (3, 3)


def test_stride_two_then_3x3() -> None:
    model = positive(nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(),
                                   nn.Conv2d(4, 4, 3, padding=1)))
    field = field_of(model, "2")
    # conv0: q reads 2q-1..2q+1; conv2: p reads q = p-1..p+1, so inputs 2p-3..2p+3.
    assert field.size == (7, 7)
    assert field.stride == (2.0, 2.0)
    assert field.offset == (0.0, 0.0)


def test_conv_pool_conv() -> None:
    model = positive(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.MaxPool2d(2),
                                   nn.Conv2d(4, 4, 3, padding=1)))
    field = field_of(model, "2")
    # conv0: q reads q-1..q+1. pool: m takes q = 2m, 2m+1, so inputs 2m-1..2m+2 (4 wide,
    # stride 2). conv2: p takes m = p-1..p+1, so inputs 2(p-1)-1..2(p+1)+2 = 2p-3..2p+4:
    # size 8, stride 2, centre 2p + 0.5.
    assert field.size == (8, 8)
    assert field.stride == (2.0, 2.0)
    assert field.offset == (0.5, 0.5)


def test_non_square_kernel_and_stride() -> None:
    model = positive(nn.Sequential(nn.Conv2d(3, 2, (3, 5), stride=(1, 2), padding=(1, 2))))
    field = field_of(model, "0")
    assert field.size == (3, 5)
    assert field.stride == (1.0, 2.0)
    assert field.offset == (0.0, 0.0)


def test_field_larger_than_the_image_is_still_measured() -> None:
    # Three 5x5 convs: 13 wide, but at 8 px every footprint is clipped on one side or
    # both; the unclipped edges at the first and last positions still give 13.
    model = positive(nn.Sequential(*(nn.Conv2d(3, 3, 5, padding=2) for _ in range(3))))
    field = field_of(model, "2", size=8)
    assert field.size == (13, 13)
    assert field.offset == (0.0, 0.0)
    assert crop_box(field, (3, 3)) == (0, 0, 8, 8)


def test_preprocess_is_part_of_the_field() -> None:
    blur = positive(nn.Conv2d(3, 3, 3, padding=1))
    model = positive(nn.Sequential(nn.Conv2d(3, 4, 5, padding=2)))
    assert field_of(model, "0", preprocess=blur).size == (7, 7)  # 5 + (3 - 1)


def test_linear_head_is_whole_image() -> None:
    model = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 8 * 8, 5))
    field = field_of(model, "2", size=8)
    assert field.whole_image
    assert crop_box(field, (1, 1)) == (0, 0, 8, 8)


def test_colored_digits_cnn_at_28() -> None:
    model = ColoredDigitsCNN()  # random weights: ReLUs and max-pools as in real use
    fields = {layer: receptive_field(model, None, layer, 28) for layer in
              ("conv1", "conv2", "conv3", "fc")}
    # conv1 5x5 pad 2: p reads p-2..p+2.
    assert fields["conv1"] == ReceptiveField((5, 5), (1.0, 1.0), (0.0, 0.0), 28, False)
    # pool1 (2): m reads 2m-2..2m+3 (6 wide, stride 2); conv2 3x3 pad 1 takes m = p-1..p+1:
    # 2p-4..2p+5, size 6 + (3 - 1) * 2 = 10, centre 2p + 0.5.
    assert fields["conv2"] == ReceptiveField((10, 10), (2.0, 2.0), (0.5, 0.5), 28, False)
    # pool2 (2): n reads conv2 at 2n, 2n+1: 4n-4..4n+7 (12 wide, stride 4); conv3 3x3 pad 1
    # takes n = p-1..p+1: 4p-8..4p+11, size 12 + (3 - 1) * 4 = 20, centre 4p + 1.5.
    assert fields["conv3"] == ReceptiveField((20, 20), (4.0, 4.0), (1.5, 1.5), 28, False)
    assert fields["fc"].whole_image


def test_measuring_leaves_the_model_as_it_was() -> None:
    model = ColoredDigitsCNN()
    model.train()
    model.conv2.eval()
    model.conv1.weight.requires_grad_(False)
    receptive_field(model, None, "conv3", 28)
    assert all(parameter.grad is None for parameter in model.parameters())
    assert model.training and model.conv1.training and not model.conv2.training
    assert not model.conv1.weight.requires_grad and model.conv3.weight.requires_grad
    assert no_hooks_left(model)


def test_works_inside_no_grad() -> None:
    model = positive(nn.Sequential(nn.Conv2d(3, 4, 5, padding=2)))
    with torch.no_grad():
        assert field_of(model, "0").size == (5, 5)


FIELD = ReceptiveField((5, 5), (2.0, 2.0), (0.0, 0.0), 16, whole_image=False)


@pytest.mark.parametrize("position, box", [
    ((4, 3), (6, 4, 5, 5)),  # centre (8, 6): rows 6..10, columns 4..8
    ((0, 0), (0, 0, 5, 5)),  # centre (0, 0) would start at -2: shifted inside
    ((7, 0), (11, 0, 5, 5)),  # centre row 14 would end at 16: shifted up to end at 15
    (None, (0, 0, 16, 16)),
])
def test_crop_box_centres_and_shifts_inside(position, box) -> None:
    assert crop_box(FIELD, position) == box


def test_crop_box_even_size_rounds_half_up() -> None:
    field = ReceptiveField((10, 10), (2.0, 2.0), (0.5, 0.5), 28, whole_image=False)
    assert crop_box(field, (5, 5)) == (6, 6, 10, 10)  # inputs 2p-4..2p+5 for p = 5


def test_crop_box_larger_than_the_image_is_the_whole_image() -> None:
    field = ReceptiveField((40, 20), (4.0, 4.0), (1.5, 1.5), 28, whole_image=False)
    assert crop_box(field, (3, 3)) == (0, 4, 28, 20)


def test_crop_returns_exact_pixel_slices() -> None:
    images = torch.arange(2 * 3 * 16 * 16, dtype=torch.float32).view(2, 3, 16, 16)
    crops = crop(images, FIELD, [(4, 3), None])
    assert crops[0].shape == (3, 5, 5)
    assert torch.equal(crops[0], images[0, :, 6:11, 4:9])
    assert torch.equal(crops[1], images[1])
    crops[0].zero_()
    assert images[0, 0, 6, 4] != 0  # a copy, not a view of the batch
