"""Models atlas can open."""
