"""Feature-visualization engine: image parameterizations, transforms, objectives,
scoped hooks and a pure optimization loop. Nothing here writes files or HTML."""

# The image parameterizations, by their name in the `param` setting (optvis/param.py);
# here so that reading settings does not import torch.
PARAMS = ("pixel", "fourier", "maco")
# The `precision` setting's values (optvis/precision.py), here for the same reason.
PRECISIONS = ("auto", "fp32", "bf16")
