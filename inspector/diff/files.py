"""The final file systems of two images compared (pure): added, removed and modified
paths, each with its size change and the layer of NEW that brings it.

Each image's final file system comes from `analysis.final_file_system`, the stacking the
exact accounting uses (opaque directories, then whiteouts, then entries; a directory that
only a deeper path implies is `drwxr-xr-x 0:0`), so there is no stacking here. A path is
modified when its type, content digest (regular files), mode, owner (uid/gid) or link
target differ (`FileEntry.differences`); a path rewritten with identical content and
metadata (a new mtime only) is not a change.
"""

from __future__ import annotations

from collections.abc import Iterable

from inspector.analysis import FinalFileSystem
from inspector.changes import EntryType
from inspector.diff.model import ChangedPath, DirectoryChange, FileChange, FileDiff


def compare(old: FinalFileSystem, new: FinalFileSystem) -> FileDiff:
    """The paths whose final state differs, largest size changes first."""
    added: list[ChangedPath] = []
    removed: list[ChangedPath] = []
    modified: list[ChangedPath] = []
    before = old.shown
    for path, (layer, after) in new.shown.items():
        lower = before.get(path)
        if lower is None:
            added.append(
                ChangedPath(path, FileChange.ADDED, after.type, after.size, 0, after.size, layer)
            )
            continue
        previous = lower[1]
        if previous is after or previous == after:
            continue
        fields = after.differences(previous)
        if fields:
            modified.append(
                ChangedPath(path, FileChange.MODIFIED, after.type, after.size - previous.size,
                            previous.size, after.size, layer, fields)
            )  # fmt: skip
    for path in before.keys() - new.shown.keys():
        previous = before[path][1]
        removed.append(
            ChangedPath(path, FileChange.REMOVED, previous.type, -previous.size, previous.size,
                        0, new.removed_by.get(path))
        )  # fmt: skip
    for group in (added, removed, modified):
        group.sort(key=lambda c: (-abs(c.bytes), c.path))
    return FileDiff(
        tuple(added), tuple(removed), tuple(modified), by_directory(added, removed, modified)
    )


def top_directory(path: str, is_dir: bool = False) -> str:
    """The top-level directory a path lies in (or is), `/` for a non-directory at the root."""
    slash = path.find("/")
    if slash >= 0:
        return f"/{path[:slash]}"
    return f"/{path}" if is_dir else "/"


def by_directory(*groups: Iterable[ChangedPath]) -> tuple[DirectoryChange, ...]:
    """The changes summed per top-level directory, the largest size change first."""
    sums: dict[str, list[int]] = {}
    slot = {FileChange.ADDED: 1, FileChange.REMOVED: 2, FileChange.MODIFIED: 3}
    for group in groups:
        for change in group:
            top = top_directory(change.path, change.type is EntryType.DIR)
            row = sums.setdefault(top, [0, 0, 0, 0])
            row[0] += change.bytes
            row[slot[change.change]] += 1
    rows = [DirectoryChange(name, *values) for name, values in sums.items()]
    rows.sort(key=lambda d: (-abs(d.bytes), d.directory))
    return tuple(rows)
