"""Concept dictionaries on planted data: NMF and the TopK autoencoder find the planted
directions, reconstruct the activations, agree across seeds, and the measures give
exact values on cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from atlas.dictionaries import (
    dead_concepts,
    encode,
    explained_variance,
    fit_dictionary,
    parse_spec,
    stability,
)
from atlas.dictionaries.fit import reconstruct
from atlas.errors import AtlasError


def _planted(count: int = 6, channels: int = 12, vectors: int = 800, active: int = 2,
             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative vectors, each a sum of `active` of `count` planted directions."""
    rng = np.random.default_rng(seed)
    directions = rng.random((count, channels)) ** 3
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    codes = np.zeros((vectors, count))
    for row in codes:
        row[rng.choice(count, active, replace=False)] = rng.random(active) + 0.5
    return (codes @ directions).astype(np.float32), directions


def test_measures_by_hand() -> None:
    values = np.array([[1.0, 0.0], [3.0, 0.0]])
    assert explained_variance(values, values) == 1.0
    assert explained_variance(values, np.array([[2.0, 0.0], [2.0, 0.0]])) == 0.0
    assert explained_variance(values, np.array([[1.0, 0.0], [2.0, 0.0]])) == 0.5
    assert dead_concepts(np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])) == [0]
    identity = np.eye(3)
    assert stability(identity, identity[[2, 0, 1]]) == pytest.approx(1.0)
    assert stability(identity[:2], identity[1:]) == pytest.approx(0.5)  # one of two matches


# The autoencoder keeps as many concepts per vector as the planted data has; its
# results on this data, seed 1 (this machine): R² 0.950, matched cosine to the planted
# directions 0.972; NMF: 1.000 and 0.999. Both start at random: seed 0 leaves NMF in a
# local minimum on this data (R² 0.996, 0.893), which is what stability measures.
BOUNDS = {"nmf": ({}, 0.99, 0.99), "sae": ({"top_k": 2}, 0.93, 0.95)}


@pytest.mark.parametrize("method", ["nmf", "sae"])
def test_a_dictionary_finds_the_planted_directions(method: str) -> None:
    values, planted = _planted()
    settings, least_r2, least_match = BOUNDS[method]
    fitted = fit_dictionary(method, values, 6, seed=1, **settings)
    assert fitted.directions.shape == (6, 12)
    assert np.allclose(np.linalg.norm(fitted.directions, axis=1), 1.0, atol=1e-5)
    codes = encode(fitted, values)
    assert explained_variance(values, reconstruct(fitted, codes)) > least_r2
    assert stability(fitted.directions, planted) > least_match
    assert dead_concepts(codes) == []


# Two seeds whose fits both reach the planted optimum agree; a fit left in a local
# minimum (NMF from seed 0 here) agrees less, which is what stability is there to show.
AGREEING = {"nmf": (1, 2), "sae": (0, 1)}


@pytest.mark.parametrize("method", ["nmf", "sae"])
def test_fits_are_seeded_and_stable_across_seeds(method: str) -> None:
    values, _ = _planted()
    settings, _, least_match = BOUNDS[method]
    first_seed, second_seed = AGREEING[method]
    first = fit_dictionary(method, values, 6, seed=first_seed, **settings)
    again = fit_dictionary(method, values, 6, seed=first_seed, **settings)
    assert np.array_equal(first.directions, again.directions)
    other = fit_dictionary(method, values, 6, seed=second_seed, **settings)
    assert stability(first.directions, other.directions) > least_match


def test_stability_shows_a_fit_left_in_a_local_minimum() -> None:
    values, _ = _planted()
    stuck, good = (fit_dictionary("nmf", values, 6, seed=seed) for seed in (0, 1))
    assert stability(stuck.directions, good.directions) < 0.95


def test_nmf_refuses_a_layer_with_negative_values() -> None:
    values, _ = _planted()
    values[0, 0] = -0.5
    with pytest.raises(AtlasError, match="nmf needs a non-negative layer, and this one "
                                         "reaches -0.5; use sae:6 for it"):
        fit_dictionary("nmf", values, 6, seed=0)
    assert fit_dictionary("sae", values, 6, seed=0).count == 6


def test_the_sae_keeps_top_k_codes() -> None:
    values, _ = _planted(count=8, vectors=400)
    fitted = fit_dictionary("sae", values, 8, seed=0, top_k=2, steps=300)
    codes = encode(fitted, values)
    assert ((codes > 0).sum(axis=1) <= 2).all() and fitted.settings["top_k"] == 2


@pytest.mark.parametrize(("text", "parsed"), [("nmf:64", ("nmf", 64)), ("sae:8", ("sae", 8))])
def test_specs(text: str, parsed: tuple[str, int]) -> None:
    assert parse_spec(text) == parsed


@pytest.mark.parametrize("text", ["pca:4", "nmf", "nmf:0", "sae:x"])
def test_bad_specs_say_the_form(text: str) -> None:
    with pytest.raises(AtlasError, match="must be a method and a count, e.g. nmf:64"):
        parse_spec(text)
