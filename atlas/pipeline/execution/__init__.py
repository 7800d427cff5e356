"""Where a build's compute runs: the task a driver hands out, the executor contract,
the local executor and the Ray one (`ray/`)."""
