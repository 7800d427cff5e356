"""Circuits: expanded weights between layers, checked against closed forms.

Every bias is pushed far negative, so a real ReLU (or max-pool's choice of one
entry) would zero or reroute the gradients: exact equality with the closed
forms shows that the model was linearized, not merely run."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from atlas.models.fast_relu import RedirectedReLU
from atlas.models.linearize import linearized
from atlas.pipeline.weights.circuits import (
    MAP_LEVELS,
    MAX_MAP_SIZE,
    LayerConnections,
    compute_connections,
    expanded_weights,
    _jacobian_chunks,
    layer_connections,
    price_pair,
)

MODELS = Path(__file__).parent / "models"
SIZE = 8  # tests/models/linear_chain.py's input size


def _load(path: Path) -> nn.Module:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build()


def _negative_biases(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.fill_(-100.0)
    return model.double().eval()


@pytest.fixture
def chain() -> nn.Module:
    return _negative_biases(_load(MODELS / "linear_chain.py"))


def _pair(model: nn.Module, earlier: str, later: str, size: int = SIZE) -> LayerConnections:
    return layer_connections(model, None, size, earlier, later)


def _same(actual, expected) -> None:
    actual = torch.as_tensor(np.asarray(actual), dtype=torch.float64)
    assert actual.shape == expected.shape
    assert torch.allclose(actual, expected.detach(), rtol=1e-12, atol=1e-12)


def test_adjacent_convs_are_the_later_weights_unflipped(chain: nn.Module) -> None:
    pair = _pair(chain, "conv1", "conv2")  # across an in-place nn.ReLU
    assert pair.box == (3, 3, 3, 3) and pair.block == 1  # conv2's centre (4, 4), 3x3 around it
    _same(pair.maps, chain.conv2.weight)
    full = expanded_weights(chain, None, SIZE, "conv1", "conv2")
    assert full.shape == (3, 2, SIZE, SIZE)
    _same(full[..., 3:6, 3:6], chain.conv2.weight)
    assert full.abs().sum() == full[..., 3:6, 3:6].abs().sum()  # nothing outside the kernel


def test_a_one_by_one_conv_after_a_relu_multiplies_the_weights(chain: nn.Module) -> None:
    mix = chain.mix.weight[:, :, 0, 0]  # (2, 3)
    expected = torch.einsum("uk,kcij->ucij", mix, chain.conv2.weight)
    _same(_pair(chain, "conv1", "mix").maps, expected)


def test_max_pool_is_averaged_over_its_windows(chain: nn.Module) -> None:
    pair = _pair(chain, "mix", "conv3")  # conv3's centre (2, 2) reads pool rows 1-3: mix 2-7
    assert pair.box == (2, 2, 6, 6)
    spread = chain.conv3.weight.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3) / 4
    _same(pair.maps, spread)


def test_a_residual_addition_adds_the_identity_at_the_centre(chain: nn.Module) -> None:
    pair = _pair(chain, "conv3", "block")
    expected = chain.block.conv.weight.clone()
    for unit in range(2):
        expected[unit, unit, 1, 1] += 1
    _same(pair.maps, expected)


def test_a_linear_layer_after_flatten_reads_its_weights_as_maps(chain: nn.Module) -> None:
    pair = _pair(chain, "block", "fc")
    assert pair.box == (0, 0, 4, 4)
    _same(pair.maps, chain.fc.weight.reshape(3, 2, 4, 4))


def test_two_three_by_three_convs_compose_into_their_full_convolution() -> None:
    model = _negative_biases(nn.Sequential(
        nn.Conv2d(3, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(),
        nn.Conv2d(2, 2, 3, padding=1)))
    first, second = model[2].weight, model[4].weight
    expected = torch.zeros(2, 2, 5, 5, dtype=torch.float64)
    for unit in range(2):
        for middle in range(2):
            for channel in range(2):
                for row in range(3):
                    for column in range(3):
                        expected[unit, channel, row:row + 3, column:column + 3] += (
                            second[unit, middle, row, column] * first[middle, channel])
    pair = _pair(model, "0", "4")
    assert pair.box == (2, 2, 5, 5)
    _same(pair.maps, expected)


class _PaddedPool(nn.Module):
    """lucent's InceptionV1 pattern: pad with -inf, then max-pool without padding."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        self.head = nn.Conv2d(2, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad(self.conv(x), (1, 1, 1, 1), value=float("-inf"))
        return self.head(F.max_pool2d(padded, 3, stride=1))


def test_minus_infinity_padding_is_left_out_of_the_average() -> None:
    model = _negative_biases(_PaddedPool())
    pair = _pair(model, "conv", "head", size=2)  # centre (1, 1): 4 real entries of 9
    expected = model.head.weight.expand(2, 2, 2, 2) / 4
    assert pair.box == (0, 0, 2, 2)
    _same(pair.maps, expected)


def test_adaptive_max_pool_averages_the_whole_map() -> None:
    model = _negative_biases(nn.Sequential(nn.Conv2d(3, 2, 1), nn.AdaptiveMaxPool2d(1),
                                           nn.Flatten(), nn.Linear(2, 3)))
    expected = model[3].weight[:, :, None, None].expand(3, 2, 4, 4) / 16
    _same(_pair(model, "0", "3", size=4).maps, expected)


def _lucent_redirected() -> nn.Module:
    from lucent.modelzoo.inceptionv1.helper_layers import RedirectedReluLayer

    return RedirectedReluLayer()


@pytest.mark.parametrize("make_relu", [
    nn.ReLU, lambda: nn.ReLU(inplace=True), nn.ReLU6, nn.LeakyReLU, nn.GELU, RedirectedReLU,
    _lucent_redirected], ids=["relu", "inplace", "relu6", "leaky", "gelu", "redirected",
                              "lucent-redirected"])
def test_every_relu_flavour_is_the_identity(make_relu) -> None:
    model = _negative_biases(nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), make_relu(),
                                           nn.Conv2d(2, 2, 3, padding=1)))
    _same(_pair(model, "0", "2").maps, model[2].weight)


def test_linearizing_leaves_the_model_as_it_was(chain: nn.Module) -> None:
    chain.train()
    compute_connections(chain, None, SIZE, ["conv1", "conv2", "conv3", "fc"])
    assert chain.training and all(p.requires_grad and p.grad is None for p in chain.parameters())
    assert not any(module._forward_hooks for module in chain.modules())
    image = torch.rand(1, 3, SIZE, SIZE, dtype=torch.float64)
    assert torch.relu(torch.tensor(-1.0)) == 0 and chain.eval()(image).shape == (1, 3)
    with linearized(chain):
        assert torch.relu(torch.tensor(-1.0)) == -1 and torch.tensor(-1.0).relu() == -1
        assert F.relu(torch.tensor(-1.0), inplace=True) == -1
    assert torch.relu(torch.tensor(-1.0)) == 0


def test_chunks_give_the_same_weights_as_one_pass(chain: nn.Module) -> None:
    whole = expanded_weights(chain, None, SIZE, "conv3", "fc")
    one_unit_a_chunk = expanded_weights(chain, None, SIZE, "conv3", "fc", chunk_elements=1)
    assert torch.equal(whole, one_unit_a_chunk)


def test_the_plan_prices_the_chunks_the_build_computes(chain: nn.Module) -> None:
    for elements in (1, 1 << 23):
        chunks = list(_jacobian_chunks(chain, None, SIZE, "conv3", "fc", torch.device("cpu"),
                                       elements))
        priced = price_pair(chain, None, SIZE, "conv3", "fc", chunk_elements=elements)
        assert priced.chunks == len(chunks) and priced.chunk == len(chunks[0].units)
        assert priced.units == sum(len(chunk.units) for chunk in chunks)
        assert priced.seconds > 0


class _DenseSkip(nn.Module):
    """DenseNet's pattern: the head concatenates features from before `first`
    with those after it, which a batch-1 prefix cannot broadcast into."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.first = nn.Conv2d(3, 2, 1), nn.Conv2d(2, 2, 1)
        self.second, self.head = nn.Conv2d(2, 2, 1), nn.Conv2d(4, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stem = self.stem(x)
        return self.head(torch.cat([stem, self.second(self.first(stem))], dim=1))


def test_a_concatenation_with_earlier_features_runs_the_prefix_per_copy() -> None:
    model = _negative_biases(_DenseSkip())
    expected = model.head.weight[:, 2:, 0, 0] @ model.second.weight[:, :, 0, 0]
    _same(_pair(model, "first", "head", size=3).maps, expected[..., None, None])


def test_a_layer_beside_another_does_not_read_it() -> None:
    import sys

    sys.path.insert(0, str(MODELS))
    try:
        from two_heads import build
    finally:
        sys.path.remove(str(MODELS))
    pair = layer_connections(build().eval(), None, 16, "head", "aux")  # two heads, one trunk
    assert pair.norms.shape == (2, 5) and not pair.norms.any()
    assert pair.incoming(0) == [] and pair.outgoing(3) == []


def test_layers_out_of_forward_order_are_refused(chain: nn.Module) -> None:
    with pytest.raises(ValueError, match="forward order"):
        _pair(chain, "conv2", "conv1")


def _connections() -> LayerConnections:
    norms = np.array([[1.0, 3.0, 2.0, 0.0], [3.0, 3.0, 0.5, 1.0]])
    maps = np.arange(2 * 4 * 2 * 2, dtype=float).reshape(2, 4, 2, 2) - 10
    return LayerConnections("a", "b", norms, maps, (0, 0, 2, 2))


def test_incoming_are_the_strongest_first_ties_by_unit_and_never_zero() -> None:
    pair = _connections()
    assert [e["unit"] for e in pair.incoming(0, top=2)] == [1, 2]
    assert [e["unit"] for e in pair.incoming(0, top=4)] == [1, 2, 0]  # the zero is left out
    assert [e["unit"] for e in pair.incoming(1, top=3)] == [0, 1, 3]
    assert [e["weight"] for e in pair.incoming(1, top=3)] == [3.0, 3.0, 1.0]
    assert all(e["layer"] == "a" for e in pair.incoming(1))


def test_outgoing_read_the_columns_of_the_same_norms() -> None:
    pair = _connections()
    assert [(e["layer"], e["unit"]) for e in pair.outgoing(0)] == [("b", 1), ("b", 0)]
    assert [e["unit"] for e in pair.outgoing(3)] == [1]


def test_maps_are_steps_of_one_shared_scale() -> None:
    entries = _connections().incoming(1, top=4)
    maps = _connections().maps[1]
    scale = entries[0]["scale"]
    assert all(e["scale"] == scale for e in entries)
    assert max(abs(v) for e in entries for row in e["map"] for v in row) == MAP_LEVELS
    for entry in entries:
        assert all(isinstance(v, int) for row in entry["map"] for v in row)
        assert np.abs(np.array(entry["map"]) * scale - maps[entry["unit"]]).max() <= scale / 2


def test_top_must_be_from_1_to_50(chain: nn.Module) -> None:
    for top in (0, 51, -3, 2.5, True):
        with pytest.raises(ValueError, match="top"):
            compute_connections(chain, None, SIZE, ["conv1", "conv2"], top=top)


def test_in_and_out_lists_agree_with_the_norms(chain: nn.Module) -> None:
    layers = ["conv1", "conv2", "mix", "conv3", "fc"]
    result = compute_connections(chain, None, SIZE, layers, top=2)
    assert set(result["conv1"][0]) == {"out"} and set(result["fc"][0]) == {"in"}
    assert set(result["mix"][1]) == {"in", "out"}
    pair = _pair(chain, "conv2", "mix")
    for unit, entry in result["mix"].items():
        expected = np.argsort(-pair.norms[unit], kind="stable")[:2].tolist()
        assert [e["unit"] for e in entry["in"]] == expected
        for link in entry["in"]:
            assert link["layer"] == "conv2"
            assert link["weight"] == pytest.approx(pair.norms[unit, link["unit"]], rel=1e-3)
    for unit, entry in result["conv2"].items():
        expected = np.argsort(-pair.norms[:, unit], kind="stable")[:2].tolist()
        assert [e["unit"] for e in entry["out"]] == expected
        for link in entry["out"]:
            maps = np.array(link["map"]) * link["scale"]
            assert np.abs(maps - pair.maps[link["unit"], unit]).max() <= link["scale"] / 2


def test_norms_are_the_l2_norms_of_the_maps(chain: nn.Module) -> None:
    for earlier, later in [("conv1", "conv2"), ("mix", "conv3"), ("block", "fc")]:
        pair = _pair(chain, earlier, later)
        flat = pair.maps.reshape(*pair.maps.shape[:2], -1)
        assert np.allclose(pair.norms, np.linalg.norm(flat, axis=2), rtol=1e-12, atol=0)


def test_large_maps_are_averaged_in_blocks_and_keep_their_full_norm() -> None:
    convs = [nn.Conv2d(3 if i == 0 else 2, 2, 3, padding=1) for i in range(7)]
    model = _negative_biases(nn.Sequential(*convs))
    pair = _pair(model, "0", "6", size=16)  # six 3x3 convs: a 13x13 footprint
    assert pair.box == (2, 2, 13, 13) and pair.block == 2
    assert pair.maps.shape == (2, 2, 7, 7) and 7 <= MAX_MAP_SIZE
    full = expanded_weights(model, None, 16, "0", "6")
    assert np.allclose(pair.norms, full.flatten(2).norm(dim=2).numpy(), rtol=1e-12)
    padded = F.pad(full[..., 2:15, 2:15], (0, 1, 0, 1))  # 13 -> 14: the extra row goes after
    sums = padded.unflatten(2, (7, 2)).unflatten(4, (7, 2)).sum(dim=(3, 5))
    counts = torch.full((7, 7), 4.0, dtype=torch.float64)
    counts[-1, :] = counts[:, -1] = 2
    counts[-1, -1] = 1
    _same(pair.maps, sums / counts)


def test_default_model_all_layers_quickly() -> None:
    from atlas.models.registry import load_model

    loaded = load_model("colored-digits", None, False, None, None, None)
    start = time.perf_counter()
    result = compute_connections(loaded.module, loaded.preprocess, loaded.input_size,
                                 ["conv1", "conv2", "conv3", "fc"])
    assert time.perf_counter() - start < 15  # ~1.5 s alone on 2 cores
    assert [len(result[name]) for name in result] == [8, 16, 32, 10]
    expected = {"conv2": (8, 6), "conv3": (12, 6), "fc": (12, 7)}  # (entries, map side)
    for name, (count, side) in expected.items():
        for entry in result[name].values():
            assert len(entry["in"]) == count
            assert all(np.shape(link["map"]) == (side, side) for link in entry["in"])
    assert all(len(entry["out"]) == 10 for entry in result["conv3"].values())


def _inception():
    from atlas.models.registry import load_model

    return load_model("lucent:inceptionv1", None, False, None, None, None)


def test_inception_first_pair_through_minus_infinity_padding_and_lrn() -> None:
    loaded = _inception()
    pair = layer_connections(loaded.module, loaded.preprocess, 224, "conv2d0", "conv2d1")
    assert pair.box == (56, 56, 3, 3)  # conv2d1's centre (28, 28): maxpool0 rows 56-58
    assert np.isfinite(pair.maps).all() and (pair.norms > 0).all()


def _placed(pattern: torch.Tensor, side: int) -> torch.Tensor:
    """`pattern` (k x k) in the middle of a side x side map of zeros."""
    start = side // 2 - len(pattern) // 2
    placed = torch.zeros(side, side)
    placed[start:start + len(pattern), start:start + len(pattern)] = pattern
    return placed


@pytest.mark.slow
@pytest.mark.parametrize("earlier, later, pool_branch, stride", [
    ("mixed3a", "mixed3b", 416, 1), ("mixed4e", "mixed5a", 704, 2)])
def test_inception_branches_expand_to_their_own_weights(earlier, later, pool_branch,
                                                        stride) -> None:
    """The 1x1 branch reads one cell of the block's input; the pool branch (3x3
    max-pool padded with -inf, then 1x1) the mean of 3x3 cells. mixed5a's input
    is maxpool10 (3x3, stride 2) of mixed4e: each of its cells a mean of 3x3."""
    loaded = _inception()
    pair = layer_connections(loaded.module, loaded.preprocess, 224, earlier, later)
    side = pair.maps.shape[-1]
    assert pair.maps.shape[-2:] == ((5, 5) if stride == 1 else (11, 11))
    cell = torch.ones(1, 1, stride * 2 - 1, stride * 2 - 1) / (stride * 2 - 1) ** 2
    window = F.conv_transpose2d(torch.ones(1, 1, 3, 3) / 9, cell, stride=stride)[0, 0]
    for branch, first, pattern in [("1x1", 0, cell[0, 0]), ("pool_reduce", pool_branch, window)]:
        weight = getattr(loaded.module, f"{later}_{branch}_pre_relu_conv").weight[:, :, 0, 0]
        expected = weight.detach()[..., None, None] * _placed(pattern, side)
        actual = torch.as_tensor(pair.maps[first:first + len(weight)])
        assert torch.allclose(actual, expected, rtol=1e-4, atol=1e-6 * float(expected.abs().max()))


@pytest.mark.slow
def test_resnet_layer1_to_layer2_through_residuals_and_downsampling() -> None:
    from atlas.models.registry import load_model

    loaded = load_model("torchvision:resnet18", None, False, None, None, None)
    pair = layer_connections(loaded.module, loaded.preprocess, 224, "layer1", "layer2")
    assert pair.norms.shape == (128, 64) and np.isfinite(pair.maps).all()
    assert max(pair.maps.shape[-2:]) <= MAX_MAP_SIZE and (pair.norms > 0).all()
