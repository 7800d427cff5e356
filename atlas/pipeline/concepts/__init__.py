"""Concepts: each layer's dictionary of directions (the `concepts` setting), planned
with a key, fitted on activation vectors sampled over the dataset, measured and stored."""
