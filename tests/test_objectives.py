"""Objectives on hand-made activations, with expected numbers worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch.testing import assert_close

from atlas.optvis import objectives as obj
from atlas.optvis.objectives import INPUT, Term, parse_terms


def _conv_acts() -> torch.Tensor:
    """(2, 3, 3, 3): channel 1 of each image holds a small pattern, the rest are constants."""
    t = torch.zeros(2, 3, 3, 3)
    t[:, 0] = torch.tensor([1.0, 2.0]).view(2, 1, 1)  # channel 0: constant 1 / 2
    t[0, 1] = torch.tensor([[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 3.0]])
    t[1, 1] = torch.tensor([[6.0, 0.0, 0.0], [0.0, -3.0, 0.0], [0.0, 0.0, 0.0]])
    t[:, 2] = torch.arange(9.0).view(3, 3)  # channel 2: 0..8 in both images
    return t


def _fc_acts() -> torch.Tensor:
    """(2, 3) linear outputs."""
    return torch.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])


def _acts() -> dict[str, torch.Tensor]:
    return {"conv": _conv_acts(), "fc": _fc_acts()}


def _scores(objective: obj.Objective, acts: dict | None = None) -> torch.Tensor:
    return objective(acts if acts is not None else _acts())


# --- primitives on conv (N, C, H, W) ---------------------------------------------


def test_channel_conv() -> None:
    assert_close(_scores(obj.channel("conv", 0)), torch.tensor([1.0, 2.0]))
    assert_close(_scores(obj.channel("conv", 1)), torch.tensor([12.0 / 9.0, 3.0 / 9.0]))
    assert_close(_scores(obj.channel("conv", 2)), torch.tensor([4.0, 4.0]))


def test_channel_conv_per_image_units() -> None:
    assert_close(_scores(obj.channel("conv", [2, 0])), torch.tensor([4.0, 2.0]))
    assert_close(_scores(obj.channel("conv", (1, 1))), torch.tensor([12.0 / 9.0, 3.0 / 9.0]))


def test_channel_descriptions() -> None:
    assert obj.channel("conv", 3).description == "channel(conv, 3)"
    assert obj.channel("conv", [3, 4]).description == "channel(conv, [3, 4])"
    assert obj.channel("conv", range(10)).description == "channel(conv, [0…9] (10 images))"
    assert obj.channel("conv", 3).layers == frozenset({"conv"})


def test_per_image_units_must_match_the_batch() -> None:
    with pytest.raises(ValueError, match="3 units given for a batch of 2"):
        _scores(obj.channel("conv", [0, 1, 2]))


def test_neuron_default_is_the_centre() -> None:
    assert_close(_scores(obj.neuron("conv", 1)), torch.tensor([9.0, -3.0]))
    assert_close(_scores(obj.neuron("conv", 2)), torch.tensor([4.0, 4.0]))


def test_neuron_centre_of_an_even_map() -> None:
    t = torch.arange(16.0).view(1, 1, 4, 4)  # centre is (2, 2) -> 10
    assert_close(obj.neuron("x", 0)({"x": t}), torch.tensor([10.0]))


def test_neuron_explicit_positions_per_image() -> None:
    # image 0 at (2, 2) -> 3; image 1 at (0, 0) -> 6
    assert_close(_scores(obj.neuron("conv", 1, y=[2, 0], x=[2, 0])), torch.tensor([3.0, 6.0]))
    # one position for all; channel 2 holds row * 3 + column
    assert_close(_scores(obj.neuron("conv", 2, y=2, x=1)), torch.tensor([7.0, 7.0]))
    # per-image units and positions together
    assert_close(
        _scores(obj.neuron("conv", [2, 1], y=[0, 1], x=[2, 1])), torch.tensor([2.0, -3.0])
    )


def test_neuron_one_coordinate_given_other_defaults_to_centre() -> None:
    # y given, x defaults to the centre column; channel 2 holds row * 3 + column
    only_y = obj.neuron("conv", 2, y=0)
    assert_close(_scores(only_y), torch.tensor([1.0, 1.0]))
    assert only_y.description == "neuron(conv, 2, y=0, x=centre)"
    assert_close(_scores(obj.neuron("conv", 2, x=[0, 2])), torch.tensor([3.0, 5.0]))


def test_neuron_descriptions() -> None:
    assert obj.neuron("conv", 1).description == "neuron(conv, 1, centre)"
    assert obj.neuron("conv", [1, 2], y=[0, 1], x=2).description == (
        "neuron(conv, [1, 2], y=[0, 1], x=2)"
    )


def test_top_k() -> None:
    assert_close(_scores(obj.top_k("conv", 1, k=2)), torch.tensor([6.0, 3.0]))
    assert_close(_scores(obj.top_k("conv", 1, k=1)), torch.tensor([9.0, 6.0]))
    # k larger than the number of positions: mean of all of them
    assert_close(_scores(obj.top_k("conv", 2, k=100)), torch.tensor([4.0, 4.0]))


# --- primitives on linear (N, C) ---------------------------------------------------


def test_channel_linear() -> None:
    assert_close(_scores(obj.channel("fc", 2)), torch.tensor([3.0, -6.0]))
    assert_close(_scores(obj.channel("fc", [0, 1])), torch.tensor([1.0, 5.0]))


def test_neuron_linear_is_the_unit_itself() -> None:
    assert_close(_scores(obj.neuron("fc", 1)), torch.tensor([-2.0, 5.0]))
    assert_close(_scores(obj.neuron("fc", [2, 0], y=[0, 0], x=[0, 0])), torch.tensor([3.0, 4.0]))


def test_top_k_linear_is_the_unit_itself() -> None:
    assert_close(_scores(obj.top_k("fc", 0, k=3)), torch.tensor([1.0, 4.0]))


def test_class_conditional() -> None:
    objective = obj.class_conditional(obj.channel("conv", 0), "fc", 2, weight=0.5)
    assert_close(_scores(objective), torch.tensor([1.0 + 1.5, 2.0 - 3.0]))
    assert objective.layers == frozenset({"conv", "fc"})
    assert objective.description == "(channel(conv, 0) + 0.5 * channel(fc, 2))"


def test_class_conditional_default_weight() -> None:
    objective = obj.class_conditional(obj.channel("fc", 0), "fc", 1)
    assert_close(_scores(objective), torch.tensor([1.0 - 0.2, 4.0 + 0.5]))


# --- image objectives --------------------------------------------------------------


def test_total_variation() -> None:
    image = torch.tensor([[0.0, 1.0], [3.0, 5.0]]).view(1, 1, 2, 2)
    # vertical |3-0|, |5-1| -> mean 3.5; horizontal |1-0|, |5-3| -> mean 1.5
    tv = obj.total_variation()
    assert_close(tv({INPUT: image}), torch.tensor([5.0]))
    assert tv.layers == frozenset()
    assert tv.description == "tv"


def test_total_variation_per_image() -> None:
    images = torch.zeros(2, 3, 4, 4)
    images[1, :, :, 2:] = 1.0  # one vertical edge: dx mean = 4 / 12, dy = 0
    assert_close(obj.total_variation()({INPUT: images}), torch.tensor([0.0, 1.0 / 3.0]))


def test_l2() -> None:
    image = torch.tensor([[0.0, 1.0], [3.0, 5.0]]).view(1, 1, 2, 2)
    # (x - 0.5)^2: 0.25, 0.25, 6.25, 20.25 -> mean 6.75
    assert_close(obj.l2()({INPUT: image}), torch.tensor([6.75]))
    grey = torch.full((2, 3, 4, 4), 0.5)
    assert_close(obj.l2()({INPUT: grey}), torch.zeros(2))


# --- algebra -----------------------------------------------------------------------


A = obj.channel("fc", 0)  # [1, 4]
B = obj.channel("fc", 1)  # [-2, 5]


@pytest.mark.parametrize(
    ("objective", "expected", "description"),
    [
        (A + B, [-1.0, 9.0], "(channel(fc, 0) + channel(fc, 1))"),
        (A - B, [3.0, -1.0], "(channel(fc, 0) - channel(fc, 1))"),
        (2 * A, [2.0, 8.0], "2 * channel(fc, 0)"),
        (A * 2, [2.0, 8.0], "2 * channel(fc, 0)"),
        (0.5 * A - B, [2.5, -3.0], "(0.5 * channel(fc, 0) - channel(fc, 1))"),
        (A / 4, [0.25, 1.0], "0.25 * channel(fc, 0)"),
        (-A, [-1.0, -4.0], "-channel(fc, 0)"),
        (A + 1, [2.0, 5.0], "(channel(fc, 0) + 1)"),
        (3 + A, [4.0, 7.0], "(channel(fc, 0) + 3)"),
        (A - 1.5, [-0.5, 2.5], "(channel(fc, 0) - 1.5)"),
        (1 - A, [0.0, -3.0], "(-channel(fc, 0) + 1)"),
        (sum([A, B]), [-1.0, 9.0], "(channel(fc, 0) + channel(fc, 1))"),
        (sum([A, B], 0), [-1.0, 9.0], "(channel(fc, 0) + channel(fc, 1))"),
        (0 + A, [1.0, 4.0], "channel(fc, 0)"),
    ],
)
def test_algebra_values_and_descriptions(
    objective: obj.Objective, expected: list[float], description: str
) -> None:
    assert_close(_scores(objective), torch.tensor(expected))
    assert objective.description == description
    assert repr(objective) == description


def test_algebra_unions_layers() -> None:
    combined = obj.channel("conv", 0) - 0.1 * obj.channel("fc", 1) + obj.total_variation()
    assert combined.layers == frozenset({"conv", "fc"})
    assert_close(_scores(combined, {**_acts(), INPUT: torch.zeros(2, 3, 2, 2)}),
                 torch.tensor([1.0 + 0.2, 2.0 - 0.5]))


def test_algebra_rejects_non_numbers() -> None:
    with pytest.raises(TypeError):
        A * B  # noqa: B018
    with pytest.raises(TypeError):
        A + "x"  # noqa: B018
    with pytest.raises(TypeError):
        A / B  # noqa: B018


def test_algebra_is_differentiable() -> None:
    fc = _fc_acts().requires_grad_(True)
    (2 * A - B)({"fc": fc}).sum().backward()
    assert_close(fc.grad, torch.tensor([[2.0, -1.0, 0.0], [2.0, -1.0, 0.0]]))


# --- packing with on_images ----------------------------------------------------------


def test_on_images_scatters_into_its_slice() -> None:
    acts = {"fc": torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [4.0, 0.0]])}
    piece = obj.channel("fc", 0).on_images(1, 3)
    assert_close(piece(acts), torch.tensor([0.0, 2.0, 3.0, 0.0]))
    assert piece.description == "channel(fc, 0)@[1:3]"
    assert piece.layers == frozenset({"fc"})


def test_on_images_per_image_units_apply_to_the_slice() -> None:
    acts = {"fc": torch.arange(12.0).view(4, 3)}  # row r: 3r, 3r+1, 3r+2
    packed = obj.channel("fc", [2, 0]).on_images(0, 2) + obj.channel("fc", [1, 1]).on_images(2, 4)
    assert_close(packed(acts), torch.tensor([2.0, 3.0, 7.0, 10.0]))


def test_on_images_gradient_is_zero_outside_the_slice() -> None:
    conv = torch.ones(4, 2, 2, 2, requires_grad=True)
    obj.channel("conv", 1).on_images(2, 3)({"conv": conv}).sum().backward()
    expected = torch.zeros(4, 2, 2, 2)
    expected[2, 1] = 0.25
    assert torch.equal(conv.grad, expected)


def test_on_images_slices_the_input_image_too() -> None:
    images = torch.zeros(3, 1, 2, 2)
    images[1, 0, 0, 1] = 1.0
    piece = obj.total_variation().on_images(1, 2)
    assert_close(piece({INPUT: images, "fc": torch.zeros(3, 1)}), torch.tensor([0.0, 1.0, 0.0]))


# --- diversity ---------------------------------------------------------------------


def test_diversity_identical_images_score_minus_one() -> None:
    fc = torch.tensor([[1.0, 2.0, 3.0]]).repeat(4, 1)
    assert_close(obj.diversity("fc", 4)({"fc": fc}), torch.full((4,), -1.0))
    assert_close(obj.diversity("fc", 2)({"fc": fc}), torch.full((4,), -1.0))


def test_diversity_linear_groups() -> None:
    fc = torch.tensor([[1.0, 0.0], [3.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    # group 1: parallel (cos 1); group 2: orthogonal (cos 0)
    assert_close(obj.diversity("fc", 2)({"fc": fc}), torch.tensor([-1.0, -1.0, 0.0, 0.0]))
    # one group of 4: mean cosine to the other three
    assert_close(
        obj.diversity("fc", 4)({"fc": fc}),
        torch.tensor([-2.0 / 3.0, -2.0 / 3.0, -2.0 / 3.0, 0.0]),
    )


def test_diversity_linear_partial_similarity() -> None:
    fc = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    expected = -1.0 / math.sqrt(2.0)
    assert_close(obj.diversity("fc", 2)({"fc": fc}), torch.tensor([expected, expected]))


def test_diversity_conv_identical_and_orthogonal() -> None:
    conv = torch.zeros(4, 2, 3, 3)
    conv[0, 0] = conv[1, 0] = torch.rand(3, 3, generator=torch.Generator().manual_seed(0))
    conv[2, 0, 1, 1] = 1.0  # only channel 0 active: Gram has only [0, 0]
    conv[3, 1, 1, 1] = 1.0  # only channel 1 active: Gram has only [1, 1]
    scores = obj.diversity("conv", 2)({"conv": conv})
    assert_close(scores, torch.tensor([-1.0, -1.0, 0.0, 0.0]))


def test_diversity_conv_compares_style_not_position() -> None:
    conv = torch.zeros(2, 2, 3, 3)
    conv[0, :, 0, 0] = torch.tensor([1.0, 2.0])
    conv[1, :, 2, 2] = torch.tensor([3.0, 6.0])  # same channel mix, elsewhere, scaled
    assert_close(obj.diversity("conv", 2)({"conv": conv}), torch.tensor([-1.0, -1.0]))


def test_diversity_group_of_one_scores_zero() -> None:
    fc = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert_close(obj.diversity("fc", 1)({"fc": fc}), torch.zeros(2))


def test_diversity_batch_must_be_a_multiple_of_the_group() -> None:
    with pytest.raises(ValueError, match="batch of 3 is not a multiple of group size 2"):
        obj.diversity("fc", 2)({"fc": torch.ones(3, 2)})


def test_diversity_description_and_layers() -> None:
    div = obj.diversity("conv", 4)
    assert div.description == "diversity(conv, groups of 4)"
    assert div.layers == frozenset({"conv"})


def test_diversity_packed_with_on_images() -> None:
    fc = torch.tensor([[9.0, 9.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    piece = obj.diversity("fc", 2).on_images(1, 5)
    assert_close(piece({"fc": fc}), torch.tensor([0.0, -1.0, -1.0, -1.0, -1.0]))


# --- diverse: diversity scaled by the target's size --------------------------------


def test_diverse_scales_the_push_by_the_targets_size() -> None:
    fc = torch.tensor([[2.0, 0.0], [2.0, 0.0], [-3.0, 0.0], [-3.0, 0.0]])
    objective = obj.diverse(obj.channel("fc", 0), "fc", 2, weight=0.5)
    # target + 0.5 * max(target, 0) * (-1) for identical pairs; no push below zero
    assert_close(objective({"fc": fc}), torch.tensor([1.0, 1.0, -3.0, -3.0]))
    assert objective.layers == frozenset({"fc"})
    assert objective.description == "(channel(fc, 0) + 0.5·max(·,0)·diversity(fc, groups of 2))"


def test_diverse_keep_stops_pushing_images_that_fall_behind() -> None:
    objective = obj.diverse(obj.channel("fc", 0), "fc", 2, weight=0.5, keep=0.9)
    assert objective.description.endswith("groups of 2), keep 0.9)")
    first = torch.tensor([[10.0, 0.0], [10.0, 0.0]])
    for _ in range(obj.PLATEAU_STEPS):  # the group's best has not had time to stop climbing
        assert_close(objective({"fc": first}), torch.tensor([10.0, 10.0]))
    # Flat for PLATEAU_STEPS steps: both at the group's best are pushed.
    assert_close(objective({"fc": first}), torch.tensor([5.0, 5.0]))
    # Later the pair drops to 8 and 9.5: below 0.9 x the best so far (10), the
    # 8 is no longer pushed; the 9.5 still is.
    later = torch.tensor([[8.0, 0.0], [9.5, 0.0]])
    similarity = float(torch.nn.functional.cosine_similarity(later[0:1], later[1:2]))
    assert_close(objective({"fc": later}), torch.tensor([8.0, 9.5 - 0.5 * 9.5 * similarity]))


def test_diverse_waits_while_the_group_climbs() -> None:
    objective = obj.diverse(obj.channel("fc", 0), "fc", 2, weight=0.5, keep=0.9)
    for step in range(3 * obj.PLATEAU_STEPS):  # 10% more every step: never a plateau
        value = 1.1 ** step
        acts = torch.tensor([[value, 0.0], [value, 0.0]])
        assert_close(objective({"fc": acts}), torch.tensor([value, value]))


def test_diverse_pushes_only_within_its_steps() -> None:
    objective = obj.diverse(obj.channel("fc", 0), "fc", 2, weight=0.5, keep=0.9,
                            push_steps=(1, obj.PLATEAU_STEPS + 1))
    acts = torch.tensor([[10.0, 0.0], [10.0, 0.0]])
    scores = [objective({"fc": acts}) for _ in range(obj.PLATEAU_STEPS + 3)]
    assert_close(scores[obj.PLATEAU_STEPS], torch.tensor([5.0, 5.0]))  # the last push step
    assert_close(scores[-1], torch.tensor([10.0, 10.0]))  # after it, the target alone
    assert "push at steps 1-11" in objective.description


def test_a_diversity_score_moves_only_its_own_image() -> None:
    fc = torch.tensor([[3.0, 1.0], [1.0, 3.0]], requires_grad=True)
    obj.diversity("fc", 2)({"fc": fc})[1].backward()  # the second image's score only
    assert torch.equal(fc.grad[0], torch.zeros(2))
    assert float(fc.grad[1].abs().sum()) > 0


def test_diverse_orthogonal_images_keep_the_target() -> None:
    fc = torch.tensor([[2.0, 0.0], [0.0, 5.0]])
    objective = obj.diverse(obj.channel("fc", [0, 1]), "fc", 2, weight=3.0)
    assert_close(objective({"fc": fc}), torch.tensor([2.0, 5.0]))


def test_diverse_holds_the_target_size_constant_for_the_gradient() -> None:
    # identical pair: cosine similarity is at its maximum, so diversity's own
    # gradient is zero; a gradient through |target| would add 0.5 * (-1)
    fc = torch.tensor([[3.0, 4.0], [3.0, 4.0]], requires_grad=True)
    obj.diverse(obj.channel("fc", 0), "fc", 2, weight=0.5)({"fc": fc}).sum().backward()
    assert_close(fc.grad, torch.tensor([[1.0, 0.0], [1.0, 0.0]]))


# --- parse_terms / from_terms ------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "terms"),
    [
        ("fc:0 + fc:7", [Term(1.0, "fc", 0), Term(1.0, "fc", 7)]),
        ("0.5*conv2:1 - conv2:3", [Term(0.5, "conv2", 1), Term(-1.0, "conv2", 3)]),
        ("  -2 * fc:3+.25*features.0:12 ", [Term(-2.0, "fc", 3), Term(0.25, "features.0", 12)]),
        ("fc:0-fc:1", [Term(1.0, "fc", 0), Term(-1.0, "fc", 1)]),
        ("layer4.1.conv2:511", [Term(1.0, "layer4.1.conv2", 511)]),
    ],
)
def test_parse_terms(expression: str, terms: list[Term]) -> None:
    assert parse_terms(expression) == terms


@pytest.mark.parametrize(
    "expression",
    ["", "   ", "fc", "fc:", "fc:x", "fc:0 fc:1", "fc:0 +", "fc:0 + 0.5 fc:1", "2*", "fc:0 * 2"],
)
def test_parse_terms_errors(expression: str) -> None:
    with pytest.raises(ValueError):
        parse_terms(expression)


def test_parse_terms_error_names_the_offending_text() -> None:
    with pytest.raises(ValueError, match="missing \\+ or - before 'fc:1'"):
        parse_terms("fc:0 fc:1")
    with pytest.raises(ValueError, match="cannot parse '\\+ oops' in 'fc:0 \\+ oops'"):
        parse_terms("fc:0 + oops")


def test_term_label() -> None:
    assert Term(0.5, "conv2", 3).label == "conv2:3"


def test_from_terms() -> None:
    objective = obj.from_terms(parse_terms("fc:0 - 0.5*fc:1"))
    assert_close(_scores(objective), torch.tensor([1.0 + 1.0, 4.0 - 2.5]))
    assert objective.layers == frozenset({"fc"})
    assert objective.description == "(1 * channel(fc, 0) + -0.5 * channel(fc, 1))"
