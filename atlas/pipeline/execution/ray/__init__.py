"""Running a build's compute on a Ray cluster: one worker per device slot, the
driver planning, dispatching and writing. Imported only for `--executor ray`;
Ray itself is an optional dependency (`pip install 'atlas[ray]'`)."""
