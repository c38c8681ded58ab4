"""Report files: where a FILE argument really points, and writing it without harm.

People run the inspector as root and in CI, so `--json FILE` may name anything:

* `-`, `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`: an open file
  descriptor; the report is written to that descriptor (at the shell's offset, in its
  append mode), nothing is opened, truncated, replaced or removed. Standard output is
  always spelled `-` once checked, so the rest of the CLI has one test for it.
* a FIFO or a character or block device (`/dev/null`, `/dev/tty`): written through,
  opened for writing without creating or truncating it; never replaced or unlinked.
* a symbolic link: followed, link by link, to what it names, which then obeys these same
  rules; a regular file there is replaced next to the target, and the link stays.
* a regular file or a path that does not exist yet: replaced atomically, through a
  temporary file in the same directory renamed over it, keeping an existing file's mode
  (and owner, where allowed). A failure before the rename leaves the old file whole and
  removes the temporary file, so readers see the old report or the whole new one.
* a directory, a socket, a missing or unwritable parent directory: a `UsageError` (exit 2,
  one line), raised by `checked` before any image is read.

`checked` runs before the work, `write` at the end; both resolve the path with the same
`destination`, so what is checked is what is written. `write_chunks` writes a report given
in pieces (a `--json` document of a million paths is hundreds of megabytes, never held
whole) under the same rules: a regular file gets the pieces in its temporary file, and
is replaced only once the last has been written and synced, so an error while a piece is
made leaves the old file as it was. A descriptor, a FIFO or a device gets each piece as
it comes (as any writer to a pipe does, an error part way leaves what was written).
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import fcntl
import os
import re
import secrets
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

from inspector.errors import OutputError, UsageError

STANDARD_OUTPUT = "-"
MAX_LINKS = 40  # as the kernel's ELOOP limit
_STANDARD_NAMES = {"/dev/stdout": 1, "/dev/stderr": 2}
_DESCRIPTOR = re.compile(r"^/(?:dev/fd|proc/(?:self|thread-self|(\d+))/fd)/(\d+)$")
_TEMPORARY_NAME = 200  # characters of the target's name kept in the temporary file's name


class How(Enum):
    """How a destination is written."""

    DESCRIPTOR = "descriptor"  # an already open file descriptor
    THROUGH = "through"  # a FIFO or a device, opened for writing
    REPLACE = "replace"  # a regular file (or a new one), replaced atomically


@dataclass(frozen=True)
class Destination:
    """Where a report goes: `path` (the link target, resolved) or descriptor `fd`."""

    how: How
    path: str = ""
    fd: int = -1


def checked(path: str, flag: str) -> str:
    """`path` checked as a report destination before any work: `-` when it is standard
    output (`/dev/stdout`, `/proc/self/fd/1`, …), else `path` itself.

    Raises UsageError (one line naming `flag` and `path`) for a destination that cannot
    be written."""
    if path == STANDARD_OUTPUT:
        return path
    target = destination(path, flag)
    if target.how is How.DESCRIPTOR and target.fd == 1:
        return STANDARD_OUTPUT
    return path


def write(path: str, text: str, flag: str) -> None:
    """Write the report `text` (UTF-8) to `path` as `destination` says: `-` is standard
    output. Raises UsageError if `path` became unwritable since `checked`, OutputError
    if writing fails (the old file, if any, is then left as it was)."""
    if path == STANDARD_OUTPUT:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    write_chunks(path, (text.encode("utf-8"),), flag)


def write_chunks(path: str, chunks: Iterable[bytes], flag: str) -> None:
    """`write` for a report given as pieces of UTF-8 (joined, they are the report): small
    pieces are gathered into writes of about 1 MiB."""
    pieces = _gathered(chunks)
    if path == STANDARD_OUTPUT:
        _write_standard_output(pieces)
        return
    target = destination(path, flag)
    try:
        if target.how is How.DESCRIPTOR:
            _write_descriptor(target.fd, pieces)
        elif target.how is How.THROUGH:
            _write_through(target.path, pieces)
        else:
            _replace(target.path, pieces)
    except OSError as exc:
        raise OutputError(f"{flag} {path}: cannot write: {_reason(exc)}") from exc


_GATHER = 1 << 20


def _gathered(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """`chunks` with the small ones joined, so that writes are about `_GATHER` bytes."""
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        if len(chunk) >= _GATHER:
            if pending:
                yield b"".join(pending)
                pending, size = [], 0
            yield chunk
            continue
        pending.append(chunk)
        size += len(chunk)
        if size >= _GATHER:
            yield b"".join(pending)
            pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _write_standard_output(pieces: Iterable[bytes]) -> None:
    """Through `sys.stdout` as text, as `print` would (its encoding); the report is decoded
    piece by piece, a character split between two pieces included."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    for piece in pieces:
        sys.stdout.write(decoder.decode(piece))
    sys.stdout.write(decoder.decode(b"", final=True))
    sys.stdout.flush()


def destination(path: str, flag: str) -> Destination:
    """How `path` is written, following symbolic links; UsageError if it cannot be."""
    current = path
    for _ in range(MAX_LINKS + 1):
        fd = _descriptor_number(current)
        if fd is not None:
            _check_descriptor(fd, flag, path)
            return Destination(How.DESCRIPTOR, current, fd)
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            _check_directory(os.path.dirname(current), flag, path)
            return Destination(How.REPLACE, current)
        except OSError as exc:
            raise UsageError(f"{flag} {path}: {_reason(exc)}") from None
        if stat.S_ISLNK(info.st_mode):
            current = os.path.join(os.path.dirname(current), os.readlink(current))
            continue
        return _existing(current, info.st_mode, flag, path)
    raise UsageError(f"{flag} {path}: too many levels of symbolic links")


def _existing(current: str, mode: int, flag: str, path: str) -> Destination:
    """A destination that exists and is no symbolic link (`current`, reached from `path`)."""
    shown = f"{flag} {path}:" if current == path else f"{flag} {path}: its target {current}"
    if stat.S_ISDIR(mode):
        raise UsageError(f"{shown} is a directory (name a file in it)")
    if stat.S_ISREG(mode):
        _check_directory(os.path.dirname(current), flag, path)
        return Destination(How.REPLACE, current)
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        if not os.access(current, os.W_OK):
            raise UsageError(f"{shown} is not writable")
        return Destination(How.THROUGH, current)
    raise UsageError(f"{shown} is a socket, not a file")


def _descriptor_number(path: str) -> int | None:
    """N when `path` names this process's file descriptor N (`/dev/stdout`: 1)."""
    absolute = os.path.normpath(os.path.abspath(path))
    if absolute in _STANDARD_NAMES:
        return _STANDARD_NAMES[absolute]
    match = _DESCRIPTOR.match(absolute)
    if match is None:
        return None
    pid, number = match.groups()
    if pid is not None and int(pid) != os.getpid():
        return None  # another process's descriptor: an ordinary path to follow
    return int(number)


def _check_descriptor(fd: int, flag: str, path: str) -> None:
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:
        raise UsageError(f"{flag} {path}: file descriptor {fd} is not open") from None
    if flags & os.O_ACCMODE == os.O_RDONLY:
        raise UsageError(f"{flag} {path}: file descriptor {fd} is not open for writing")


def _check_directory(directory: str, flag: str, path: str) -> None:
    """A new file can be created in `directory` (for the temporary file)."""
    directory = directory or "."
    if not os.path.isdir(directory):
        what = "is not a directory" if os.path.exists(directory) else "does not exist"
        raise UsageError(f"{flag} {path}: directory {directory} {what}")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: cannot create files in directory {directory}")


def _reason(exc: OSError) -> str:
    return exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_descriptor(fd: int, pieces: Iterable[bytes]) -> None:
    """Write to an open descriptor; Python's own buffers for it are flushed first."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(ValueError, OSError):
            if stream.fileno() == fd:
                stream.flush()
    for piece in pieces:
        _write_all(fd, piece)


def _write_through(path: str, pieces: Iterable[bytes]) -> None:
    """Open a FIFO or a device for writing (no O_CREAT, no O_TRUNC) and write to it."""
    fd = os.open(path, os.O_WRONLY | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
            raise OSError(errno.EEXIST, "it was replaced by another kind of file meanwhile")
        for piece in pieces:
            _write_all(fd, piece)
    finally:
        os.close(fd)


def _replace(path: str, pieces: Iterable[bytes]) -> None:
    """Replace the regular file `path` (or create it) atomically: a temporary file in the
    same directory, written piece by piece, synced (a report is what a person or a CI job
    keeps: after a crash it is the old one or the whole new one), given the old file's
    mode and renamed over it."""
    directory, name = os.path.split(path)
    try:
        old: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        old = None
    fd, temporary = _temporary(directory or ".", name, old)
    try:
        try:
            for piece in pieces:
                _write_all(fd, piece)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _temporary(directory: str, name: str, old: os.stat_result | None) -> tuple[int, str]:
    """A new file `.NAME.RANDOM.tmp` in `directory`: the mode (and, where allowed, the
    owner) of `old`, or 0o666 less the umask for a new report."""
    for _ in range(100):
        path = os.path.join(directory, f".{name[:_TEMPORARY_NAME]}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600 if old else 0o666
            )
        except FileExistsError:
            continue
        try:
            if old is not None:
                if (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
                    with contextlib.suppress(PermissionError):
                        os.fchown(fd, old.st_uid, old.st_gid)
                os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after chown, which clears setuid
        except BaseException:
            os.close(fd)
            os.unlink(path)
            raise
        return fd, path
    raise OSError(errno.EEXIST, f"no free temporary file name in {directory}")
