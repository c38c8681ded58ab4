"""The loader boundary: every source turns what the user named into a LoadedImage.

A source reads its input once, in one forward pass where the input is a stream (a
`docker save` tar puts its metadata last, and a pipe cannot seek), and reports what it
learns through `LoadEvents` so a UI can fill in as layers are indexed.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from inspector.blobs import Readable
from inspector.indexer import LayerIndex
from inspector.model import Image
from inspector.sharing import OtherImage


class LayerOpener(Protocol):
    """Re-opens the stored blob of layer `position` (0 = base) after the load.

    Each call gives a fresh raw (still compressed) stream of that one blob: a window onto
    a local archive, an OCI blob file, one registry GET. A stream that can also
    `seek(n, 1)` (and says so with `seekable()`) lets a reader jump over file contents.
    """

    def __call__(self, position: int) -> AbstractContextManager[Readable]: ...


@dataclass(frozen=True, slots=True)
class LoadedImage:
    """An image and the index of each of its layers, base first.

    `reopen` re-reads one layer blob for file contents (`inspector.contents`); when the
    source cannot (a pipe, an engine stream) it is None and `reopen_note` says why.
    """

    image: Image
    layers: tuple[LayerIndex, ...]
    warnings: tuple[str, ...] = ()
    others: tuple[OtherImage, ...] = ()
    reopen: LayerOpener | None = field(default=None, compare=False)
    reopen_note: str = field(default="this source cannot read a layer again", compare=False)


class LoadEvents:
    """Callbacks a source makes while loading. The base class ignores them all."""

    def image_known(self, image: Image) -> None:
        """The manifest and config are read (before layers for seekable sources)."""

    def layer_started(self, name: str, total: int | None) -> None:
        """A layer blob starts streaming; `total` is its stored size when known."""

    def layer_progress(self, nbytes: int) -> None:
        """`nbytes` more stored bytes of the current layer were read."""

    def layer_inflated(self, nbytes: int) -> None:
        """`nbytes` more bytes of the current (compressed) layer were decompressed.

        A compressed layer reads its stored bytes in batches and can decompress a great
        deal from one batch (20 GiB of a gzip bomb from 21 MB), so this comes far more
        often than `layer_progress`. By default it is `layer_progress(0)`: a listener
        that checks for cancellation there is called all along.
        """
        self.layer_progress(0)

    def layer_done(self, name: str, index: LayerIndex) -> None:
        """A layer blob is fully indexed and its digests computed."""

    def image_loaded(self, loaded: LoadedImage) -> None:
        """Every layer is indexed; the analysis starts next (`inspector.pipeline`)."""


class ImageSource(Protocol):
    """What every source provides."""

    label: str

    def load(self, events: LoadEvents) -> LoadedImage:
        """Read the image and index every layer; raise InspectorError on bad input."""
        ...

    def chain(self) -> OtherImage:
        """Only the image's layer chain (manifest and config, no layer blob)."""
        ...
