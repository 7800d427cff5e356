"""What the weights alone show: the first layer's kernels and the circuits between
layers (connections)."""
