"""Start-up: atlas's Adam takes the same steps as torch.optim.Adam, bit for
bit, without importing TorchDynamo; the digits are scikit-learn's without
importing it; the default model's commands import none of the heavy packages."""

from __future__ import annotations

import ast
import subprocess
import sys

import numpy as np
import torch

from atlas.optvis.adam import Adam


def test_adam_matches_torch_bit_for_bit() -> None:
    generator = torch.Generator().manual_seed(0)
    shapes = [(4, 3, 8, 8), (7,), (2, 5)]
    ours = [torch.randn(s, generator=generator).requires_grad_() for s in shapes]
    ours[0] = ours[0].detach().contiguous(memory_format=torch.channels_last).requires_grad_()
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    mine, reference = Adam(ours, lr=0.05), torch.optim.Adam(theirs, lr=0.05)
    for _ in range(40):
        grads = [torch.randn(s, generator=generator) * 10 for s in shapes]
        for params, optimizer in ((ours, mine), (theirs, reference)):
            optimizer.zero_grad(set_to_none=True)
            for param, grad in zip(params, grads):
                param.grad = grad.clone()
            optimizer.step()
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


def test_the_digits_are_scikit_learns() -> None:
    from sklearn.datasets import load_digits

    from atlas.models.digits_data import _bundled_digits

    images, classes = _bundled_digits()
    digits = load_digits()
    assert np.array_equal(images, digits.images) and images.dtype == digits.images.dtype
    assert np.array_equal(classes, digits.target)


def imported(command: str, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` an atlas command imports (in a fresh process)."""
    script = (f"import sys; from atlas.cli import main; main({command}); "
              f"print(sorted(m for m in {modules!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_start_up_imports_only_what_the_command_needs(tmp_path) -> None:
    build = ["build", "--layers", "conv2", "--channels", "0-1", "--views", "positive",
             "--steps", "2", "--quiet", "--out", str(tmp_path / "site")]
    heavy = ("torch._dynamo", "torchvision", "lucent", "sklearn")
    assert imported(repr(build), heavy) == []
    assert imported(repr(["layers"]), heavy) == []


def test_inceptionv1_loads_without_torchvision() -> None:
    """torch-lucent's model zoo package re-exports all of torchvision's models;
    atlas sets it up without importing them until one is asked for."""
    script = (
        "import sys\n"
        "from atlas.models.registry import load_model\n"
        "loaded = load_model('lucent:inceptionv1', None)\n"
        "before = sorted(m for m in ('torchvision', 'torch._dynamo') if m in sys.modules)\n"
        "from lucent.modelzoo import inceptionv1, resnet18\n"
        "print([before, type(loaded.module) is inceptionv1, resnet18.__module__])\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    before, same_class, origin = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert before == [] and same_class and origin == "torchvision.models.resnet"
