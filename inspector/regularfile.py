"""Open a file of an image on local disk, and only if it is a regular file.

An archive path, or a file inside an OCI layout, may be something else: a FIFO (opening
one for reading waits for a writer forever), a device (`/dev/zero` never ends), a
directory, a socket, or, inside a layout, a symbolic link that leads out of it or loops.
`open_regular` is the one way the sources open such a file:

* `O_NONBLOCK`, so opening a FIFO returns at once instead of waiting for a writer;
* `O_NOFOLLOW` when `follow` is False (files inside a layout): a symbolic link there is
  refused, as is a link loop;
* `fstat` on the opened descriptor (not on the path, which could change in between)
  must say "regular file"; only then is the descriptor made blocking again and handed
  back as a binary file.

A path that names nothing raises FileNotFoundError, which each source words itself;
everything else is a `NotRegularFile` or a SourceError naming the file.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from inspector.errors import SourceError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class NotRegularFile(SourceError):
    """The path names a directory, FIFO, device or socket; `kind` says which."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def open_regular(path: str, what: str, *, follow: bool = True, hint: str = "") -> BinaryIO:
    """`path` opened for reading, after checking that it is a regular file.

    `what` names the file in errors; `follow` False refuses a symbolic link as the last
    component; `hint` is added to the error for a file that is not regular.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if not follow:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            if follow:
                raise SourceError(f"{what}: symbolic link loop") from None
            raise SourceError(
                f"{what}: is a symbolic link (links inside an image are not followed)"
            ) from None
        raise SourceError(f"{what}: cannot open ({exc.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "an unknown kind of file")
            raise NotRegularFile(f"{what}: is {kind}, not a regular file{hint}", kind)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
