"""Models atlas can open: the embedded default and (later) any user model."""
