"""Which precision the model runs in during optimization.

bfloat16 halves the memory traffic of the forward and backward passes and
uses the matrix units of recent CPUs (AVX-512 BF16, AMX) and GPUs. The
objective is always computed in float32. `auto` picks bfloat16 only for
models known to optimize as well in it and only where the device has fast
bfloat16; everywhere else it keeps float32.
"""

from __future__ import annotations

import torch

from atlas.errors import AtlasError
from atlas.optvis import PRECISIONS


def fast_bfloat16(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(precision: str, device: torch.device, model_allows: bool,
                   fast: bool | None = None) -> torch.dtype | None:
    """The dtype to autocast the model to, or None for float32. `fast` says whether
    the devices that will run it have fast bfloat16 (default: ask `device`)."""
    if precision not in PRECISIONS:
        raise AtlasError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "bf16":
        return torch.bfloat16
    if fast is None:
        fast = fast_bfloat16(device)
    if precision == "auto" and model_allows and fast:
        return torch.bfloat16
    return None


def describe(dtype: torch.dtype | None) -> str:
    return "bf16" if dtype == torch.bfloat16 else "fp32"
