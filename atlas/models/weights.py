"""Loading a weights file into a model, with one-line errors for every way it fails.

A file is a torch file (`torch.save` of a state dict or of a checkpoint dict holding
one) or a safetensors file (`.safetensors`, as timm and the Hugging Face hub keep
weights), told apart by its first bytes rather than its name. A torch file is read
with `weights_only=True`: tensors and plain containers, never code; a pickle that
asks for anything else is refused with one line naming what it asked for.

Each error says what to do; callers reading a file the user did not name with
--weights (a pretrained cache) pass their own `remedy` instead."""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import torch
from torch import nn

from atlas.errors import AtlasError

CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights", "params")
SHOWN_KEYS = 3


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_safetensors(path: Path) -> bool:
    """A safetensors file starts with its JSON header's length (8 bytes, little
    endian) and the header's opening brace."""
    with open(path, "rb") as handle:
        start = handle.read(9)
    return len(start) == 9 and start[8:9] == b"{" and 2 <= int.from_bytes(start[:8], "little") \
        < path.stat().st_size


def _read_safetensors(path: Path, remedy: str | None) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as error:
        raise AtlasError(f"{path} is not a readable safetensors file ({error}); " + (
            remedy or "give the file as saved by safetensors.torch.save_file")) from None


def _code_asked_for(error: Exception) -> str | None:
    """The Python object a pickle needs imported or called, where torch's weights-only
    reader refused it by name (`posix.system`, `argparse.Namespace`)."""
    found = re.search(r"GLOBAL ([\w.]+)", str(error))
    return found.group(1).rstrip(".") if found else None


WEIGHTS_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt", ".safetensors")


def check_weights_file(path: Path) -> None:
    """Refuses a --weights path that is missing or a folder: checked before the model
    is built, which can take seconds."""
    if path.is_dir():
        inside = sorted(p.name for p in path.iterdir() if p.suffix in WEIGHTS_SUFFIXES)
        holds = f" (it holds {', '.join(inside[:SHOWN_KEYS])})" if inside else ""
        raise AtlasError(f"weights file {path} is a folder{holds}; give --weights the "
                         "weights file itself")
    if not path.is_file():
        raise AtlasError(f"weights file {path} does not exist; check the path given to --weights")


def read_state_dict(path: Path, remedy: str | None = None) -> dict[str, torch.Tensor]:
    """A bare state dict, or the one inside a checkpoint dict (state_dict, model, …)."""
    check_weights_file(path)
    if is_safetensors(path):
        return {_strip_prefix(key): value for key, value in _read_safetensors(path, remedy).items()}
    try:
        with warnings.catch_warnings():  # the one line below says it all for a foreign pickle
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a non-torch file
        advice = remedy or ("give a file saved with torch.save(model.state_dict(), ...) or "
                            "safetensors.torch.save_file")
        asked = _code_asked_for(error)
        if asked:
            raise AtlasError(f"{path} needs {asked} to be unpickled, and atlas runs no code "
                             f"from a weights file (tensors only); {advice}") from None
        raise AtlasError(f"{path} is not a PyTorch weights file ({type(error).__name__}) nor "
                         f"a safetensors one; {advice}") from None
    if isinstance(state, nn.Module):
        state = state.state_dict()
    if isinstance(state, dict) and not all(isinstance(v, torch.Tensor) for v in state.values()):
        for key in CHECKPOINT_KEYS:
            inner = state.get(key)
            if isinstance(inner, nn.Module):
                inner = inner.state_dict()
            if isinstance(inner, dict) and inner and all(
                isinstance(v, torch.Tensor) for v in inner.values()
            ):
                state = inner
                break
        else:
            raise AtlasError(
                f"{path} holds a dict without a state dict; " + (
                    remedy or "expected a state dict or a checkpoint with one under "
                    f"{', '.join(CHECKPOINT_KEYS)}"))
    if not isinstance(state, dict):
        raise AtlasError(f"{path} holds a {type(state).__name__}, not a state dict"
                         + (f"; {remedy}" if remedy else ""))
    return {_strip_prefix(key): value for key, value in state.items()}


def _strip_prefix(key: str) -> str:
    # Weights saved from nn.DataParallel carry a "module." prefix.
    return key[len("module."):] if key.startswith("module.") else key


def load_weights(module: nn.Module, path: Path) -> str:
    """Loads `path` into `module` strictly; returns the file's sha256."""
    load_state(module, read_state_dict(path), path)
    return sha256_of(path)


def load_state(module: nn.Module, state: dict[str, torch.Tensor], path: Path,
               remedy: str | None = None) -> None:
    """Loads `state`, read from `path`, into `module`: every key, every shape."""
    expected = module.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    mismatched = [key for key in expected
                  if key in state and state[key].shape != expected[key].shape]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s) ({', '.join(missing[:SHOWN_KEYS])}"
                         f"{', …' if len(missing) > SHOWN_KEYS else ''})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s) ("
                         f"{', '.join(unexpected[:SHOWN_KEYS])}"
                         f"{', …' if len(unexpected) > SHOWN_KEYS else ''})")
        if mismatched:
            key = mismatched[0]
            parts.append(f"{len(mismatched)} shape mismatch(es) ({key}: file "
                         f"{tuple(state[key].shape)}, model {tuple(expected[key].shape)})")
        raise AtlasError(f"{path} does not match the model: {'; '.join(parts)}; "
                         + (remedy or "check that --weights belongs to --model"))
    module.load_state_dict(state)
