"""Re-open one layer member of an image archive after the load pass.

The load pass notes where each layer member's data starts in the archive file. Reading
a file of that layer later seeks there and reads only that member (`Window`); when an
outer gzip/zstd wraps the whole archive there is no offset to seek to, so the archive is
decompressed again from the start and every other member skipped (`_find`).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import BinaryIO

from inspector.blobs import Readable, decompressed
from inspector.errors import ContentsError, SourceError
from inspector.indexer import normalize
from inspector.tarstream import TarReader

# (member name, (data offset, size) when the archive can be seeked)
Spot = tuple[str, tuple[int, int] | None]


class Window:
    """`size` bytes of `handle` from its current position: one member's data."""

    def __init__(self, handle: BinaryIO, size: int) -> None:
        self._handle = handle
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self._left:
            n = self._left
        data = self._handle.read(n) if n else b""
        self._left -= len(data)
        return data

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Only relative forward seeks (`whence=1`), which is all a tar reader needs."""
        if whence != io.SEEK_CUR or offset < 0:
            raise io.UnsupportedOperation("a member window only seeks forward")
        offset = min(offset, self._left)
        self._handle.seek(offset, io.SEEK_CUR)
        self._left -= offset
        return offset


class ArchiveMembers:
    """A `LayerOpener` over an archive: layer `position` is member `spots[position]`."""

    def __init__(self, open_file: Callable[[], BinaryIO], label: str, spots: Sequence[Spot]):
        self._open_file = open_file
        self._label = label
        self._spots = tuple(spots)

    @contextmanager
    def __call__(self, position: int) -> Iterator[Readable]:
        name, spot = self._spots[position]
        try:
            handle = self._open_file()
        except FileNotFoundError:
            raise SourceError(f"{self._label}: the archive is gone; cannot read it again") from None
        except OSError as exc:
            raise SourceError(f"{self._label}: cannot open again ({exc.strerror})") from None
        with handle:
            if spot is not None:
                offset, size = spot
                handle.seek(offset)
                yield Window(handle, size)
            else:
                yield self._find(handle, name)

    def _find(self, handle: BinaryIO, name: str) -> Readable:
        """The member's data, reached by reading the (compressed) archive from the start."""
        read, _ = decompressed(handle.read, self._label)
        reader = TarReader(read, self._label)
        for header in reader:
            if header.type == "0" and normalize(header.name)[0] == name:
                return _Content(reader)
        raise ContentsError(f"{self._label}: layer {name} is no longer in the archive")


class _Content:
    """The current entry of a tar reader as a stream."""

    def __init__(self, reader: TarReader) -> None:
        self._reader = reader

    def read(self, n: int = -1) -> bytes:
        return self._reader.read_content(n if n >= 0 else -1)
