"""Adam for the optimization loop, without `torch.optim`.

`torch.optim` imports TorchDynamo the first time an optimizer is made: a large
share of a small build's start-up, paid by every `atlas build` process
(docs/speed.md, "Start-up"). This is
the same arithmetic, operation for operation, as `torch.optim.Adam`'s
single-tensor path (the one it takes on CPU), so images do not change
(`tests/test_adam.py` checks it bit for bit).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class Adam:
    def __init__(self, params: Iterable[torch.Tensor], lr: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = [param for param in params if param.requires_grad]
        self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps
        self.steps = 0
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format)
                        for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format)
                           for p in self.params]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self, rows: torch.Tensor | None = None) -> None:
        """One update; `rows` (indices along the first dimension of every
        parameter) limits it to those images, leaving the others and their
        moments as they are: finished images of a batch stay finished."""
        self.steps += 1
        # torch counts steps in a float32 tensor and reads them back as a float
        step = float(self.steps)
        bias_correction1 = 1 - self.beta1 ** step
        bias_correction2_sqrt = (1 - self.beta2 ** step) ** 0.5
        step_size = self.lr / bias_correction1
        for param, exp_avg, exp_avg_sq in zip(self.params, self.exp_avg, self.exp_avg_sq):
            grad = param.grad
            if grad is None:
                continue
            if rows is None:
                self._update(param, grad, exp_avg, exp_avg_sq, bias_correction2_sqrt, step_size)
                continue
            part = [t.index_select(0, rows) for t in (param, grad, exp_avg, exp_avg_sq)]
            # part holds the four tensors: mypy cannot count a list's items
            self._update(*part, bias_correction2_sqrt, step_size)  # type: ignore[arg-type, call-arg]
            for whole, updated in zip((param, exp_avg, exp_avg_sq), (part[0], *part[2:])):
                whole.index_copy_(0, rows, updated)

    def _update(self, param: torch.Tensor, grad: torch.Tensor, exp_avg: torch.Tensor,
                exp_avg_sq: torch.Tensor, bias_correction2_sqrt: float, step_size: float) -> None:
        exp_avg.lerp_(grad, 1 - self.beta1)
        exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
        param.addcdiv_(exp_avg, denom, value=-step_size)
