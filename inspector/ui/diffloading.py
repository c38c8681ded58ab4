"""The diff UI's load worker: both images through the pipeline, then the diff.

It runs in a thread like `ui/loading.py` and reuses its `UiEvents`: the same progress
messages and cancellation in every callback. A `DiffStage` says which step runs; the
worker never touches a widget. No `FileTree` of either image is grown here: a path's
history needs one, and the screen grows it from the layers when a history is first asked
for (about 1.3 s per 100,000 paths), so the diff never waits for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from inspector.analysis import final_file_system
from inspector.diff import ImageDiff, diff
from inspector.indexer import LayerIndex
from inspector.inspection import Inspection
from inspector.source import LoadedImage
from inspector.tree import FileTree
from inspector.ui.changedtree import ChangedTree, changed_tree
from inspector.ui.loading import Cancelled, Loader, UiEvents, failure

OLD, NEW = "OLD", "NEW"
COMPARING = "compare"


@dataclass
class DiffStage(Message):
    """A step starts: reading OLD or NEW (`which`; `analysing` once its layers are all
    indexed), or comparing them (`COMPARING`)."""

    which: str
    analysing: bool = False


class _Events(UiEvents):
    """`UiEvents` that grow no tree (see the module docstring)."""

    def __init__(
        self, which: str, post: Callable[[Message], object], cancelled: Callable[[], bool]
    ) -> None:
        super().__init__(FileTree(), post, cancelled)
        self.which = which

    def grow(self, layers: tuple[LayerIndex, ...] | None = None) -> None:
        return

    def image_loaded(self, loaded: LoadedImage) -> None:
        self.check()
        self.post(DiffStage(self.which, analysing=True))


@dataclass
class DiffReady(Message):
    """Both images are inspected and compared."""

    result: ImageDiff
    old: Inspection
    new: Inspection
    changed: ChangedTree


def load_diff(
    loaders: tuple[Loader, Loader],
    post: Callable[[Message], object],
    cancelled: Callable[[], bool],
) -> DiffReady | None:
    """Inspect OLD, then NEW (one layer cache: a shared layer is read once), compare them
    and post the result; None when cancelled or failed (a `LoadFailed` says which)."""
    found: list[Inspection] = []
    which = OLD
    try:
        for which, load in zip((OLD, NEW), loaders, strict=True):
            post(DiffStage(which))
            events = _Events(which, post, cancelled)
            found.append(load(events))
            events.check()
        which = COMPARING
        post(DiffStage(COMPARING))
        old, new = found
        systems = final_file_system(old.layers), final_file_system(new.layers)
        if cancelled():
            return None
        result = diff(old, new, systems)
        changed = changed_tree(result.files, *systems)
        changed.tree.prepare_listings()
    except Cancelled:
        return None
    except Exception as exc:
        post(failure(f"Cannot read {which}" if which != COMPARING else "Cannot compare", exc))
        return None
    ready = DiffReady(result, old, new, changed)
    post(ready)
    return ready
