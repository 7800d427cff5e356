"""One build at a time per output directory.

The lock is an advisory `flock` on `<out>/.atlas.lock`: the kernel releases it
when its process dies, however it dies, so a lock left by a killed build is
simply taken over. The file also records who holds it, for the message.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from atlas.errors import AtlasError
from atlas.manifest_types import LOCK_NAME


class BuildLock:
    def __init__(self, site_dir: Path) -> None:
        self.path = Path(site_dir) / LOCK_NAME
        self.handle: int | None = None
        self.took_over: dict | None = None  # the dead holder's record, if any

    def __enter__(self) -> BuildLock:
        ensure_writable(self.path.parent)
        try:  # never through a link: truncating it would truncate the file it names
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as error:
            raise AtlasError(f"cannot open the lock {self.path} ({error.strerror}); if it is "
                             "a symbolic link, remove it: atlas follows no link in its "
                             "output directory") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            who = (f"pid {holder.get('pid')} on {holder.get('host')}, started "
                   f"{holder.get('started')}" if holder else "another process")
            raise AtlasError(f"another atlas build is writing to {self.path.parent} ({who}); "
                             "wait for it to finish or stop it, then run this again") from None
        previous = _read_holder(fd)
        if previous:
            self.took_over = previous  # its process is gone, or flock would have failed
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        self.handle = fd
        return self

    def __exit__(self, kind: type | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.handle is not None:
            os.ftruncate(self.handle, 0)  # an empty file: nobody holds it
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            os.close(self.handle)
            self.handle = None


def _read_holder(fd: int) -> dict:
    try:
        data = os.pread(fd, 4096, 0)
        return json.loads(data) if data.strip() else {}
    except (OSError, ValueError):
        return {}


def ensure_writable(folder: Path) -> None:
    """Creates `folder` if needed and proves a file can be written there."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".atlas-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise AtlasError(f"cannot write to output directory {folder} ({error.strerror}); "
                         "choose another with --out") from None
