"""Trains the default model once, deterministically, and records its accuracies."""

from __future__ import annotations

import io
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from atlas.fsio import write_bytes_atomic, write_json_atomic
from atlas.models.colored_digits import METRICS, WEIGHTS, ColoredDigitsCNN
from atlas.models.digits_data import colour_swapped, load_splits

EPOCHS = 12
BATCH = 64
LR = 2e-3


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(images).argmax(1) == labels).float().mean())


def train_default_model(
    weights: Path = WEIGHTS, metrics: Path = METRICS, seed: int = 0, epochs: int = EPOCHS
) -> dict:
    """Trains on the biased split and saves weights plus a metrics JSON beside them."""
    torch.manual_seed(seed)
    splits = load_splits(seed)
    train = splits["train"]
    model = ColoredDigitsCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train.labels), generator=generator)
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            optimizer.zero_grad()
            F.cross_entropy(model(train.images[batch]), train.labels[batch]).backward()
            optimizer.step()
    swapped = colour_swapped(splits["unbiased_test"], seed)
    model.eval()
    with torch.no_grad():
        predictions = model(swapped.images).argmax(1)
    result = {
        "accuracy": {
            "train": accuracy(model, train.images, train.labels),
            "biased_test": accuracy(model, splits["biased_test"].images,
                                    splits["biased_test"].labels),
            "unbiased_test": accuracy(
                model, splits["unbiased_test"].images, splits["unbiased_test"].labels
            ),
        },
        "colour_swap": {
            "follows_colour": float((predictions == swapped.colours).float().mean()),
            "follows_shape": float((predictions == swapped.labels).float().mean()),
        },
        "training": {"epochs": epochs, "batch": BATCH, "lr": LR, "seed": seed,
                     "train_images": len(train.labels),
                     "test_images": len(splits["biased_test"].labels)},
    }
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    write_bytes_atomic(weights, buffer.getvalue())
    write_json_atomic(metrics, result)
    # Not in the metrics file: equal training must give byte-equal files.
    return {**result, "train_seconds": round(time.perf_counter() - started, 1)}
