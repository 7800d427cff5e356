"""`atlas bench`: atlas's engine side by side with torch-lucent, in one run.

Four ways to optimize the same channels of the same layer, with the same
steps, image size, parameterization (Fourier + decorrelated colour, sigmoid)
and standard transforms: torch-lucent as the seed notebooks call it (one
`render_vis` per channel), torch-lucent at its best (one batched call), atlas,
and the floor (forward to the layer and backward to the input, nothing else).
"""
