"""A one-line progress bar per layer on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from inspector import formatting
from inspector.display import clean
from inspector.indexer import LayerIndex
from inspector.source import LoadEvents

_WIDTH = 24


class TerminalProgress(LoadEvents):
    """Draws `layer N  name  [#####     ]  12 MB / 40 MB` and rewrites it in place.

    For a compressed layer the bytes decompressed so far follow (`→ 3.1 GB`), so a layer
    that decompresses a great deal from few stored bytes still shows it is moving.
    """

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self._name = ""
        self._done = 0
        self._inflated = 0
        self._total: int | None = None
        self._count = 0
        self._last = 0.0

    @classmethod
    def for_stderr(cls) -> TerminalProgress:
        stream = sys.stderr
        return cls(stream if stream.isatty() else None)

    def layer_started(self, name: str, total: int | None) -> None:
        self._name = clean(name.removeprefix("sha256:")[:20])  # the archive's name for it
        self._done = 0
        self._inflated = 0
        self._total = total
        self._count += 1
        self._draw(force=True)

    def layer_progress(self, nbytes: int) -> None:
        self._done += nbytes
        self._draw()

    def layer_inflated(self, nbytes: int) -> None:
        self._inflated += nbytes
        self._draw()

    def layer_done(self, name: str, index: LayerIndex) -> None:
        self._done = self._total or self._done
        self._draw(force=True)

    def _draw(self, force: bool = False) -> None:
        if self._stream is None:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        if self._total:
            filled = min(_WIDTH, _WIDTH * self._done // max(self._total, 1))
            bar = "[" + "#" * filled + " " * (_WIDTH - filled) + "]"
            amount = f"{formatting.size(self._done)} / {formatting.size(self._total)}"
        else:
            bar = ""
            amount = formatting.size(self._done)
        if self._inflated:
            amount += f"  → {formatting.size(self._inflated)}"
        line = f"indexing layer {self._count}  {self._name}  {bar}  {amount}"
        self._stream.write("\r\x1b[2K" + line[:120])
        self._stream.flush()

    def close(self) -> None:
        if self._stream is not None and self._count:
            self._stream.write("\r\x1b[2K")
            self._stream.flush()
