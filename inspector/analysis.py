"""Exact accounting over the stacked file system (pure: no I/O).

Layers are applied base first, each the way a runtime applies it: opaque markers, then
whiteouts (both only ever hide what lower layers put there), then the layer's entries
in tar order (a non-directory over a directory replaces the whole subtree; a directory
over a directory changes attributes only). Every regular file a layer stores is a
*copy*; a copy stays visible while a path of the final file system (its own, or a hard
link bound to it) still shows it. Copies the final file system never shows are wasted,
and each one records the layer that stored it, the layer that hid it and how.
See docs/metrics.md for worked examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from inspector.changes import ChangeKind, EntryType, FileEntry, Removal
from inspector.gcpause import gc_paused
from inspector.indexer import LayerIndex
from inspector.model import Image


class WastedFile(NamedTuple):
    """A stored regular file the final file system never shows (a NamedTuple: an image
    can have tens of thousands, and a cached result rebuilds them at C speed)."""

    path: str
    size: int
    stored_in: int
    hidden_by: int
    how: Removal


@dataclass(slots=True)
class LayerStats:
    """What one layer does to the file system below it."""

    position: int
    added: int = 0
    modified: int = 0
    removed: int = 0
    unchanged: int = 0
    added_bytes: int = 0
    modified_bytes: int = 0
    removed_bytes: int = 0
    stored_bytes: int = 0  # regular-file bytes in this layer's tar
    wasted_bytes: int = 0  # of those, bytes a later layer (or a later duplicate) hides
    contribution: int = 0  # change of the visible bytes of the file system
    cumulative: int = 0  # visible bytes of the file system after this layer


@dataclass(slots=True)
class LayerChanges:
    """Per path, how one layer changes it; `reasons` says what a modification changed."""

    kinds: dict[str, ChangeKind] = field(default_factory=dict)
    reasons: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExactWaste:
    stored_bytes: int
    visible_bytes: int
    wasted_bytes: int
    user_stored_bytes: int
    wasted_files: tuple[WastedFile, ...]

    @property
    def efficiency(self) -> float:
        return self.visible_bytes / self.stored_bytes if self.stored_bytes else 1.0

    @property
    def user_wasted_percent(self) -> float:
        """Wasted bytes over the bytes stored by layers above the first (dive's 'user')."""
        if self.user_stored_bytes:
            return self.wasted_bytes / self.user_stored_bytes
        return 0.0


@dataclass(frozen=True, slots=True)
class Analysis:
    image: Image
    layers: tuple[LayerStats, ...]
    changes: Sequence[LayerChanges]  # a tuple, or results.StoredChanges (decoded lazily)
    exact: ExactWaste
    warnings: tuple[str, ...]
    final_paths: int


class _Node:
    __slots__ = ("copy", "entry", "is_dir", "layer")

    def __init__(self, entry: FileEntry | None, layer: int, copy: int, is_dir: bool) -> None:
        self.entry = entry  # None: a directory implied by a deeper entry
        self.layer = layer
        self.copy = copy  # index into the copy table, -1 for none
        self.is_dir = is_dir  # entry is None or entry.type is DIR (a dir stays a dir)


class _Stack:
    """The stacked file system and the table of stored copies."""

    def __init__(self) -> None:
        self.nodes: dict[str, _Node] = {}
        self.children: dict[str, set[str]] = {"": set()}
        self.copy_path: list[str] = []
        self.copy_size: list[int] = []
        self.copy_layer: list[int] = []
        self.refs: list[int] = []
        self.hidden: dict[int, tuple[int, Removal]] = {}
        self.live_bytes = 0
        self.removed_now: dict[str, FileEntry | None] = {}  # paths the current layer removed

    def unref(self, copy: int, layer: int, how: Removal) -> None:
        if copy < 0:
            return
        self.refs[copy] -= 1
        if self.refs[copy] == 0:
            self.hidden[copy] = (layer, how)
            self.live_bytes -= self.copy_size[copy]

    def add(self, path: str, node: _Node) -> None:
        self.nodes[path] = node
        slash = path.rfind("/")
        parent = path[:slash] if slash >= 0 else ""
        siblings = self.children.get(parent)
        if siblings is None:
            siblings = self.children[parent] = set()
        siblings.add(path)
        if node.is_dir and path not in self.children:
            self.children[path] = set()

    def remove(
        self, path: str, layer: int, how: Removal, below: Removal, changes: LayerChanges,
        stats: LayerStats,
    ) -> None:  # fmt: skip
        """Remove `path` and everything under it; `how` for the path, `below` for the rest."""
        node = self.nodes.pop(path, None)
        if node is None:
            return
        slash = path.rfind("/")
        parent = path[:slash] if slash >= 0 else ""
        siblings = self.children.get(parent)
        if siblings is not None:
            siblings.discard(path)
        kids = self.children.pop(path, None)
        if kids:
            for child in list(kids):
                self.remove(child, layer, below, below, changes, stats)
        self.unref(node.copy, layer, how)
        self.removed_now[path] = node.entry
        changes.kinds[path] = ChangeKind.REMOVED
        stats.removed += 1
        if node.entry is not None and node.entry.type is EntryType.FILE:
            stats.removed_bytes += node.entry.size


@gc_paused
def analyse(image: Image, layers: Sequence[LayerIndex]) -> Analysis:
    """Stack the layers and account for every stored byte."""
    stack = _Stack()
    all_stats: list[LayerStats] = []
    all_changes: list[LayerChanges] = []
    warnings: list[str] = []
    for position, index in enumerate(layers):
        stats = LayerStats(position)
        changes = LayerChanges()
        before = stack.live_bytes
        _apply(stack, position, index, stats, changes, warnings)
        stats.contribution = stack.live_bytes - before
        stats.cumulative = stack.live_bytes
        all_stats.append(stats)
        all_changes.append(changes)

    wasted: list[WastedFile] = []
    for copy, (hidden_by, how) in stack.hidden.items():
        size = stack.copy_size[copy]
        stored_in = stack.copy_layer[copy]
        wasted.append(WastedFile(stack.copy_path[copy], size, stored_in, hidden_by, how))
        all_stats[stored_in].wasted_bytes += size
    wasted.sort(key=lambda w: (-w.size, w.path, w.stored_in))
    stored = sum(stack.copy_size)
    user_stored = sum(s.stored_bytes for s in all_stats[1:])
    exact = ExactWaste(
        stored_bytes=stored,
        visible_bytes=stack.live_bytes,
        wasted_bytes=stored - stack.live_bytes,
        user_stored_bytes=user_stored,
        wasted_files=tuple(wasted),
    )
    return Analysis(
        image, tuple(all_stats), tuple(all_changes), exact, tuple(warnings), len(stack.nodes)
    )


_IMPLIED_DIR = FileEntry("", EntryType.DIR, 0, 0o755, 0, 0, 0)


def _apply(
    stack: _Stack,
    layer: int,
    index: LayerIndex,
    stats: LayerStats,
    changes: LayerChanges,
    warnings: list[str],
) -> None:
    stack.removed_now = {}
    for directory in index.opaque:
        for child in list(stack.children.get(directory, ())):
            stack.remove(child, layer, Removal.OPAQUE, Removal.OPAQUE, changes, stats)
    for path in index.whiteouts:
        if path in stack.nodes:
            stack.remove(path, layer, Removal.DELETED, Removal.PARENT_DELETED, changes, stats)
        elif path not in index.entries:
            warnings.append(f"layer {layer}: whiteout for {path!r}, which no lower layer has")
    nodes = stack.nodes
    children = stack.children
    kinds = changes.kinds
    removed_now = stack.removed_now
    copy_path, copy_size = stack.copy_path, stack.copy_size
    copy_layer, refs = stack.copy_layer, stack.refs
    file_type, dir_type, hardlink_type = EntryType.FILE, EntryType.DIR, EntryType.HARDLINK
    added_kind = ChangeKind.ADDED
    node_type = _Node
    stored = added = added_bytes = live = 0  # added to stats and stack at the end
    # in tar order, duplicates included, when the layer repeats a path
    items = index.sequence if index.sequence is not None else index.entries.values()
    for entry in items:
        path, etype, size, _, _, _, _, link, _ = entry
        if etype is file_type:
            stored += size
        slash = path.rfind("/")
        if slash >= 0:
            parent = path[:slash]
            above = nodes.get(parent)
            if above is None or not above.is_dir:
                _ensure_parents(stack, path, layer, changes, stats)
        else:
            parent = ""
        lower = nodes.get(path)
        if lower is not None and lower.layer == layer:
            kind = kinds.get(path, added_kind)  # repeated in this layer
        elif lower is None and path not in removed_now:
            added += 1  # the common case of _classify, inline
            added_bytes += size
            kind = added_kind
        else:
            before = (lower.entry or _IMPLIED_DIR) if lower is not None else None
            if before is None and path in removed_now:
                before = removed_now[path]  # removed and recreated by this layer
                stats.removed -= 1
                if before is not None and before.type is EntryType.FILE:
                    stats.removed_bytes -= before.size
                before = before or _IMPLIED_DIR
            kind = _classify(entry, before, path, stats, changes)
        if lower is not None:
            if etype is dir_type and lower.is_dir:
                lower.entry = entry
                lower.layer = layer
                kinds[path] = kind
                continue
            if lower.is_dir:
                for child in list(children.get(path, ())):
                    stack.remove(child, layer, Removal.REPLACED, Removal.REPLACED, changes, stats)
                children.pop(path, None)
            stack.unref(lower.copy, layer, Removal.REPLACED)
        copy = -1
        if etype is file_type:
            copy = len(refs)
            copy_path.append(path)
            copy_size.append(size)
            copy_layer.append(layer)
            refs.append(1)
            live += size
        elif etype is hardlink_type:
            target = nodes.get(link)
            if target is not None and target.copy >= 0:
                copy = target.copy
                refs[copy] += 1
            elif target is None:
                warnings.append(f"layer {layer}: hard link {path!r} names missing {link!r}")
        is_dir = etype is dir_type
        nodes[path] = node_type(entry, layer, copy, is_dir)  # stack.add, inline
        siblings = children.get(parent)
        if siblings is None:
            siblings = children[parent] = set()
        siblings.add(path)
        if is_dir and path not in children:
            children[path] = set()
        kinds[path] = kind
    stats.stored_bytes += stored
    stats.added += added
    stats.added_bytes += added_bytes
    stack.live_bytes += live


def _classify(
    entry: FileEntry,
    before: FileEntry | None,
    path: str,
    stats: LayerStats,
    changes: LayerChanges,
) -> ChangeKind:
    """The change kind of `entry` against what the layers below had at its path."""
    if before is None:
        stats.added += 1
        stats.added_bytes += entry.size
        return ChangeKind.ADDED
    reasons = entry.differences(before)
    if reasons:
        changes.reasons[path] = reasons
        stats.modified += 1
        stats.modified_bytes += entry.size
        return ChangeKind.MODIFIED
    stats.unchanged += 1
    return ChangeKind.UNCHANGED


def _ensure_parents(
    stack: _Stack, path: str, layer: int, changes: LayerChanges, stats: LayerStats
) -> None:
    slash = path.rfind("/")
    if slash < 0:
        return
    parent = path[:slash]
    node = stack.nodes.get(parent)
    if node is not None and node.is_dir:
        return
    missing: list[str] = []
    while True:
        node = stack.nodes.get(parent)
        if node is not None:
            if node.entry is not None and node.entry.type is EntryType.SYMLINK:
                break  # a runtime writes through a symlinked parent; keep the link
            if not node.is_dir:
                # a file where a directory is needed: a runtime replaces it
                stack.remove(parent, layer, Removal.REPLACED, Removal.REPLACED, changes, stats)
                missing.append(parent)
            break
        missing.append(parent)
        slash = parent.rfind("/")
        if slash < 0:
            break
        parent = parent[:slash]
    for directory in reversed(missing):
        stack.add(directory, _Node(None, layer, -1, True))
        changes.kinds[directory] = ChangeKind.ADDED
        stats.added += 1
