"""The diff UI's load worker: both images through the pipeline, then the diff.

It runs in a thread like `ui/loading.py` and reuses its `UiEvents`: the same progress
messages, cancellation in every callback, and each image's `FileTree` grown as its layers
arrive (what a file's history is read from). A `DiffStage` says which step runs; the
worker never touches a widget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from inspector.analysis import final_file_system
from inspector.diff import ImageDiff, diff
from inspector.inspection import Inspection
from inspector.tree import FileTree
from inspector.ui.changedtree import ChangedTree, changed_tree
from inspector.ui.loading import Cancelled, Loader, UiEvents, failure

OLD, NEW = "OLD", "NEW"
COMPARING = "compare"


@dataclass
class DiffStage(Message):
    """A step starts: reading OLD or NEW (`which`), or comparing them (`COMPARING`)."""

    which: str


@dataclass
class DiffReady(Message):
    """Both images are inspected and compared."""

    result: ImageDiff
    old: Inspection
    new: Inspection
    changed: ChangedTree


def load_diff(
    loaders: tuple[Loader, Loader],
    trees: tuple[FileTree, FileTree],
    post: Callable[[Message], object],
    cancelled: Callable[[], bool],
) -> DiffReady | None:
    """Inspect OLD, then NEW (one layer cache: a shared layer is read once), compare them
    and post the result; None when cancelled or failed (a `LoadFailed` says which)."""
    found: list[Inspection] = []
    which = OLD
    try:
        for which, load, tree in zip((OLD, NEW), loaders, trees, strict=True):
            post(DiffStage(which))
            events = UiEvents(tree, post, cancelled)
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
