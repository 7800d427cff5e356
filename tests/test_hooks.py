"""Scoped hooks: captured values, early stop, cleanup, and `frozen`."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from engine_helpers import no_hooks_left, tiny_model
from torch import nn
from torch.testing import assert_close

from atlas.optvis.hooks import capture, find_modules, frozen, tensor_output


class Boom(nn.Module):
    """A layer that must never run."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the forward pass went past the deepest requested layer")


class Counter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x


class Returns(nn.Module):
    """Returns whatever `make(x)` builds: tuples, dicts, ..."""

    def __init__(self, make) -> None:
        super().__init__()
        self.make = make

    def forward(self, x: torch.Tensor):
        return self.make(x)


def _red_image() -> torch.Tensor:
    image = torch.zeros(1, 3, 8, 8)
    image[:, 0] = 1.0
    return image


def _stopping_model() -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(a=nn.Identity(), b=Counter(), c=Counter(), boom=Boom())
    )


def test_capture_returns_exact_activations() -> None:
    model = tiny_model()
    with capture(model, ["conv", "fc"]) as run:
        acts = run(_red_image())
    assert set(acts) == {"conv", "fc"}
    # channel 0: 3x3 box filter over an all-red image with zero padding
    expected = torch.ones(8, 8)
    expected[0, :] = expected[-1, :] = expected[:, 0] = expected[:, -1] = 6.0 / 9.0
    expected[0, 0] = expected[0, -1] = expected[-1, 0] = expected[-1, -1] = 4.0 / 9.0
    assert_close(acts["conv"][0, 0], expected)
    assert torch.equal(acts["conv"][0, 1], torch.zeros(8, 8))  # no green: no edge
    assert acts["fc"].shape == (1, 3)
    assert_close(acts["fc"], model(_red_image()))


def test_capture_matches_a_plain_forward() -> None:
    model = tiny_model()
    image = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with capture(model, ["relu"]) as run:
        acts = run(image)
    assert_close(acts["relu"], torch.relu(model.conv(image)))


def test_capture_removes_every_hook_after_the_block() -> None:
    model = tiny_model()
    with capture(model, ["conv", "relu", "fc"]) as run:
        assert model.conv._forward_hooks and model.fc._forward_hooks
        run(_red_image())
    assert no_hooks_left(model)
    for module in model.modules():
        assert len(module._forward_hooks) == 0


def test_capture_removes_hooks_when_the_body_raises() -> None:
    model = tiny_model()
    with pytest.raises(ZeroDivisionError):
        with capture(model, ["conv", "fc"]) as run:
            run(_red_image())
            1 / 0  # noqa: B018
    assert no_hooks_left(model)


def test_capture_removes_hooks_when_the_forward_raises() -> None:
    model = nn.Sequential(OrderedDict(a=nn.Identity(), boom=Boom(), c=nn.Identity()))
    with pytest.raises(AssertionError, match="went past"):
        with capture(model, ["c"]) as run:
            run(torch.zeros(1))
    assert no_hooks_left(model)


def test_repeated_captures_do_not_pile_up_hooks() -> None:
    model = tiny_model()
    for _ in range(5):
        with capture(model, ["conv"]) as run:
            run(_red_image())
            assert len(model.conv._forward_hooks) == 1
    assert no_hooks_left(model)


def test_forward_stops_after_the_deepest_requested_layer() -> None:
    model = _stopping_model()
    with capture(model, ["c", "a"]) as run:
        acts = run(torch.tensor([1.0, 2.0]))
    assert set(acts) == {"a", "c"}
    assert model.b.calls == 1 and model.c.calls == 1
    assert torch.equal(acts["c"], torch.tensor([1.0, 2.0]))


def test_forward_stops_early_in_the_tiny_model() -> None:
    model = tiny_model()
    calls = []
    model.fc.register_forward_pre_hook(lambda module, inputs: calls.append("fc"))
    with capture(model, ["relu"]) as run:
        run(_red_image())
    assert calls == []
    model(_red_image())
    assert calls == ["fc"]


def test_a_capture_can_run_twice() -> None:
    model = _stopping_model()
    with capture(model, ["b"]) as run:
        first = run(torch.tensor([1.0]))
        second = run(torch.tensor([2.0]))
    assert float(first["b"]) == 1.0
    assert float(second["b"]) == 2.0
    assert first is not second
    assert model.c.calls == 0


def test_duplicate_layer_names_are_captured_once() -> None:
    model = _stopping_model()
    with capture(model, ["b", "b"]) as run:
        assert len(model.b._forward_hooks) == 1
        acts = run(torch.tensor([3.0]))
    assert list(acts) == ["b"]


def test_unknown_layer_raises_key_error_and_leaves_no_hooks() -> None:
    model = tiny_model()
    with pytest.raises(KeyError, match="nope"):
        with capture(model, ["conv", "nope"]):
            pass  # pragma: no cover
    assert no_hooks_left(model)


def test_find_modules_uses_dotted_names() -> None:
    model = nn.Sequential(OrderedDict(block=nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU())))
    found = find_modules(model, ["block.1", "block"])
    assert found == {"block.1": model.block[1], "block": model.block}


def test_a_layer_never_reached_is_an_error() -> None:
    class SkipsALayer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.unused = nn.Identity(), nn.Identity()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.a(x)

    model = SkipsALayer()
    with capture(model, ["a", "unused"]) as run:
        with pytest.raises(RuntimeError, match="never reached layer\\(s\\) \\['unused'\\]"):
            run(torch.zeros(1))
    assert no_hooks_left(model)


def test_tuple_output_with_one_tensor_works() -> None:
    model = nn.Sequential(
        OrderedDict(
            pair=Returns(lambda x: (2 * x, None)),
            first=Returns(lambda pair: pair[0]),
            boom=Boom(),
        )
    )
    with capture(model, ["pair"]) as run:
        acts = run(torch.tensor([1.5]))
    assert torch.equal(acts["pair"], torch.tensor([3.0]))


def test_tuple_output_with_a_nested_tuple_counts_only_top_level_tensors() -> None:
    model = nn.Sequential(OrderedDict(lstm_like=Returns(lambda x: (x + 1, (x, x)))))
    with capture(model, ["lstm_like"]) as run:
        assert torch.equal(run(torch.tensor([1.0]))["lstm_like"], torch.tensor([2.0]))


@pytest.mark.parametrize(
    "make",
    [lambda x: (x, x), lambda x: {"out": x}, lambda x: None, lambda x: ("a", 1)],
    ids=["two-tensors", "dict", "none", "no-tensor"],
)
def test_other_outputs_raise_type_error(make) -> None:
    model = nn.Sequential(OrderedDict(odd=Returns(make)))
    with capture(model, ["odd"]) as run:
        with pytest.raises(TypeError, match="layer 'odd' outputs"):
            run(torch.tensor([1.0]))
    assert no_hooks_left(model)


def test_tensor_output_accepts_lists() -> None:
    t = torch.ones(2)
    assert tensor_output("x", [t, "label"]) is t
    assert tensor_output("x", t) is t
    with pytest.raises(TypeError, match="choose one of its submodules"):
        tensor_output("x", [t, t])


# --- frozen --------------------------------------------------------------------------


def test_frozen_sets_eval_and_no_grad_then_restores() -> None:
    model = tiny_model().train()
    model.fc.bias.requires_grad_(False)  # a mixed state to restore
    before = {name: p.requires_grad for name, p in model.named_parameters()}
    assert before["conv.weight"] and not before["fc.bias"]
    with frozen(model) as inside:
        assert inside is model
        assert not model.training
        assert not any(m.training for m in model.modules())
        assert not any(p.requires_grad for p in model.parameters())
    assert model.training
    assert {name: p.requires_grad for name, p in model.named_parameters()} == before


def test_frozen_keeps_eval_mode() -> None:
    model = tiny_model().eval()
    with frozen(model):
        pass
    assert not model.training
    assert all(p.requires_grad for p in model.parameters())


def test_frozen_restores_when_the_body_raises() -> None:
    model = tiny_model().train()
    with pytest.raises(RuntimeError):
        with frozen(model):
            raise RuntimeError("inside")
    assert model.training
    assert all(p.requires_grad for p in model.parameters())


def test_frozen_blocks_weight_gradients() -> None:
    model = tiny_model()
    image = _red_image().requires_grad_(True)
    with frozen(model):
        model(image).sum().backward()
    assert image.grad is not None
    assert all(p.grad is None for p in model.parameters())


def test_frozen_restores_mixed_submodule_modes() -> None:
    model = tiny_model().train()
    model.conv.eval()
    with frozen(model):
        pass
    assert model.training
    assert model.fc.training
    assert not model.conv.training
