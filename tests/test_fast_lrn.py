"""atlas's local response normalization gives torch's numbers and gradients,
and atlas's InceptionV1 uses it."""

from __future__ import annotations

import functools
import sys

import pytest
import torch
import torch.nn.functional as F

from atlas.models.fast_lrn import local_response_norm

INCEPTION_LRN = dict(size=9, alpha=9.99999974738e-05, beta=0.5, k=1.0)


def _value_and_grad(function, tensor: torch.Tensor, grad: torch.Tensor, **settings):
    x = tensor.clone().requires_grad_()
    out = function(x, **settings)
    out.backward(grad)
    return out.detach(), x.grad


@pytest.mark.parametrize("shape,layout", [((2, 7, 5), torch.contiguous_format),
                                          ((2, 12, 4, 3), torch.contiguous_format),
                                          ((2, 12, 4, 3), torch.channels_last),
                                          ((1, 10, 2, 3, 2), torch.contiguous_format)])
@pytest.mark.parametrize("settings", [INCEPTION_LRN, dict(size=4, alpha=0.3, beta=0.75, k=2.0),
                                      dict(size=1, alpha=0.5, beta=1.0, k=0.5)])
def test_matches_torch_values_and_gradients(shape, layout, settings) -> None:
    generator = torch.Generator().manual_seed(len(shape) + settings["size"])
    tensor = torch.randn(shape, generator=generator, dtype=torch.float64) * 3
    grad = torch.randn(shape, generator=generator, dtype=torch.float64)
    tensor, grad = (t.contiguous(memory_format=layout) for t in (tensor, grad))
    ours = _value_and_grad(local_response_norm, tensor, grad, **settings)
    theirs = _value_and_grad(F.local_response_norm, tensor, grad, **settings)
    torch.testing.assert_close(ours[0], theirs[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours[1], theirs[1], rtol=1e-12, atol=1e-12)


def test_gradient_is_the_true_gradient() -> None:
    tensor = torch.randn(2, 6, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: local_response_norm(x, 4, 0.7, 0.75, 1.5), tensor)


def test_low_precision_input_is_computed_in_float32_and_returned_as_given() -> None:
    tensor = (torch.randn(2, 64, 4, 4) * 30).bfloat16().requires_grad_()
    out = local_response_norm(tensor, **INCEPTION_LRN)
    out.sum().backward()
    assert out.dtype == torch.bfloat16 and tensor.grad.dtype == torch.bfloat16
    exact = F.local_response_norm(tensor.detach().float(), **INCEPTION_LRN)
    torch.testing.assert_close(out.float(), exact.bfloat16().float())


def test_inceptionv1_uses_it_and_computes_what_torch_lucent_computes() -> None:
    from atlas.models.registry import load_model
    from atlas.optvis.hooks import capture, frozen

    loaded = load_model("lucent:inceptionv1")
    definitions = sys.modules[type(loaded.module).__module__]
    assert definitions.F is F  # torch-lucent's module is left as it is
    assert isinstance(loaded.module.forward, functools.partial)
    # float64, so the two agree to rounding: in float32 their rounding differences
    # flip a few near-zero pre-activations, whose redirected gradients differ tenfold.
    loaded.module.double()
    loaded.preprocess.double()
    image = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(0),
                       dtype=torch.float64)

    def mixed3a_and_grad():
        pixels = image.clone().requires_grad_()
        with frozen(loaded.module), capture(loaded.module, ["mixed3a"]) as run:
            acts = run(loaded.preprocess(pixels))["mixed3a"]
        acts[:, :8].square().sum().backward()
        return acts.detach(), pixels.grad

    ours = mixed3a_and_grad()
    del loaded.module.forward  # the class's own forward: torch's normalization
    theirs = mixed3a_and_grad()
    torch.testing.assert_close(ours[0], theirs[0], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(ours[1], theirs[1], rtol=1e-10, atol=1e-12)


def test_the_faster_forward_survives_pickling_and_copying() -> None:
    import copy
    import pickle

    from atlas.models.registry import load_model

    module = load_model("lucent:inceptionv1").module
    image = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = module(image)
        for other in (pickle.loads(pickle.dumps(module)), copy.deepcopy(module)):
            assert isinstance(other.forward, functools.partial)
            assert other.forward.args[0] is other
            torch.testing.assert_close(other(image), expected)
