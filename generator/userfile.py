"""Reading a file the user names (the spec, a `{file: PATH}` secret): regular files only, never past a limit.

Opening a FIFO blocks until something writes to it, and a device such as /dev/zero never ends. So the
file's type is checked before it is opened, and again on the descriptor (opened O_NONBLOCK, so even a
FIFO swapped in between cannot block), and no more than the limit is read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class NotRegular(Exception):
    """The path names something other than a regular file or a folder; `kind` says what, e.g. "a FIFO"."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


def read(path: Path, limit: int) -> bytes:
    """At most `limit` + 1 bytes of `path` (so more than `limit` means: too large).

    Raises OSError (a folder is EISDIR, as reading one would be) or NotRegular.
    """
    _regular(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    with os.fdopen(fd, "rb") as handle:
        _regular(os.fstat(fd).st_mode)
        return handle.read(limit + 1)


def _regular(mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
    if not stat.S_ISREG(mode):
        raise NotRegular(_KINDS.get(stat.S_IFMT(mode), "not a regular file"))
