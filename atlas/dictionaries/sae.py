"""A TopK sparse autoencoder (Gao et al. 2024): codes = TopK(ReLU((x − b)·W + c)),
x ≈ codes · D + b, the rows of D (the directions) kept at unit length. Trained with
Adam on shuffled batches, every draw from a generator seeded by `seed`."""

from __future__ import annotations

import numpy as np
import torch

from atlas.dictionaries.dictionary import Dictionary

STEPS = 1500
BATCH = 256
LR = 3e-3


def default_top_k(count: int) -> int:
    """Active concepts per vector: a tenth of them (90% sparsity), at least one."""
    return max(1, count // 10)


def _topk(pre: torch.Tensor, k: int) -> torch.Tensor:
    values, indices = torch.relu(pre).topk(k, dim=1)
    return torch.zeros_like(pre).scatter(1, indices, values)


def fit_topk_sae(values: np.ndarray, count: int, seed: int, top_k: int | None = None,
                 steps: int = STEPS, batch: int = BATCH, lr: float = LR) -> Dictionary:
    k = min(top_k or default_top_k(count), count)
    generator = torch.Generator().manual_seed(seed)
    data = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
    channels = data.shape[1]
    input_bias = torch.zeros(channels, requires_grad=True)
    # Directions start at random vectors of the data (random ones, where there are
    # fewer vectors than concepts): a concept starts where the activations are.
    starts = torch.randperm(len(data), generator=generator)[:count]
    decoder = torch.cat([data[starts], torch.randn(count - len(starts), channels,
                                                   generator=generator)])
    decoder = decoder / decoder.norm(dim=1, keepdim=True).clamp_min(1e-12)
    weight = decoder.t().clone().requires_grad_(True)  # the encoder starts tied to D
    decoder.requires_grad_(True)
    bias = torch.zeros(count, requires_grad=True)
    optimizer = torch.optim.Adam([weight, bias, decoder, input_bias], lr=lr)
    for _ in range(steps):
        rows = torch.randint(len(data), (min(batch, len(data)),), generator=generator)
        x = data[rows] - input_bias
        codes = _topk(x @ weight + bias, k)
        loss = ((codes @ decoder - x) ** 2).sum(1).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            decoder /= decoder.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return Dictionary(
        "sae", decoder.detach().numpy().astype(np.float32), seed,
        {"top_k": k, "steps": steps, "batch": batch, "lr": lr},
        {"weight": weight.detach().numpy().astype(np.float32),
         "bias": bias.detach().numpy().astype(np.float32),
         "input_bias": input_bias.detach().numpy().astype(np.float32)})


def sae_codes(dictionary: Dictionary, values: np.ndarray) -> np.ndarray:
    encoder = dictionary.encoder
    assert encoder is not None  # an SAE dictionary keeps its encoder
    with torch.no_grad():
        x = torch.from_numpy(np.asarray(values, dtype=np.float32)) - torch.from_numpy(
            encoder["input_bias"])
        pre = x @ torch.from_numpy(encoder["weight"]) + torch.from_numpy(encoder["bias"])
        return _topk(pre, int(dictionary.settings["top_k"])).numpy()
