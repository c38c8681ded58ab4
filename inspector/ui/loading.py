"""The load worker's body: the pipeline's `inspect`, growing the file tree, posting messages.

It runs in a thread (sources and the indexer are synchronous), never touches a widget or
a reactive, and checks for cancellation in every progress callback so that quitting
during a long load returns at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.message import Message

from inspector.digest import Digest
from inspector.errors import InspectorError
from inspector.indexer import LayerIndex
from inspector.inspection import Inspection
from inspector.model import Image
from inspector.source import LoadedImage, LoadEvents
from inspector.tree import FileTree
from inspector.ui.messages import (
    ImageKnown,
    LayersApplied,
    LayerStarted,
    LoadFailed,
    LoadFinished,
    LoadProgress,
)

Loader = Callable[[LoadEvents], Inspection]
"""`pipeline.inspect` of one image, with these events (see `app_for`)."""
PROGRESS_INTERVAL = 0.05  # seconds between two progress messages


class Cancelled(Exception):
    """The app is closing: stop loading."""


class UiEvents(LoadEvents):
    """Turns a source's callbacks into messages and grows the file tree in layer order."""

    def __init__(
        self, tree: FileTree, post: Callable[[Message], object], cancelled: Callable[[], bool]
    ) -> None:
        self.tree = tree
        self.post = post
        self.cancelled = cancelled
        self.image: Image | None = None
        self.indexed: dict[Digest, LayerIndex] = {}
        self.count = 0
        self.name = ""
        self.done = 0
        self.total: int | None = None
        self.last = 0.0

    def check(self) -> None:
        if self.cancelled():
            raise Cancelled

    def image_known(self, image: Image) -> None:
        self.check()
        self.image = image
        self.post(ImageKnown(image))
        self.grow()

    def layer_started(self, name: str, total: int | None) -> None:
        self.check()
        self.count += 1
        self.name, self.done, self.total = name, 0, total
        self.post(LayerStarted(name, total, self.count))

    def layer_progress(self, nbytes: int) -> None:
        self.check()
        self.done += nbytes
        now = time.monotonic()
        if now - self.last >= PROGRESS_INTERVAL:
            self.last = now
            self.post(LoadProgress(self.name, self.done, self.total))

    def layer_done(self, name: str, index: LayerIndex) -> None:
        self.check()
        if index.diff_id is not None:
            self.indexed[index.diff_id] = index
        self.post(LoadProgress(name, self.total or self.done, self.total))
        self.grow()

    def image_loaded(self, loaded: LoadedImage) -> None:
        """Every layer is indexed: the tree gets them all before the analysis runs."""
        self.check()
        self.image = loaded.image
        for info, index in zip(loaded.image.layers, loaded.layers, strict=False):
            self.indexed.setdefault(info.diff_id, index)
        self.grow(loaded.layers)

    def grow(self, layers: tuple[LayerIndex, ...] | None = None) -> None:
        """Add to the tree every layer whose index and position are both known."""
        image = self.image
        if image is None:
            return
        tree = self.tree
        while tree.layer_count < len(image.layers):
            position = tree.layer_count
            if layers is not None:
                index: LayerIndex | None = layers[position]
            else:
                index = self.indexed.get(image.layers[position].diff_id)
            if index is None:
                return
            self.check()
            tree.add_layer(index)
            self.post(LayersApplied(tree.layer_count, self.stored(image)))

    def stored(self, image: Image) -> tuple[int | None, ...]:
        sizes: list[int | None] = []
        for info in image.layers:
            index = self.indexed.get(info.diff_id)
            if info.size is not None:
                sizes.append(info.size)
            else:
                sizes.append(index.compressed_size if index is not None else None)
        return tuple(sizes)


def failure(title: str, exc: Exception) -> LoadFailed:
    """The dialog for an error: its one line, or for a bug what the CLI says of one."""
    if isinstance(exc, InspectorError):
        return LoadFailed(title, exc.message)
    return LoadFailed(
        "Internal error",
        f"internal error: {type(exc).__name__}: {exc} "
        "(run with --debug for a traceback, and please report it)",
    )


def load_into(
    load: Loader,
    tree: FileTree,
    post: Callable[[Message], object],
    cancelled: Callable[[], bool],
) -> Inspection | None:
    """Inspect the image, growing `tree` as layers arrive; post every step. None when
    cancelled or failed."""
    events = UiEvents(tree, post, cancelled)
    try:
        inspection = load(events)
        events.check()
    except Cancelled:
        return None
    except Exception as exc:
        post(failure("Cannot read the image", exc))
        return None
    post(LoadFinished(inspection))
    return inspection
