"""atlas: a Microscope-style static atlas generator for PyTorch CNNs."""

__version__ = "0.1.0"
