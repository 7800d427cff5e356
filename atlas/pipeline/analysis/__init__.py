"""Measured answers from a built atlas: the per-unit evidence from the data, the
questions the summary answers, families, flags and class recognition."""
