"""Pretrained weights from the local caches the model libraries fill, never downloaded.

`--pretrained` takes a library's weights only where they already lie on disk: torch's
hub cache (torchvision and torch-lucent models, `torch.hub.get_dir()/checkpoints`) or
the Hugging Face hub cache (timm models, `HF_HUB_CACHE`). A build never reaches the
network; where the file is missing, one line says which file to put where.

A cache is a folder anyone may have copied from anywhere, so its files are data,
never code: each is checked against the sha256 its name publishes (torchvision's
`resnet18-f37072fd.pth`, a Hugging Face blob's name) and read by atlas's own
loader (`weights.read_state_dict`: safetensors, or a torch file with
`weights_only=True`), not by the libraries', which unpickle whatever is there.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from atlas.errors import AtlasError
from atlas.models.weights import load_state, read_state_dict, sha256_of

# The names a Hugging Face model repository keeps its weights under, preferred first.
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# What to do about a cached file atlas refuses.
CACHE_REMEDY = "copy it again from a trusted machine, or give a weights file with --weights"
# torch.hub's file names carry the start of their sha256 (`name-<hex>.ext`, its
# HASH_REGEX); a Hugging Face snapshot links to a blob named by its whole sha256.
TORCH_HUB_HASH = re.compile(r"-([0-9a-f]+)\.")
HF_BLOB_HASH = re.compile(r"[0-9a-f]{64}")
SHOWN_HEX = 8  # enough of a digest to tell two apart in a message


def torch_hub_file(spec: str, url: str) -> Path:
    """The cached file torch.hub would download `url` to; an AtlasError where it is
    missing."""
    name = Path(urlparse(url).path).name
    path = Path(torch.hub.get_dir()) / "checkpoints" / name
    if not path.is_file():
        raise AtlasError(f"the pretrained weights of {spec} are not in torch's hub cache: put "
                         f"{name} (from {url}) at {path}, or give a weights file with "
                         "--weights; atlas never downloads")
    return path


def hf_hub_file(spec: str, repo_id: str) -> Path:
    """The cached weights file of Hugging Face repository `repo_id`; an AtlasError
    where none is cached."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.constants import HF_HUB_CACHE

    for name in HF_WEIGHT_FILES:
        found = try_to_load_from_cache(repo_id, name)
        if isinstance(found, str):
            return Path(found)
    raise AtlasError(f"the pretrained weights of {spec} are not in the Hugging Face cache "
                     f"({HF_HUB_CACHE}): put {repo_id}'s {HF_WEIGHT_FILES[0]} there (on a "
                     f"machine online: `hf download {repo_id} {HF_WEIGHT_FILES[0]}`, then copy "
                     "the cache), or give a weights file with --weights; atlas never downloads")


def published_sha256(path: Path) -> str | None:
    """The sha256 (or its start) that `path`'s name says its content has; None where
    the name says none (torch-lucent's `inception5h.pth`)."""
    if path.is_symlink():
        blob = path.resolve().name
        if HF_BLOB_HASH.fullmatch(blob):
            return blob
    found = TORCH_HUB_HASH.search(path.name)
    return found.group(1) if found else None


def checked_sha256(spec: str, path: Path) -> str:
    """The sha256 of cached `path`, after checking it against the one its name
    publishes: a file that differs is not the one the library published."""
    digest = sha256_of(path)
    published = published_sha256(path)
    if published is not None and not digest.startswith(published):
        raise AtlasError(f"{path} is not the file {spec}'s pretrained weights were published "
                         f"as: its sha256 starts {digest[:SHOWN_HEX]}, its name says "
                         f"{published[:SHOWN_HEX]}; {CACHE_REMEDY}")
    return digest


def read_cached(spec: str, path: Path) -> tuple[dict[str, torch.Tensor], str]:
    """(state dict, sha256) of cached `path`: hash checked first, then read as data."""
    digest = checked_sha256(spec, path)
    return read_state_dict(path, CACHE_REMEDY), digest


def load_cached(module: nn.Module, spec: str, path: Path) -> str:
    """Loads cached `path` into `module` strictly; returns the file's sha256."""
    state, digest = read_cached(spec, path)
    load_state(module, state, path, CACHE_REMEDY)
    return digest
