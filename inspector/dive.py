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

import json
import marshal
import math
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, filterfalse, repeat
from operator import add, itemgetter
from typing import NamedTuple, TypeVar

from inspector.analysis import pack_ints, unpack_ints
from inspector.changes import TYPE_FLAGS, EntryType, FileEntry
from inspector.gcpause import gc_paused, paused
from inspector.indexer import WHITEOUT, LayerIndex
from inspector.jsontext import name_fields, name_json
from inspector.model import Image
from inspector.overlay import Overlay

_LAST = "\U0010ffff"  # sorts after every name: puts a directory after its children
_encode_string: Callable[[str], str] = json.encoder.encode_basestring_ascii  # as json.dumps
_new_tuple = tuple.__new__
V = TypeVar("V")
_first, _size = itemgetter(0), itemgetter(2)


def _dfs_key(path: str) -> tuple[str, ...]:
    """Sort key giving dive's visit order: children first, then the node, names sorted."""
    return (*path.split("/"), _LAST)


def _whiteout_key(marker_path: str) -> str:
    head, _, name = marker_path.rpartition("/")
    name = name[len(WHITEOUT) :]
    return f"{head}/{name}" if head else name


class _Tree(NamedTuple):
    """dive's tree of one layer: its entries (the index's own dict, not copied), the
    other nodes (`extra`: whiteout markers under their own `.wh.NAME` path, opaque
    directories the layer has no entry for, directories only implied by deeper paths;
    `_IMPLIED` records but for the markers), every path that has children (the root is
    ""), and the nodes named like a whiteout (the markers, and any opaque or implied
    directory so named; all in `extra`: the indexer never keeps an entry under such a
    name, it becomes a marker, an opaque directory, or nothing)."""

    entries: dict[str, FileEntry]
    extra: dict[str, FileEntry]
    parents: set[str]
    whiteouts: list[str]


def _tree_nodes(index: LayerIndex) -> _Tree:
    """dive's tree of one layer (`_Tree`). The parents are found at C speed (one
    `rpartition` per path, through `map`); only the implied directories, few in a real
    layer, are walked in Python."""
    entries = index.entries
    extra: dict[str, FileEntry] = {marker.path: marker for marker in index.whiteouts.values()}
    for directory in index.opaque:
        if directory and directory not in entries:
            extra[directory] = _IMPLIED
    parents = set(map(_first, map(str.rpartition, chain(entries, extra), repeat("/"))))
    pending = list(parents.difference(entries).difference(extra))
    while pending:
        directory = pending.pop()
        if not directory or directory in entries or directory in extra:
            continue
        extra[directory] = _IMPLIED
        parent = directory.rpartition("/")[0]
        parents.add(parent)
        pending.append(parent)
    whiteouts = [path for path in extra if path[path.rfind("/") + 1 :].startswith(WHITEOUT)]
    return _Tree(entries, extra, parents, whiteouts)


def _marked(index: LayerIndex) -> dict[str, FileEntry]:
    """A layer's entries, whiteout markers (under their own `.wh.NAME` path) and opaque
    directories (`_IMPLIED` unless the layer has their entry): dive's tree of the layer
    but for the directories only implied by deeper paths."""
    nodes: dict[str, FileEntry] = dict(index.entries)
    for marker in index.whiteouts.values():
        nodes[marker.path] = marker
    for directory in index.opaque:
        if directory and directory not in nodes:
            nodes[directory] = _IMPLIED
    return nodes


class _Stacked:
    """dive's stack of the layers below: path -> record, and every path that ever had
    children stacked under it (`dirs`, a superset). A subtree is a range of the sorted
    paths (built when a whiteout first needs one after a layer was stacked): the paths
    that start with "DIR/". A path below a whiteout-named directory is left out of an
    ancestor's subtree, as dive's tree (which drops that directory) leaves it out."""

    def __init__(self) -> None:
        self.records: dict[str, FileEntry | None] = {}
        self.dirs: set[str] = set()
        self._sorted: list[str] | None = None

    def stacked(self, tree: _Tree) -> None:
        """Put a layer's tree over the stack, its whiteout markers (and directories named
        like one) dropped."""
        records = self.records
        if isinstance(records, Overlay):  # a resumed stack: read a path before writing it
            for path in chain(tree.entries, tree.extra):
                records.get(path)
        records.update(tree.entries)
        dropped = set(tree.whiteouts)
        records.update({p: r for p, r in tree.extra.items() if p not in dropped})
        self.dirs.update(tree.parents)
        self._sorted = None

    def _below(self, path: str) -> list[str]:
        """The paths of the stack under `path` that dive's tree reaches from it."""
        if path not in self.dirs:
            return []
        ordered = self._sorted
        if ordered is None:
            records = self.records
            keys: Iterable[str] = records  # in stacking order: mostly sorted already
            if isinstance(records, Overlay):  # its base, and the keys written since
                base = records.base_rows()
                keys = [*base, *(key for key in dict.keys(records) if key not in base)]
            ordered = self._sorted = sorted(keys)
        low = bisect_left(ordered, path + "/")
        found = ordered[low : bisect_left(ordered, path + "0", low)]
        if WHITEOUT in "\n".join(found):  # (rare: a directory named like a whiteout)
            start = len(path) + 1
            found = [below for below in found if _reachable(below[start:])]
        return found

    def remove(self, path: str) -> None:
        records = self.records
        if path not in records:
            return
        below = self._below(path)
        records.pop(path)
        for current in below:
            records.pop(current, None)

    def subtree_size(self, path: str) -> int:
        found = filter(None, map(self.records.get, [path, *self._below(path)]))
        return sum(map(_size, found))

    def whiteout_size(self, key: str) -> int | None:
        """What dive charges a whiteout of `key`; None when the path is not there."""
        if key not in self.records:
            return None
        record = self.records[key]
        if record is not None and record.type is EntryType.DIR:
            return self.subtree_size(key)
        return 0


def _reachable(rest: str) -> bool:
    """Whether a path `rest` below a directory is in dive's tree of it: no directory on
    the way is named like a whiteout (dive drops those nodes, not what is under them)."""
    return not any(name.startswith(WHITEOUT) for name in rest.split("/")[:-1])


class Inefficiency(NamedTuple):
    """A path dive saw twice or more (a NamedTuple: there can be tens of thousands, and
    they are built at C speed). `count` is dive's name; it hides `tuple.count`."""

    path: str
    count: int  # type: ignore[assignment]
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


def dive_view(image: Image, layers: Sequence[LayerIndex]) -> list[LayerIndex]:
    """The layers as dive reads them: a layer the manifest names through a symlink or
    hard link in the archive (Docker's way to store a repeated layer once) is empty to
    dive, which reads the link entry's zero bytes as the layer tar."""
    return [
        LayerIndex() if info.aliased else index
        for info, index in zip(image.layers, layers, strict=True)
    ]


@gc_paused
def dive_numbers(
    layers: Sequence[LayerIndex],
    start: DivePrefix | None = None,
    keep: Callable[[int, bytes], None] | None = None,
    keep_at: Collection[int] = (),
) -> DiveNumbers:
    """efficiencyScore, inefficientBytes, userWastedPercent and the inefficient paths.

    `start`: the state after the first `start.depth` layers (`decode_dive_state`; it is
    used up); `keep(depth, payload)` receives the state after each depth in `keep_at`.
    """
    tally = _Tally({})
    stacked = _Stacked()
    first = 0
    if start is not None:
        if start.depth > len(layers) or start.stacked is None:
            raise ValueError("a prefix state deeper than the image, or used up")
        stacked, start.stacked = start.stacked, None
        tally = _Tally(start.tally)
        first = start.depth
    for position in range(first, len(layers)):
        tree = _tree_nodes(layers[position])
        parents = tree.parents
        charged: dict[str, tuple[str, int | None]] = {}  # visited marker -> key, size
        failed = False
        for path in tree.whiteouts:
            if path not in parents:
                key = _whiteout_key(path)
                size = stacked.whiteout_size(key)
                charged[path] = (key, size)
                failed = failed or size is None
        if failed:  # dive stops at the first failing whiteout, in its visit order
            tally.settle()
            nodes = {**tree.entries, **tree.extra}
            _visit_until_failure(nodes, parents, charged, tally.counted, tally.once)
        else:
            tally.add_layer(tree.entries, parents)
            for path, record in tree.extra.items():
                if path not in parents and path not in charged:
                    tally.add(path, record.size)
            for key, size in charged.values():
                tally.add(key, size or 0)
        if position + 1 == len(layers):
            break  # nothing reads the stack above the top layer
        # stack this layer over the ones below, whiteout markers dropped
        for path in tree.whiteouts:
            stacked.remove(_whiteout_key(path))
        stacked.stacked(tree)
        if keep is not None and position + 1 in keep_at:
            tally.settle()
            payload = encode_dive_state(position + 1, stacked, tally.counted, tally.once)
            if payload is not None:
                keep(position + 1, payload)

    layer_sizes = tuple(index.tar_bytes for index in layers)
    # (-cumulative, path, count): sorted as dive sorts, largest first, then by path
    counted = tally.counted
    rows = [(-c[1], "/" + k, c[0]) for k, c in counted.items() if c[0] >= 2]
    single = sum(tally.once.values()) + tally.lazy_sum
    discovered = single + sum(map(itemgetter(1), counted.values()))
    minimum = single + sum(map(itemgetter(2), counted.values()))
    if start is not None:  # the prefix's keys the layers above did not touch
        rows += [(-i.cumulative_size, i.path, i.count) for i in start.untouched_inefficient()]
        cumulative, least = start.untouched_sums()
        discovered += cumulative
        minimum += least
    rows.sort()
    inefficient = tuple(map(_new_tuple, repeat(Inefficiency), [(p, c, -n) for n, p, c in rows]))
    wasted = -sum(map(itemgetter(0), rows))
    efficiency = minimum / discovered if discovered else 1.0
    user = sum(layer_sizes[1:])
    user_wasted = wasted / user if user else (math.nan if wasted == 0 else math.inf)
    return DiveNumbers(
        size_bytes=sum(layer_sizes),
        user_size_bytes=user,
        wasted_bytes=wasted,
        efficiency=efficiency,
        user_wasted_percent=user_wasted,
        inefficiencies=inefficient,
        layer_sizes=layer_sizes,
    )


_LAZY_LAYERS = 8
"""Layers whose leaves `_Tally` keeps uncounted at most (each costs a lookup per path of
every layer above it)."""


class _Tally:
    """dive's count of every key it visited: how often, the sum and the least of its sizes.

    The order of the visits does not change a count, a sum or a minimum, and most keys
    (a million paths: nearly all) are visited once. So a layer's leaves among its entries
    are not written anywhere: the layer's own dicts say which they are and their sizes,
    and only a leaf an earlier layer also visited (found by lookups at C speed) is counted
    one by one. `counted`: key -> [count, cumulative, minimum] of a key visited twice or
    more (or left by dive's stopped visit, see `_visit_until_failure`); `once`: key -> size
    of another key visited once; `layers`: the (entries, parents) of the layers whose
    other leaves are visited once, `lazy_sum` their sizes. `settle` writes those into
    `once` (a stopped visit and a stored state read it whole).
    """

    def __init__(self, counted: dict[str, list[int]]) -> None:
        self.counted = counted
        self.once: dict[str, int] = {}
        self.layers: list[tuple[dict[str, FileEntry], set[str]]] = []
        self.lazy_sum = 0

    def add(self, key: str, size: int) -> None:
        """One visit of `key`."""
        counted = self.counted.get(key)
        if counted is not None:
            counted[0] += 1
            counted[1] += size
            if counted[2] < 0 or size < counted[2]:
                counted[2] = size
            return
        before = self.once.pop(key, None)
        if before is None:
            for entries, parents in self.layers:
                if key in entries and key not in parents:
                    before = entries[key].size
                    self.lazy_sum -= before
                    break
        if before is None:
            self.once[key] = size
        else:
            self.counted[key] = [2, before + size, size if size < before else before]

    def add_layer(self, entries: dict[str, FileEntry], parents: set[str]) -> None:
        """A visit of every leaf among a layer's `entries` (those not in `parents`)."""
        counted, once = self.counted, self.once
        total = sum(map(_size, entries.values()))
        total -= sum(map(_size, map(entries.__getitem__, filter(entries.__contains__, parents))))
        again = [*filter(counted.__contains__, entries), *filter(once.__contains__, entries)]
        for key in filterfalse(parents.__contains__, again):
            size = entries[key].size
            total -= size
            self.add(key, size)
        for lower, below in self.layers:  # visited once, by a layer below: now twice
            keys = list(
                filterfalse(
                    counted.__contains__,
                    filterfalse(
                        parents.__contains__,
                        filterfalse(below.__contains__, filter(lower.__contains__, entries)),
                    ),
                )
            )
            if not keys:
                continue
            befores = list(map(_size, map(lower.__getitem__, keys)))
            sizes = list(map(_size, map(entries.__getitem__, keys)))
            rows = zip(repeat(2), map(add, befores, sizes), map(min, befores, sizes))
            counted.update(zip(keys, map(list, rows), strict=True))
            self.lazy_sum -= sum(befores)
            total -= sum(sizes)
        self.layers.append((entries, parents))
        self.lazy_sum += total
        if len(self.layers) > _LAZY_LAYERS:
            self._write(min(self.layers, key=lambda layer: len(layer[0])))

    def settle(self) -> None:
        """Every key visited once in `once`."""
        while self.layers:
            self._write(self.layers[-1])

    def _write(self, layer: tuple[dict[str, FileEntry], set[str]]) -> None:
        """A lazily counted layer's leaves into `once`."""
        entries, parents = layer
        self.layers = [other for other in self.layers if other is not layer]
        keys = list(
            filterfalse(self.counted.__contains__, filterfalse(parents.__contains__, entries))
        )
        sizes = list(map(_size, map(entries.__getitem__, keys)))
        self.once.update(zip(keys, sizes, strict=True))
        self.lazy_sum -= sum(sizes)


def _visit_until_failure(
    nodes: dict[str, FileEntry],
    parents: Collection[str],
    charged: dict[str, tuple[str, int | None]],
    tally: dict[str, list[int]],
    once: dict[str, int],
) -> None:
    """dive's visit of a layer with a whiteout of a missing path: leaves in dive's order,
    up to that whiteout, whose key is recorded with a minimum of -1."""
    visits: list[tuple[str, str, int | None]] = []
    for path, record in nodes.items():
        if path in parents:
            continue
        key, size = charged.get(path, (path, record.size))
        visits.append((path, key, size))
    visits.sort(key=lambda visit: _dfs_key(visit[0]))
    for _, key, size in visits:
        counted = tally.get(key)
        if counted is None:
            first = once.pop(key, None)
            counted = tally[key] = [0, 0, -1] if first is None else [1, first, first]
        if size is None:
            break
        counted[1] += size
        if counted[2] < 0 or size < counted[2]:
            counted[2] = size
        counted[0] += 1


_EMPTY_ITEM: dict[str, object] = {
    "path": "", "typeFlag": 0, "linkName": "", "size": 0, "fileMode": 0,
    "uid": 0, "gid": 0, "isDir": False,
}  # fmt: skip
_IMPLIED: FileEntry = tuple.__new__(FileEntry, ("", None, 0, 0, 0, 0, 0, "", 0))
"""A directory only implied by deeper paths, in a file list: dive's empty item (`_EMPTY_ITEM`:
no name, type flag 0, mode 0)."""
FILE_LIST_CHUNK = 8192
"""Entries per piece of `file_list_chunks` (about 2.5 MB of text)."""


def _children(paths: Collection[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Each directory's children among `paths` ("" is the root), and the directories only
    implied by deeper paths, which are children of their own parents too."""
    children: dict[str, list[str]] = {}
    get = children.get
    for path in paths:
        parent = path.rpartition("/")[0]
        kids = get(parent)
        if kids is None:
            children[parent] = [path]
        else:
            kids.append(path)
    implied: list[str] = []
    pending = [directory for directory in children if directory and directory not in paths]
    while pending:
        directory = pending.pop()
        implied.append(directory)
        parent = directory.rpartition("/")[0]
        kids = get(parent)
        if kids is None:
            children[parent] = [directory]
            if parent and parent not in paths:
                pending.append(parent)
        else:
            kids.append(directory)
    return children, implied


def _post_order(children: dict[str, list[str]]) -> list[str]:
    """The paths of a `_children` tree in dive's visit order (`_dfs_key`): each directory's
    children sorted by name, a child directory's own children before it. Siblings share
    their parent's prefix, so sorting their paths sorts their names; a directory whose
    children are all leaves is one `extend`."""
    order: list[str] = []
    if "" not in children:
        return order
    extend, append = order.extend, order.append
    leaves_only = children.keys().isdisjoint
    children[""].sort()
    stack: list[tuple[str, Iterator[str]]] = [("", iter(children[""]))]
    while stack:
        directory, kids = stack[-1]
        for kid in kids:
            below = children.get(kid)
            if below is None:
                append(kid)
                continue
            below.sort()
            if leaves_only(below):
                extend(below)
                append(kid)
            else:
                stack.append((kid, iter(below)))
                break
        else:
            stack.pop()
            if directory:
                append(directory)
    return order


def dfs_order(paths: Iterable[str]) -> list[str]:
    """`paths` in dive's visit order (`_dfs_key`): children first, names sorted."""
    given = dict.fromkeys(paths)
    children, implied = _children(given)
    order = _post_order(children)
    return [path for path in order if path in given] if implied else order


def _file_rows(index: LayerIndex) -> list[FileEntry]:
    """The records of dive's tree of one layer for its fileList (`_marked`, an
    implied directory's record `_IMPLIED`) in dive's visit order (`_post_order` of its
    children index, which costs less than one sort of the paths)."""
    nodes = _marked(index)
    children, implied = _children(nodes)
    for directory in implied:
        nodes[directory] = _IMPLIED
    return list(map(nodes.__getitem__, _post_order(children)))


def _modes(
    kinds: Iterable[tuple[int, EntryType | None]],
) -> dict[tuple[int, EntryType | None], int]:
    """go_file_mode of every (mode, type) given (an implied directory's type is None)."""
    return {
        (mode, kind): 0 if kind is None else go_file_mode(FileEntry("", kind, 0, mode, 0, 0, 0))
        for mode, kind in set(kinds)
    }


def file_list(index: LayerIndex) -> list[dict[str, object]]:
    """dive's `fileList` for one layer: every tree node, children first, in name order.

    A name that is not UTF-8 gets a `pathBytes` / `linkNameBytes` sibling (`jsontext`)."""
    rows = _file_rows(index)
    modes = _modes(map(_MODE_KIND, rows))
    result: list[dict[str, object]] = []
    for info in rows:
        path = info.path
        if info is _IMPLIED:
            result.append(dict(_EMPTY_ITEM))
            continue
        kind = info.type
        result.append(
            {
                **name_fields("path", path),
                "typeFlag": TYPE_FLAGS[kind],
                **name_fields("linkName", info.link),
                "size": info.size,
                "fileMode": modes[info.mode, kind],
                "uid": info.uid,
                "gid": info.gid,
                "isDir": kind is EntryType.DIR,
            }
        )
    return result


_HEADS: dict[EntryType | None, str] = {
    None: ',"typeFlag":0,"linkName":',
    **{kind: f',"typeFlag":{flag},"linkName":' for kind, flag in TYPE_FLAGS.items()},
}
_TAILS: dict[EntryType | None, str] = {
    None: "false}",
    **{kind: "true}" if kind is EntryType.DIR else "false}" for kind in TYPE_FLAGS},
}


def file_list_chunks(index: LayerIndex, per_chunk: int = FILE_LIST_CHUNK) -> Iterator[str]:
    """`json.dumps(file_list(index), separators=(",", ":"))` in pieces of `per_chunk`
    entries, byte for byte, built as text (the --json document streams them instead of
    encoding 100,000 dicts). An implied directory's record (`_IMPLIED`) has no name and
    no kind, and gives dive's empty item through the same format. The collector is
    paused while a piece is built, not while the consumer holds it.

    Each entry is one f-string: everything after its size (mode, owner, kind) is the
    text of one of the few (mode, type, uid, gid) the layer holds, made once. A piece
    whose names JSON writes as they are (printable ASCII, no quote or backslash: one
    `encode_basestring_ascii` of them all tells) puts them between quotes unencoded."""
    with paused():
        records = _file_rows(index)
        rests = _rests(records)
    heads, quoted, enc = _HEADS, _QUOTED_HEADS, _encode_string
    first = True
    for start in range(0, len(records), per_chunk):
        with paused():
            rows = records[start : start + per_chunk]
            names = "/".join([*map(_first, rows), *map(_link, rows)])
            if _plain(names):
                text = "".join(
                    [
                        f',{{"path":"{path}{quoted[kind]}{link}","size":{size}'
                        f"{rests[mode, kind, uid, gid]}"
                        for path, kind, size, mode, uid, gid, _, link, _ in rows
                    ]
                )
            else:
                text = "".join(
                    [
                        f',{{"path":{enc(path)}{heads[kind]}{enc(link)},"size":{size}'
                        f"{rests[mode, kind, uid, gid]}"
                        for path, kind, size, mode, uid, gid, _, link, _ in rows
                    ]
                )
                if "\\ud" in text:  # a lone surrogate (or a mere "\\ud"): see jsontext
                    text = "".join(
                        [
                            f',{{"path":{name_json(path, "pathBytes")}{heads[kind]}'
                            f'{name_json(link, "linkNameBytes")},"size":{size}'
                            f"{rests[mode, kind, uid, gid]}"
                            for path, kind, size, mode, uid, gid, _, link, _ in rows
                        ]
                    )
        yield ("[" + text[1:]) if first else text
        first = False
    yield "[]" if first else "]"


def _plain(names: str) -> bool:
    """Whether JSON writes every character of `names` as it is (`encode_basestring_ascii`
    escapes a quote, a backslash, and anything outside printable ASCII)."""
    return names.isascii() and names.isprintable() and '"' not in names and "\\" not in names


def _rests(records: Iterable[FileEntry]) -> dict[tuple[int, EntryType, int, int], str]:
    """The text after `"size":N` of an entry, for every (mode, type, uid, gid) in the
    tree (there are few)."""
    owned = set(map(_OWNED, records))
    modes = _modes((mode, kind) for mode, kind, _, _ in owned)
    return {
        (mode, kind, uid, gid): (
            f',"fileMode":{modes[mode, kind]},"uid":{uid},"gid":{gid},"isDir":{_TAILS[kind]}'
        )
        for mode, kind, uid, gid in owned
    }


_link = itemgetter(7)
_MODE_KIND = itemgetter(3, 1)
_OWNED = itemgetter(3, 1, 4, 5)
_QUOTED_HEADS = {kind: f'"{head}"' for kind, head in _HEADS.items()}


def file_list_json(index: LayerIndex) -> str:
    """`json.dumps(file_list(index), separators=(",", ":"))`, byte for byte (the pieces
    of `file_list_chunks` joined)."""
    return "".join(file_list_chunks(index))


def go_file_mode(info: FileEntry) -> int:
    """The entry's mode as Go's os.FileMode bits (what dive exports)."""
    mode = info.mode & 0o777
    if info.mode & 0o4000:
        mode |= 1 << 23
    if info.mode & 0o2000:
        mode |= 1 << 22
    if info.mode & 0o1000:
        mode |= 1 << 20
    return mode | _GO_TYPE_BITS.get(info.type, 0)


_GO_TYPE_BITS = {
    EntryType.DIR: 1 << 31,
    EntryType.SYMLINK: 1 << 27,
    EntryType.BLOCKDEV: 1 << 26,
    EntryType.CHARDEV: (1 << 26) | (1 << 21),
    EntryType.FIFO: 1 << 25,
}


# --- prefix states (see analysis.py) ------------------------------------------------------
# dive's stack after the first layers: its records (read for their type and size only, so a
# resumed record keeps just those) and the paths that have children, and the tally of every
# key with its sums, so that the keys the layers above never touch are summed without being
# read.
DIVE_STATE_FORMAT = 2  # 2: the paths with children instead of a children index
_TYPES = list(EntryType)
_TYPE_CODE = {t: i for i, t in enumerate(_TYPES)}
_NO_RECORD = 255


class DivePrefix:
    """A decoded dive prefix state; `dive_numbers(start=...)` uses it up."""

    def __init__(
        self,
        depth: int,
        stacked: _Stacked,
        tally: Overlay[list[int]],
        keys: list[str],
        columns: tuple[Sequence[int], Sequence[int], Sequence[int]],
        inefficient: list[int],
        sums: tuple[int, int],
    ) -> None:
        self.depth = depth
        self.stacked: _Stacked | None = stacked
        self.tally = tally
        self._keys = keys
        self._columns = columns
        self._inefficient = inefficient
        self._sums = sums

    def untouched_inefficient(self) -> list[Inefficiency]:
        touched = self.tally.touched
        keys = self._keys
        counts, cumulative, _ = self._columns
        return [
            Inefficiency("/" + keys[row], counts[row], cumulative[row])
            for row in self._inefficient
            if keys[row] not in touched
        ]

    def untouched_sums(self) -> tuple[int, int]:
        _, cumulative, minimum = self._columns
        rows = self.tally.touched.values()
        return (
            self._sums[0] - sum(cumulative[row] for row in rows),
            self._sums[1] - sum(minimum[row] for row in rows),
        )


def encode_dive_state(
    depth: int, stacked: _Stacked, tally: dict[str, list[int]], once: dict[str, int]
) -> bytes | None:
    """dive's stack and tally (`once`: the keys counted once, with their sizes) as a
    prefix state; None when it cannot be stored."""
    records = stacked.records
    if isinstance(records, Overlay) or isinstance(tally, Overlay):
        return None
    order = list(records)
    values = list(records.values())
    code = _TYPE_CODE
    keys = [*tally, *once]
    counts = [c[0] for c in tally.values()] + [1] * len(once)
    cumulative = [c[1] for c in tally.values()] + list(once.values())
    minimum = [c[2] for c in tally.values()] + list(once.values())
    body = marshal.dumps(
        (
            order,
            list(stacked.dirs),
            bytes([_NO_RECORD if r is None or r[1] is None else code[r[1]] for r in values]),
            pack_ints([0 if r is None else r[2] for r in values]),
            keys,
            pack_ints(counts),
            pack_ints(cumulative),
            pack_ints(minimum),
            [row for row, count in enumerate(counts) if count >= 2],
            (sum(cumulative), sum(minimum)),
        )
    )
    return marshal.dumps((DIVE_STATE_FORMAT, depth, body))


@gc_paused
def decode_dive_state(payload: bytes) -> DivePrefix:
    """A stored dive prefix state; ValueError for anything damaged."""
    try:
        version, depth, body = marshal.loads(payload)
        if version != DIVE_STATE_FORMAT:
            raise ValueError(f"state format {version}")
        (order, dirs, types, sizes, keys, counts, cumulative, minimum, inefficient,
         sums) = marshal.loads(body)  # fmt: skip
        sizes = unpack_ints(sizes)
        columns = (unpack_ints(counts), unpack_ints(cumulative), unpack_ints(minimum))
        if not len(order) == len(types) == len(sizes):
            raise ValueError("record columns differ in length")
        if not all(len(c) == len(keys) for c in columns):
            raise ValueError("tally columns differ in length")
        if not all(isinstance(path, str) for path in dirs):
            raise ValueError("a directory that is not a path")
        kinds = _TYPES
        entry = FileEntry

        def make_record(path: str, row: int) -> FileEntry | None:
            kind = types[row]
            if kind == _NO_RECORD:
                return None
            return entry(path, kinds[kind], sizes[row], 0, 0, 0, 0)

        counts_, cumulative_, minimum_ = columns

        def make_tally(key: str, row: int) -> list[int]:
            return [counts_[row], cumulative_[row], minimum_[row]]

        stacked = _Stacked()
        stacked.records = Overlay(dict(zip(order, range(len(order)), strict=True)), make_record)
        stacked.dirs = set(dirs)
        tally: Overlay[list[int]] = Overlay(
            dict(zip(keys, range(len(keys)), strict=True)), make_tally
        )
        bad = [row for row in inefficient if not 0 <= row < len(keys)]
        if bad:
            raise ValueError("inefficient rows out of range")
        total, least = sums
        return DivePrefix(
            int(depth), stacked, tally, keys, columns, list(inefficient), (int(total), int(least))
        )
    except ValueError:
        raise
    except Exception as exc:  # any malformed payload is a miss, never a crash
        raise ValueError(f"malformed dive prefix state ({exc})") from None
