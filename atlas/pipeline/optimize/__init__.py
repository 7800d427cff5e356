"""Optimizing a build's images: jobs packed into batches, one batch through the
optimizer, batches scheduled on an executor and sized to the memory they may take."""
