"""The kernel view: the first conv layer's filters, drawn from the weights
(computed by `atlas.pipeline.weights.kernels`)."""

from __future__ import annotations

from dataclasses import dataclass

from atlas.views.base import WEIGHTS, View, Where


@dataclass(frozen=True)
class Kernel(View):
    produced_by: str = WEIGHTS

    def applies(self, where: Where) -> bool:
        return where.kernel_layer


KERNEL = Kernel("kernel", manifest_fields={"weight_range": "weight_range"})
