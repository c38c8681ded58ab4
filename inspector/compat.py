"""dive 0.13.1's numbers, reproduced rule for rule (pure: no I/O).

dive builds one tree per layer from that layer's tar (directories a deeper entry implies
get an empty record), visits the *leaves* of each tree children-first in name order, and
keys each by its absolute path (a whiteout's key is the path it deletes):

* a regular leaf contributes its tar size, anything else 0;
* a whiteout looks the path up in the stack of the layers below: a directory that has a
  real tar entry contributes the sizes of everything under it, a file 0, and a path that
  is not there aborts the rest of that layer's visit (its key keeps a minimum of -1);
* a path seen twice or more is "inefficient"; wasted bytes = the cumulative size of
  those paths, every copy included; efficiency = sum of per-path minimum sizes / sum of
  cumulative sizes; userWastedPercent = wasted / (bytes of layers above the first).

Stacking follows dive too: an upper tree's node replaces the lower node's record (an
implied directory's empty record included) and opaque markers are ignored. The stack is
kept incrementally instead of being rebuilt for every whiteout, which gives the same
trees in linear time. docs/metrics.md lists where these rules go wrong.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from inspector.changes import EntryType, FileEntry
from inspector.indexer import WHITEOUT, LayerIndex


class _DiveNode:
    __slots__ = ("children", "info", "name")

    def __init__(self, name: str, info: FileEntry | None) -> None:
        self.name = name
        self.info = info
        self.children: dict[str, _DiveNode] = {}

    @property
    def is_whiteout(self) -> bool:
        return self.name.startswith(WHITEOUT)

    @property
    def is_dir(self) -> bool:
        return self.info is not None and self.info.type is EntryType.DIR

    def sorted_children(self) -> list[_DiveNode]:
        return [self.children[k] for k in sorted(self.children)]


def _add_path(root: _DiveNode, path: str, info: FileEntry | None) -> None:
    node = root
    for name in path.split("/"):
        child = node.children.get(name)
        if child is None:
            child = node.children[name] = _DiveNode(name, None)
        node = child
    node.info = info


def layer_tree(index: LayerIndex) -> _DiveNode:
    """dive's tree of one layer: its entries and its whiteout markers as `.wh.NAME` nodes."""
    root = _DiveNode("", None)
    for path, entry in index.entries.items():
        _add_path(root, path, entry)
    for marker in index.whiteouts.values():
        _add_path(root, marker.path, marker)
    for directory in index.opaque:  # the marker is dropped, its parents are not
        if directory:
            node = root
            for name in directory.split("/"):
                node = node.children.setdefault(name, _DiveNode(name, None))
    return root


def _visit(node: _DiveNode, prefix: str) -> Iterator[tuple[str, _DiveNode]]:
    """Every node below `node`, children first, in name order, with its tree path."""
    for child in node.sorted_children():
        path = f"{prefix}/{child.name}" if prefix else child.name
        yield from _visit(child, path)
        yield path, child


def _key(path: str, node: _DiveNode) -> str:
    if node.is_whiteout:
        head, _, _ = path.rpartition("/")
        name = node.name[len(WHITEOUT) :]
        return f"/{head}/{name}" if head else f"/{name}"
    return "/" + path


def _lookup(root: _DiveNode, key: str) -> _DiveNode | None:
    node = root
    for name in key.strip("/").split("/"):
        child = node.children.get(name)
        if child is None:
            return None
        node = child
    return node


def _subtree_size(node: _DiveNode) -> int:
    total = node.info.size if node.info is not None else 0
    pending = list(node.children.values())
    while pending:
        current = pending.pop()
        if current.info is not None:
            total += current.info.size
        pending.extend(current.children.values())
    return total


def _stack(lower: _DiveNode, upper: _DiveNode) -> None:
    for path, node in list(_visit(upper, "")):
        if node.is_whiteout:
            key = _key(path, node).strip("/")
            head, _, name = key.rpartition("/")
            parent = _lookup(lower, head) if head else lower
            if parent is not None:
                parent.children.pop(name, None)
        else:
            _add_path(lower, path, node.info)


@dataclass(frozen=True, slots=True)
class Inefficiency:
    path: str
    count: int
    cumulative_size: int


@dataclass(frozen=True, slots=True)
class DiveNumbers:
    size_bytes: int
    user_size_bytes: int
    wasted_bytes: int
    efficiency: float
    user_wasted_percent: float
    inefficiencies: tuple[Inefficiency, ...]
    layer_sizes: tuple[int, ...]


def dive_numbers(layers: Sequence[LayerIndex]) -> DiveNumbers:
    """efficiencyScore, inefficientBytes, userWastedPercent and the inefficient paths."""
    counts: dict[str, int] = {}
    cumulative: dict[str, int] = {}
    minimum: dict[str, int] = {}
    stacked = _DiveNode("", None)
    for position, index in enumerate(layers):
        tree = layer_tree(index)
        for path, node in _visit(tree, ""):
            if node.children:
                continue
            key = _key(path, node)
            if key not in counts:
                counts[key] = 0
                cumulative[key] = 0
                minimum[key] = -1
            if node.is_whiteout:
                lower = _lookup(stacked, key) if position else None
                if lower is None:
                    break  # dive's visitor errors out: the rest of this layer is skipped
                size = _subtree_size(lower) if lower.is_dir else 0
            else:
                info = node.info
                size = info.size if info is not None else 0
            cumulative[key] += size
            if minimum[key] < 0 or size < minimum[key]:
                minimum[key] = size
            counts[key] += 1
        _stack(stacked, tree)

    layer_sizes = tuple(index.tar_bytes for index in layers)
    inefficient = sorted(
        (Inefficiency(k, counts[k], cumulative[k]) for k in counts if counts[k] >= 2),
        key=lambda i: (-i.cumulative_size, i.path),
    )
    wasted = sum(i.cumulative_size for i in inefficient)
    discovered = sum(cumulative.values())
    efficiency = sum(minimum.values()) / discovered if discovered else 1.0
    user = sum(layer_sizes[1:])
    user_wasted = wasted / user if user else (math.nan if wasted == 0 else math.inf)
    return DiveNumbers(
        size_bytes=sum(layer_sizes),
        user_size_bytes=user,
        wasted_bytes=wasted,
        efficiency=efficiency,
        user_wasted_percent=user_wasted,
        inefficiencies=tuple(inefficient),
        layer_sizes=layer_sizes,
    )


def file_list(index: LayerIndex) -> list[dict[str, object]]:
    """dive's `fileList` for one layer: every tree node, children first, in name order."""
    from inspector.changes import TYPE_FLAGS

    result: list[dict[str, object]] = []
    for path, node in _visit(layer_tree(index), ""):
        info = node.info
        if info is None:
            result.append(
                {"path": "", "typeFlag": 0, "linkName": "", "size": 0, "fileMode": 0,
                 "uid": 0, "gid": 0, "isDir": False}
            )  # fmt: skip
            continue
        result.append(
            {
                "path": path,
                "typeFlag": TYPE_FLAGS[info.type],
                "linkName": info.link,
                "size": info.size,
                "fileMode": go_file_mode(info),
                "uid": info.uid,
                "gid": info.gid,
                "isDir": info.type is EntryType.DIR,
            }
        )
    return result


def go_file_mode(info: FileEntry) -> int:
    """The entry's mode as Go's os.FileMode bits (what dive exports)."""
    mode = info.mode & 0o777
    if info.mode & 0o4000:
        mode |= 1 << 23
    if info.mode & 0o2000:
        mode |= 1 << 22
    if info.mode & 0o1000:
        mode |= 1 << 20
    extra = {
        EntryType.DIR: 1 << 31,
        EntryType.SYMLINK: 1 << 27,
        EntryType.BLOCKDEV: 1 << 26,
        EntryType.CHARDEV: (1 << 26) | (1 << 21),
        EntryType.FIFO: 1 << 25,
    }
    return mode | extra.get(info.type, 0)
