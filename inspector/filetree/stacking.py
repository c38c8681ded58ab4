"""Stacking: one layer applied on top of the file system so far, recording versions.

Layers are applied base first, the way a runtime applies them (the same rules as
`analysis`): a layer's opaque directories and whiteouts first, then its entries; a
missing parent directory is implied, a directory replaced by anything else loses what was
under it. Each path the layer touches gets a version in `Versions`, each directory whose
size changed a new size as of the layer, and the layer a `LayerSummary`.
"""

from __future__ import annotations

from array import array

from inspector.changes import EntryType, Removal
from inspector.filetree.versions import (
    LayerSummary,
    Version,
    Versions,
    _implied_entry,
    _join,
    _name,
    _parent,
    differences,
)
from inspector.indexer import LayerIndex


class _LayerBuilder:
    """Applies one layer to a FileTree's current file system, recording versions.

    Size changes are collected per parent directory and pushed up the tree once, at the
    end of the layer (or before a removal needs an exact directory size), so a file costs
    O(1) rather than O(depth).
    """

    def __init__(self, tree: Versions, layer: int) -> None:
        self.tree = tree
        self.layer = layer
        self.touched: list[str] = []
        self.summary = LayerSummary(layer)
        self._pending: dict[str, int] = {}  # directory -> bytes added directly below it
        self._removed_now: dict[str, Version] = {}  # what this layer removed, by path
        self._size_touched: set[str] = set()

    # -- recording
    def _record(self, path: str, version: Version) -> None:
        tree = self.tree
        versions = tree._versions.get(path)
        if versions is None:
            tree._versions[path] = [version]
            slash = path.rfind("/")
            parent = path[:slash] if slash >= 0 else ""
            parent_id = tree._index.get(parent, -1) if parent else -1
            tree._parent_ids.append(parent_id)
            tree._index[path] = len(tree._paths)
            tree._paths.append(path)
            names = tree._names.get(parent)
            if names is None:
                # keyed by the parent's own path object, not this slice of the child's:
                # a deep path then holds each directory's name once
                key = tree._paths[parent_id] if parent_id >= 0 else parent
                names = tree._names[key] = []
                kids = tree._kids[key] = array("q")
            else:
                kids = tree._kids[parent]
            names.append(path[slash + 1 :])  # the name first: see Listings._listing
            kids.append(len(tree._paths) - 1)
            self.touched.append(path)
        elif versions[-1].layer == self.layer:
            versions[-1] = version  # a second change in one layer: the first never shows
        else:
            versions.append(version)
            self.touched.append(path)

    def _add_size(self, parent: str, delta: int) -> None:
        if delta:
            pending = self._pending
            pending[parent] = pending.get(parent, 0) + delta

    def _flush(self) -> None:
        """Push the pending size changes up to the root."""
        pending = self._pending
        if not pending:
            return
        levels: dict[int, dict[str, int]] = {}
        for directory, delta in pending.items():
            depth = directory.count("/") + 1 if directory else 0
            level = levels.get(depth)
            if level is None:
                level = levels[depth] = {}
            level[directory] = delta
        pending.clear()
        sizes = self.tree._cur_size
        touched = self._size_touched
        for depth in range(max(levels), -1, -1):
            level = levels.pop(depth, None)
            if not level:
                continue
            up = levels.get(depth - 1)
            if up is None and depth:
                up = levels[depth - 1] = {}
            for directory, delta in level.items():
                if not delta:
                    continue
                sizes[directory] = sizes.get(directory, 0) + delta
                touched.add(directory)
                if up is not None:
                    parent = _parent(directory)
                    up[parent] = up.get(parent, 0) + delta

    def _attach(self, path: str, parent: str, name: str, version: Version) -> None:
        tree = self.tree
        tree._cur[path] = version
        siblings = tree._cur_children.get(parent)
        if siblings is None:
            siblings = tree._cur_children[parent] = set()
        siblings.add(name)
        if version.is_dir and path not in tree._cur_children:
            tree._cur_children[path] = set()
            tree._cur_size[path] = 0
            self._size_touched.add(path)

    def _remove(self, path: str, how: Removal, below: Removal) -> None:
        """Remove `path` and everything under it from the current file system."""
        tree = self.tree
        node = tree._cur.get(path)
        if node is None:
            return
        assert node.entry is not None
        self._flush()
        total = tree._cur_size.get(path, 0) if node.is_dir else node.entry.size
        parent = _parent(path)
        self._add_size(parent, -total)
        siblings = tree._cur_children.get(parent)
        if siblings is not None:
            siblings.discard(_name(path))
        summary = self.summary
        pending: list[tuple[str, Removal]] = [(path, how)]
        while pending:
            current, reason = pending.pop()
            cur_node = tree._cur.pop(current, None)
            if cur_node is None:
                continue
            kids = tree._cur_children.pop(current, None)
            if kids:
                pending.extend((_join(current, k), below) for k in kids)
            if current in tree._cur_size:
                del tree._cur_size[current]
                self._size_touched.add(current)
            self._record(current, Version(self.layer, None, reason))
            self._removed_now[current] = cur_node
            summary.removed += 1

    def _ensure_parents(self, parent: str) -> None:
        tree = self.tree
        missing: list[str] = []
        while True:
            node = tree._cur.get(parent)
            if node is not None:
                assert node.entry is not None
                if node.entry.type is EntryType.SYMLINK:
                    break  # a runtime writes through a symlinked parent; keep the link
                if not node.is_dir:
                    self._remove(parent, Removal.REPLACED, Removal.REPLACED)
                    missing.append(parent)
                break
            missing.append(parent)
            parent = _parent(parent)
            if not parent:
                break
        for directory in reversed(missing):
            version = Version(self.layer, _implied_entry(directory), None, True)
            self._record(directory, version)
            self._attach(directory, _parent(directory), _name(directory), version)
            self.summary.added += 1

    # -- the layer
    def apply(self, index: LayerIndex) -> None:
        tree = self.tree
        summary = self.summary
        before = tree._cur_size.get("", 0)
        for directory in index.opaque:
            for child in list(tree._cur_children.get(directory, ())):
                self._remove(_join(directory, child), Removal.OPAQUE, Removal.OPAQUE)
        for path in index.whiteouts:
            if path in tree._cur:
                self._remove(path, Removal.DELETED, Removal.PARENT_DELETED)
        cur = tree._cur
        cur_children = tree._cur_children
        layer = self.layer
        record = self._record
        attach = self._attach
        add_size = self._add_size
        file_type = EntryType.FILE
        dir_type = EntryType.DIR
        for path, entry in index.entries.items():
            slash = path.rfind("/")
            parent = path[:slash] if slash >= 0 else ""
            if parent:
                above = cur.get(parent)
                if above is None or above.entry is None or above.entry.type is not dir_type:
                    self._ensure_parents(parent)
            lower = cur.get(path)
            version = Version(layer, entry)
            if lower is None:
                removed = self._removed_now.get(path)
                if removed is None:
                    summary.added += 1
                else:  # removed and recreated by this layer: a change, not two
                    summary.removed -= 1
                    if differences(removed, version):
                        summary.modified += 1
                    else:
                        summary.unchanged += 1
                if entry.type is file_type:
                    add_size(parent, entry.size)
            else:
                if differences(lower, version):
                    summary.modified += 1
                else:
                    summary.unchanged += 1
                if entry.type is dir_type and lower.is_dir:
                    record(path, version)
                    cur[path] = version
                    continue
                if lower.is_dir:
                    for child in list(cur_children.get(path, ())):
                        self._remove(_join(path, child), Removal.REPLACED, Removal.REPLACED)
                    self._flush()
                    cur_children.pop(path, None)
                    tree._cur_size.pop(path, None)
                    self._size_touched.add(path)
                    lower_size = 0
                else:
                    assert lower.entry is not None
                    lower_size = lower.entry.size
                add_size(parent, entry.size - lower_size)
            record(path, version)
            attach(path, parent, path[slash + 1 :], version)
        summary.entries = len(index.entries)
        self._flush()
        # directory sizes as of this layer
        sizes = tree._cur_size
        for directory in self._size_touched:
            size = sizes.get(directory, 0)
            layers = tree._dir_layers.get(directory)
            if layers is None:
                tree._dir_sizes[directory] = [size]
                tree._dir_layers[directory] = [layer]
                continue
            values = tree._dir_sizes[directory]
            if values[-1] == size:
                continue
            # the size first, so that a reader bisecting the layers never outruns it
            values.append(size)
            layers.append(layer)
        summary.cumulative = sizes.get("", 0)
        summary.contribution = summary.cumulative - before
