"""The changed paths of a diff as a file tree the main tree's widget shows (pure: no Textual).

A `FileTree` view compares two layers; a diff compares two final file systems. So the
changed paths are stacked as a two-layer `FileTree`: layer 0 holds OLD's entries of every
removed or modified path, layer 1 NEW's entries of every added or modified path and a
whiteout for every removed one, and each holds the directories above those paths as its
image has them. The view `(0, 1)` then shows exactly the diff's paths, each added,
removed or modified as `diff.files` says (both compare with `FileEntry.differences`),
below directories that are themselves unchanged unless the diff says otherwise; the
main tree's listings, masks, search, size filters and sort work on it as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from inspector.analysis import FinalFileSystem
from inspector.changes import FileEntry
from inspector.diff import ChangedPath, FileDiff
from inspector.indexer import LayerIndex
from inspector.tree import FileTree, ancestors

VIEW = (0, 1)  # the (lo, hi) of the one view: OLD's side against NEW's


@dataclass(frozen=True, slots=True)
class Below:
    """The changed paths below a directory (itself excluded) and their net size change."""

    paths: int
    bytes: int


@dataclass(frozen=True, slots=True)
class ChangedTree:
    """The tree of changed paths, each path's change, and the sums below each directory."""

    tree: FileTree
    changes: Mapping[str, ChangedPath]
    below: Mapping[str, Below]

    def change(self, path: str) -> ChangedPath | None:
        return self.changes.get(path)

    def old_entry(self, path: str) -> FileEntry | None:
        """The path's entry in OLD (None: OLD does not have it)."""
        version = self.tree.version(path, VIEW[0])
        return version.entry if version is not None else None

    def new_entry(self, path: str) -> FileEntry | None:
        """The path's entry in NEW (None: NEW does not have it)."""
        version = self.tree.version(path, VIEW[1])
        return version.entry if version is not None else None


def _with_parents(paths: Iterable[str], system: FinalFileSystem) -> dict[str, FileEntry]:
    """Each path's entry in `system`, and those of the directories above it that the
    system shows, parents before children (a prefix sorts first)."""
    shown = system.shown
    wanted: set[str] = set()
    for path in paths:
        if path in shown:
            wanted.add(path)
        for parent in ancestors(path):
            if parent in wanted or not parent:
                break
            if parent in shown:
                wanted.add(parent)
    return {path: shown[path][1] for path in sorted(wanted)}


def changed_tree(files: FileDiff, old: FinalFileSystem, new: FinalFileSystem) -> ChangedTree:
    """The two-layer tree of `files`, the diff of `old` and `new` (see the docstring)."""
    removed = [c.path for c in files.removed]
    modified = [c.path for c in files.modified]
    added = [c.path for c in files.added]
    lower = LayerIndex(entries=_with_parents([*removed, *modified, *added], old))
    upper = LayerIndex(
        entries=_with_parents([*added, *modified, *removed], new),
        whiteouts={path: old.shown[path][1] for path in removed},
    )
    # `_with_parents` on OLD skips added paths themselves (OLD lacks them) and keeps their
    # parents; on NEW it skips removed paths and keeps theirs: both sides then hold every
    # directory a change lies below, so only the diff's own paths differ
    changes: dict[str, ChangedPath] = {}
    sums: dict[str, list[int]] = {}
    for group in (files.added, files.removed, files.modified):
        for change in group:
            changes[change.path] = change
            for parent in ancestors(change.path):
                row = sums.setdefault(parent, [0, 0])
                row[0] += 1
                row[1] += change.bytes
    below = {path: Below(n, b) for path, (n, b) in sums.items()}
    return ChangedTree(FileTree((lower, upper)), changes, below)
