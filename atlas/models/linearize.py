"""The linearized model: every ReLU (and its relatives) the identity, every
max-pool an average over the same windows. What lies between two layers then
collapses into one linear map, whose Jacobian is the expanded weights of
`atlas.pipeline.weights.circuits`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from atlas.models.fast_relu import RedirectedReLU

# Elementwise nonlinearities that the linearized model replaces by the identity.
# nn.ReLU6 calls hardtanh; the in-place forms return their input, as they would.
_IDENTITY_FUNCTIONS = frozenset({
    F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_,
    F.relu6, F.hardtanh, F.hardtanh_, F.leaky_relu, F.leaky_relu_, F.gelu, F.silu,
})
_MAX_POOLS = frozenset({F.max_pool2d, torch.max_pool2d})


class _Linearized(TorchFunctionMode):
    """While active, ReLUs are the identity and 2-D max-pools average.

    A function mode sees `F.relu` called from a model's own `forward` (lucent's
    InceptionV1 does that) as well as from `nn.ReLU`, in-place or not."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _IDENTITY_FUNCTIONS:
            return args[0] if args else kwargs["input"]
        if func in _MAX_POOLS:
            pooled = _average_in_place_of_max(*args, **kwargs)
            if pooled is not None:
                return pooled
        if func is F.adaptive_max_pool2d:
            return _adaptive_average(*args, **kwargs)
        return func(*args, **kwargs)


def _adaptive_average(input: torch.Tensor, output_size: Any, return_indices: bool = False):
    if return_indices:
        return F.adaptive_max_pool2d(input, output_size, return_indices)  # not linearized
    return F.adaptive_avg_pool2d(input, output_size)


def _average_in_place_of_max(input: torch.Tensor, kernel_size: Any, stride: Any = None,
                             padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                             return_indices: bool = False) -> torch.Tensor | None:
    """The mean over each max-pool window of its entries that are not padding.

    Max-pooling never picks its own padding, nor the -inf a model pads with
    (lucent's InceptionV1 does `F.pad(x, ..., value=-inf)` before pooling), so
    neither counts: the analogue of `count_include_pad=False`. None where the
    pool asks for indices or dilation, which this does not linearize."""
    if return_indices or dilation not in (1, (1, 1), [1, 1]):
        return None
    window = {"kernel_size": kernel_size, "stride": stride or kernel_size, "padding": padding,
              "ceil_mode": ceil_mode, "count_include_pad": True, "divisor_override": 1}
    real = torch.isfinite(input)
    sums = F.avg_pool2d(torch.where(real, input, torch.zeros_like(input)), **window)
    counts = F.avg_pool2d(real.to(input.dtype), **window)
    return sums / counts.clamp_min(1)


def _autograd_relu_types() -> tuple[type, ...]:
    """ReLU modules whose forward is a custom autograd Function: a function mode
    cannot see through them, so a forward hook returns their input instead."""
    types: list[type] = [RedirectedReLU]
    try:
        from lucent.modelzoo.inceptionv1.helper_layers import RedirectedReluLayer
    except ImportError:
        pass
    else:
        types.append(RedirectedReluLayer)
    return tuple(types)


@contextmanager
def linearized(model: nn.Module) -> Iterator[nn.Module]:
    """`model` with ReLUs as identities and max-pools as average pools, for the
    duration; hooks are removed and the mode left on exit."""
    relus = _autograd_relu_types()
    handles = [module.register_forward_hook(lambda _module, inputs, _output: inputs[0])
               for module in model.modules() if isinstance(module, relus)]
    try:
        with _Linearized():
            yield model
    finally:
        for handle in handles:
            handle.remove()
