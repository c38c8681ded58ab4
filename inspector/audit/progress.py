"""The audit's progress on stderr: a rich progress bar at a terminal, plain lines otherwise.

The bar shows images and layers done out of the total, the stored bytes fetched, and
the time left; the plain lines (for CI logs and pipes) say the same every few seconds, and
each failure gets a line of its own in both.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from inspector import formatting
from inspector.audit.runner import AuditEvents
from inspector.display import one_line

PLAIN_EVERY = 5.0  # seconds between plain progress lines


class PlainProgress(AuditEvents):
    """`audit: 12/40 images, 30/95 layers, 1.2 GB/4.0 GB` every few seconds."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.images = self.layers = self.nbytes = 0
        self.total_images = self.total_layers = self.total_bytes = 0
        self._last = 0.0

    def note(self, text: str) -> None:
        self.stream.write(f"inspector: {one_line(text)}\n")

    def planned(self, images: int, layers: int, nbytes: int) -> None:
        self.total_images, self.total_layers, self.total_bytes = images, layers, nbytes
        self.note(
            f"audit: {images} images to analyse, {layers} layers to index "
            f"({formatting.size(nbytes)} to fetch)"
        )
        self._last = time.monotonic()

    def layer_done(self, nbytes: int) -> None:
        self.layers += 1
        self.nbytes += nbytes
        self._tick()

    def image_done(self, name: str) -> None:
        self.images += 1
        self._tick(force=self.images == self.total_images)

    def failed(self, name: str, message: str) -> None:
        self.stream.write(f"inspector: failed: {one_line(name)}: {one_line(message)}\n")

    def _tick(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < PLAIN_EVERY:
            return
        self._last = now
        self.stream.write(
            f"inspector: audit: {self.images}/{self.total_images} images, "
            f"{self.layers}/{self.total_layers} layers, "
            f"{formatting.size(self.nbytes)}/{formatting.size(self.total_bytes)}\n"
        )
        self.stream.flush()

    def close(self) -> None:
        pass


class BarProgress(PlainProgress):
    """Two rich progress bars (images; layers with bytes), with the time left."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(file=stream, highlight=False)
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[amount]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._images: Any = None
        self._layers: Any = None

    def note(self, text: str) -> None:
        from rich.text import Text

        self.console.print(Text(f"inspector: {one_line(text)}"))

    def planned(self, images: int, layers: int, nbytes: int) -> None:
        self.total_images, self.total_layers, self.total_bytes = images, layers, nbytes
        self._layers = self.bar.add_task("layers", total=layers, amount=self._amount())
        self._images = self.bar.add_task("images", total=images, amount="")
        self.bar.start()

    def _amount(self) -> str:
        return f"{formatting.size(self.nbytes)}/{formatting.size(self.total_bytes)}"

    def layer_done(self, nbytes: int) -> None:
        self.layers += 1
        self.nbytes += nbytes
        if self._layers is not None:
            self.bar.update(self._layers, advance=1, amount=self._amount())

    def image_done(self, name: str) -> None:
        self.images += 1
        if self._images is not None:
            self.bar.update(self._images, advance=1)

    def failed(self, name: str, message: str) -> None:
        from rich.text import Text

        self.console.print(Text(f"inspector: failed: {one_line(name)}: {one_line(message)}"))

    def close(self) -> None:
        self.bar.stop()


def for_stderr() -> PlainProgress:
    stream = sys.stderr
    return BarProgress(stream) if stream.isatty() else PlainProgress(stream)
