"""torch-lucent's InceptionV1 class, without importing all of torchvision.

`lucent/modelzoo/__init__.py` runs `from torchvision.models import *`, which
imports torchvision's detection ops and TorchDynamo with them: seconds of
every InceptionV1 process (docs/speed.md, "Start-up"), for a model that uses
none of it. When nothing
has imported `lucent.modelzoo` yet, its package is set up without running that
line; the torchvision models it would re-export are still there, imported on
first use, so `from lucent.modelzoo import resnet50` keeps working.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

PACKAGE = "lucent.modelzoo"


def _torchvision_model(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    import torchvision.models

    try:
        return getattr(torchvision.models, name)
    except AttributeError:
        raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from None


def inceptionv1_class() -> type:
    if PACKAGE not in sys.modules:
        import lucent

        spec = importlib.util.find_spec(PACKAGE)
        assert spec is not None  # torch-lucent ships lucent/modelzoo, and lucent imported
        package: Any = importlib.util.module_from_spec(spec)  # its attributes are set here
        package.__getattr__ = _torchvision_model
        sys.modules[PACKAGE] = package
        lucent.modelzoo = package
        from lucent.modelzoo.inceptionv1 import InceptionV1

        package.inceptionv1 = InceptionV1  # the name the package itself gives the class
    zoo: Any = sys.modules[PACKAGE]  # a module: its attributes are not known to the checker
    return zoo.inceptionv1
