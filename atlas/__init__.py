"""atlas: a Microscope-style static atlas generator for PyTorch CNNs."""

import os

# Intel MKL's matrix products (a linear layer on a CPU) otherwise add up in an order
# that depends on the number of threads, so a Ray worker of one thread and a local
# build of two disagree in the last digits of every value of such a layer. Strict
# conditional numerical reproducibility gives the same bits at any thread count, at
# no measured cost; it must be set before the first product (importing atlas is).
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

# The Python API (docs/api.md); importing it loads no torch until a build runs.
from atlas.api import build, layers  # noqa: E402  (after MKL_CBWR, which must come first)
from atlas.api import open as open  # noqa: E402  (public as atlas.open, not in __all__)
from atlas.errors import AtlasError  # noqa: E402
from atlas.layer_listing import LayerListing, ListedLayer  # noqa: E402
from atlas.results import Atlas, Layer, Unit  # noqa: E402
from atlas.version import __version__  # noqa: E402

# `from atlas import *` takes these; `open` stays `atlas.open`, never shadowing the
# built-in open of the importing module.
__all__ = ["Atlas", "AtlasError", "Layer", "LayerListing", "ListedLayer", "Unit",
           "__version__", "build", "layers"]
