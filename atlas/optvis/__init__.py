"""Feature-visualization engine: image parameterizations, transforms, objectives,
scoped hooks and a pure optimization loop. Nothing here writes files or HTML."""
