"""A user model whose layer names are hostile: markup, quotes, path parts,
spaces, non-ASCII. Its layers are the entries of an `nn.ModuleDict`, so a
layer's dotted name is exactly its key. Loaded as `untrusted_names.py:build`.

PyTorch refuses '.' in a module name, so `../../etc` is put in `_modules`
directly, the way a model that bypasses `add_module` would.
"""

import hashlib

import torch
from torch import nn

INPUT_SIZE = 8
TRAVERSAL = "../../etc"
# In forward order; the last one is a Linear head, the rest 2-channel 3x3 convs.
NAMES = [
    "<script>alert(1)</script>",
    TRAVERSAL,
    "/etc/passwd",
    "a\"b'c",
    "x\" onmouseover=\"alert(1)",
    "</title><img src=x onerror=alert(1)>",
    "with space",
    "ünïcødé",
    "slash/inside",
    "back\\slash",
    "a b",
    "a_b",
    "comma,inside",
]
# Names that must still get their own folders: a name that is already the
# slug atlas makes for "a b" (its text plus the hash suffix), and two names
# that differ only in case (one folder on macOS and Windows file systems).
LOOKALIKES = ["a b", "a_b-" + hashlib.sha256(b"a b").hexdigest()[:8], "Up", "up"]


class Chain(nn.ModuleDict):
    """Runs its entries in order; a Linear entry gets the flattened input."""

    input_size = INPUT_SIZE  # atlas reads this as the default image size

    def __init__(self, names: list) -> None:
        super().__init__()
        channels = 3
        for name in names[:-1]:
            self._modules[name] = nn.Conv2d(channels, 2, 3, padding=1)
            channels = 2
        self._modules[names[-1]] = nn.Linear(channels * INPUT_SIZE * INPUT_SIZE, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self._modules.values():
            x = layer(x.flatten(1) if isinstance(layer, nn.Linear) else x)
        return x


def build() -> nn.Module:
    torch.manual_seed(0)
    return Chain(NAMES)


def build_lookalikes() -> nn.Module:
    torch.manual_seed(0)
    return Chain(LOOKALIKES)
