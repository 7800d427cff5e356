"""Pretrained weights from the local caches the model libraries fill, never downloaded.

`--pretrained` takes a library's weights only where they already lie on disk: torch's
hub cache (torchvision and torch-lucent models, `torch.hub.get_dir()/checkpoints`) or
the Hugging Face hub cache (timm models, `HF_HUB_CACHE`). A build never reaches the
network; where the file is missing, one line says which file to put where.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from atlas.errors import AtlasError

# The names a Hugging Face model repository keeps its weights under, preferred first.
HF_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def torch_hub_file(spec: str, url: str) -> Path:
    """The cached file torch.hub would download `url` to; an AtlasError where it is
    missing."""
    import torch

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
