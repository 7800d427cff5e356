"""Dictionaries of a layer's directions (concepts): NMF for a non-negative layer, a
TopK sparse autoencoder for any layer, fitted on activation vectors (one per sampled
position), and the measures of a dictionary: how much of the activations it
reconstructs, which concepts never fire, how stable it is across seeds.

Pure compute on arrays, like optvis: nothing here reads a model, a dataset or a file.
"""

from atlas.dictionaries.dictionary import Dictionary
from atlas.dictionaries.fit import METHODS, encode, fit_dictionary, parse_spec
from atlas.dictionaries.measures import dead_concepts, explained_variance, stability

__all__ = ["METHODS", "Dictionary", "dead_concepts", "encode", "explained_variance",
           "fit_dictionary", "parse_spec", "stability"]
