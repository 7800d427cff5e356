"""A faster local response normalization for torch-lucent's InceptionV1.

InceptionV1 normalizes each activation by the squares of its neighbours
across channels, twice near its input, so every layer's forward and backward
pass pays for it. `torch.nn.functional.local_response_norm` sums over the
channel window with `avg_pool3d`, whose backward is slow on CPU (a large
share of an InceptionV1 optimization step) and which has no bfloat16
kernel on CPU. This module sums the window with one matrix product by a band
of ones and writes the backward out by hand (docs/speed.md has the
measurements). It runs in float32 (or float64) whatever the autocast precision,
and agrees with torch's to rounding.

torch-lucent's InceptionV1 calls `F.local_response_norm` through its module's
`F`. `use_fast_lrn` gives one model instance a forward that is its class's own
code run with `F` resolved to a namespace that is `torch.nn.functional` but for
this function; torch-lucent's module, and every other user of it in the
process, keep torch's.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable

import torch
import torch.nn.functional as F


def _window_sums(values: torch.Tensor, before: int, after: int) -> torch.Tensor:
    """For each channel c, the sum of `values` over channels c-before … c+after
    (channels past either end count as zero): one matrix product with a band of
    ones along the channels, in the tensor's own memory layout."""
    channels = values.shape[1]
    index = torch.arange(channels, device=values.device)
    offset = index[:, None] - index[None, :]  # input channel minus output channel
    band = ((offset >= -before) & (offset <= after)).to(values.dtype)
    if values.dim() == 4 and not values.is_contiguous() and values.is_contiguous(
            memory_format=torch.channels_last):
        batch, _, height, width = values.shape
        rows = values.permute(0, 2, 3, 1).reshape(-1, channels)  # a view of NHWC memory
        return (rows @ band).view(batch, height, width, channels).permute(0, 3, 1, 2)
    flat = values.reshape(values.shape[0], channels, -1)
    return torch.matmul(band.T, flat).view(values.shape)


class _LocalResponseNorm(torch.autograd.Function):
    """y = x / (k + alpha/size * S)^beta, S the window sum of x^2 (torch's
    definition: the window runs from size//2 channels before to (size-1)//2 after)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor, size: int, alpha: float, beta: float,
                k: float) -> torch.Tensor:
        x = tensor.to(torch.promote_types(tensor.dtype, torch.float32))
        denominator = _window_sums(x * x, size // 2, (size - 1) // 2).mul_(alpha / size).add_(k)
        scale = denominator.pow(-beta)
        ctx.save_for_backward(x, denominator, scale)
        ctx.settings = (size, alpha, beta)
        return (x * scale).to(tensor.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, denominator, scale = ctx.saved_tensors
        size, alpha, beta = ctx.settings
        direct = grad.to(x.dtype) * scale
        # Each output's pull on the inputs of its window: the transposed window.
        pulls = _window_sums(direct * x / denominator, (size - 1) // 2, size // 2)
        result = direct.sub_(pulls.mul_(x).mul_(2 * alpha * beta / size))
        return result.to(grad.dtype), None, None, None, None


def local_response_norm(tensor: torch.Tensor, size: int, alpha: float = 1e-4,
                        beta: float = 0.75, k: float = 1.0) -> torch.Tensor:
    """`torch.nn.functional.local_response_norm` for (N, C, ...) tensors."""
    return _LocalResponseNorm.apply(tensor, size, alpha, beta, k)


class _Functional(types.ModuleType):
    """`torch.nn.functional`, but for `local_response_norm`."""

    local_response_norm: Callable[..., torch.Tensor]  # set below; the rest is F's

    def __getattr__(self, name: str):
        return getattr(F, name)


FUNCTIONAL = _Functional("atlas_functional")
FUNCTIONAL.local_response_norm = local_response_norm


@functools.cache
def _forward_with_fast_lrn(model_class: type[torch.nn.Module]) -> types.FunctionType:
    """`model_class.forward`'s code over its module's globals with `F` replaced."""
    forward = model_class.forward
    return types.FunctionType(forward.__code__, {**forward.__globals__, "F": FUNCTIONAL},
                              forward.__name__, forward.__defaults__, forward.__closure__)


def _fast_forward(model: torch.nn.Module, *args, **kwargs):
    # A class is hashable; mypy checks Module's instance __hash__ against it instead.
    return _forward_with_fast_lrn(type(model))(model, *args, **kwargs)  # type: ignore[arg-type]


def use_fast_lrn(model: torch.nn.Module) -> None:
    """Makes `model` (this instance; it stays picklable) call this
    `local_response_norm` where its class's forward calls `F.local_response_norm`."""
    if type(model).forward.__globals__.get("F") is F:
        model.forward = functools.partial(_fast_forward, model)
