"""The version of atlas, one place (importing it loads nothing else)."""

__version__ = "0.1.0"
