"""Files the platform writes that must never be seen half-written."""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress


def write_file_atomically(path: str | os.PathLike, data: bytes, *, mode: int = 0o600) -> None:
    """A temporary file in the same folder (0600 from creation, then `mode`), flushed to disk, then
    renamed over `path`: readers see the old content or the new one, never half of it."""
    directory, name = os.path.split(os.fspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            if mode != 0o600:  # before the rename: nobody sees the file with other permissions
                os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)
