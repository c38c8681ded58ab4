"""Directory listings: a directory's children in a view, computed when it is expanded.

Views compare two layers. `lo` is the file system the changes are measured against and
`hi` the one shown: the *layer* view of layer `i` is `(i - 1, i)` (layer 0 against the
empty file system, `-1`), the *aggregated* view from base `b` is `(b, i)`. A directory's
children are computed on demand from the names ever seen under it (O(children) per
expansion) and cached per `(directory, lo, hi)`.
"""

from __future__ import annotations

import functools
import operator
from collections import OrderedDict
from collections.abc import Iterable
from itertools import compress, repeat
from typing import NamedTuple

from inspector.changes import ChangeKind, FileEntry
from inspector.filetree.versions import (
    _DIR,
    Version,
    Versions,
    _at,
    _implied_entry,
    _name,
    differences,
)

_CACHE_NODES = 400_000  # nodes kept in the children cache (about 60 MB at most)


def _by_name(node: Node) -> str:
    return node.name


class Node(NamedTuple):
    """One path as a view shows it: the version at `hi`, or at `lo` if `hi` removed it.

    (A named tuple: a view of 100,000 paths creates as many, and tuples are cheapest.)
    """

    path: str
    name: str
    entry: FileEntry
    kind: ChangeKind
    layer: int  # the layer that stored the version shown
    size: int  # file size, or for a directory the bytes below it (dive's rule)
    implied: bool = False

    @property
    def is_dir(self) -> bool:
        return self.entry.type is _DIR  # a module constant: `EntryType.DIR` is a slow lookup


class _Listing:
    """A directory's children ever seen, sorted by name: names, paths and version chains
    (see `Listings._listing`), and the fields of each child's first version as columns.

    A view whose top layer lies below every child's second version (the base layer's view,
    say) shows first versions only: `first_nodes` builds its nodes with C-level maps, no
    Python per child (expand all builds 100,000 of them).
    """

    __slots__ = ("chains", "dirs", "entries", "first", "implied", "last", "layer_count",
                 "layers", "names", "paths", "second", "sizes")  # fmt: skip

    def __init__(
        self, layer_count: int, names: list[str], paths: list[str], chains: list[list[Version]]
    ) -> None:
        self.layer_count = layer_count
        self.names = names
        self.paths = paths
        self.chains = chains
        # versions appended later are at a layer not yet published, which no view shows,
        # and publishing it makes a new listing: the columns hold the versions as of now
        firsts = list(map(_FIRST, chains))
        entries = list(map(_ENTRY, firsts))
        seconds = [c[1].layer for c in chains if len(c) > 1]
        # first_nodes applies below this layer (-1: never, a first version is a removal)
        self.second = -1 if None in entries else min(seconds, default=_NEVER)
        self.entries: list[FileEntry] = entries  # no None in them when `second` >= 0
        self.layers: list[int] = list(map(_LAYER, firsts))
        self.implied: list[bool] = list(map(_IMPLIED, firsts))
        self.sizes: list[int] = []
        self.dirs: list[int] = []  # the positions of directories, sized per view
        if self.second >= 0:
            self.sizes = list(map(_SIZE, entries))
            self.dirs = [i for i, e in enumerate(entries) if e.type is _DIR]
        self.first = min(self.layers, default=0)
        self.last = max(self.layers, default=0)

    def first_nodes(self, tree: Versions, lo: int, hi: int) -> tuple[Node, ...]:
        """The nodes of the view `(lo, hi)` when `lo <= hi < self.second`: what
        `FileTree.children` builds one by one, the same rules."""
        paths = self.paths
        sizes = self.sizes
        if self.dirs:  # a directory's size is the bytes below it as of the view
            sizes = sizes.copy()
            dir_size = tree.dir_size
            for i in self.dirs:
                sizes[i] = dir_size(paths[i], hi)
        layers = self.layers
        count = len(layers)
        # one version at or below hi: unchanged if lo holds it too, else added
        kinds: Iterable[ChangeKind]
        if lo < self.first:
            kinds = repeat(ChangeKind.ADDED, count)
        elif lo >= self.last:
            kinds = repeat(ChangeKind.UNCHANGED, count)
        else:
            kinds = map(_KIND_IF_IN_LO.__getitem__, map(lo.__ge__, layers))
        rows: Iterable[tuple[object, ...]] = zip(
            paths, self.names, self.entries, kinds, layers, sizes, self.implied, strict=True
        )
        if hi < self.last:  # children first stored above hi are not in the view
            rows = compress(rows, map(hi.__ge__, layers))
        return tuple(map(_NEW_NODE, rows))


_NEVER = 1 << 62
_FIRST = operator.itemgetter(0)
_ENTRY = operator.attrgetter("entry")
_LAYER = operator.attrgetter("layer")
_IMPLIED = operator.attrgetter("implied")
_SIZE = operator.attrgetter("size")
_KIND_IF_IN_LO = (ChangeKind.ADDED, ChangeKind.UNCHANGED)  # indexed by `layer <= lo`
_NEW_NODE = functools.partial(tuple.__new__, Node)


class Listings(Versions):
    """The nodes of a view: one path's, or a directory's children (cached per view)."""

    def __init__(self) -> None:
        super().__init__()
        self._children_cache: OrderedDict[tuple[str, int, int], tuple[Node, ...]] = OrderedDict()
        self._listings: dict[str, _Listing] = {}  # per directory (see _listing)
        self._cached_nodes = 0

    def node(self, path: str, lo: int, hi: int) -> Node | None:
        """The node a view shows for `path`, or None if it is in neither file system."""
        if not path:
            return Node("", "/", _implied_entry(""), ChangeKind.UNCHANGED, 0,
                        self.dir_size("", hi), True)  # fmt: skip
        low = self.version(path, lo)
        up = self.version(path, hi)
        return self._make_node(path, _name(path), low, up, lo, hi)

    def _make_node(
        self, path: str, name: str, low: Version | None, up: Version | None, lo: int, hi: int
    ) -> Node | None:
        shown = up if up is not None else low
        if shown is None or shown.entry is None:
            return None
        if lo == hi:
            kind = ChangeKind.UNCHANGED
        elif low is None:
            kind = ChangeKind.ADDED
        elif up is None:
            kind = ChangeKind.REMOVED
        elif low is up:
            kind = ChangeKind.UNCHANGED
        else:
            kind = ChangeKind.MODIFIED if differences(low, up) else ChangeKind.UNCHANGED
        entry = shown.entry
        if entry.type is _DIR:
            size = self.dir_size(path, hi if up is not None else lo)
        else:
            size = entry.size
        return Node(path, name, entry, kind, shown.layer, size, shown.implied)

    def children(self, path: str, lo: int, hi: int) -> tuple[Node, ...]:
        """The children of directory `path` in the view `(lo, hi)`, sorted by name."""
        key = (path, lo, hi)
        cache = self._children_cache
        cached = cache.get(key)
        if cached is not None:
            cache.move_to_end(key)
            return cached
        listing = self._listing(path)
        if lo <= hi < listing.second:
            result = listing.first_nodes(self, lo, hi)
        else:
            result = self._children_of(listing, lo, hi)
        cache[key] = result
        self._cached_nodes += len(result) + 1
        while self._cached_nodes > _CACHE_NODES and len(cache) > 1:
            _, dropped = cache.popitem(last=False)
            self._cached_nodes -= len(dropped) + 1
        return result

    def _children_of(self, listing: _Listing, lo: int, hi: int) -> tuple[Node, ...]:
        names, paths, chains = listing.names, listing.paths, listing.chains
        nodes: list[Node] = []
        append = nodes.append
        make = self._make_node
        new = tuple.__new__
        unchanged, added = ChangeKind.UNCHANGED, ChangeKind.ADDED
        for name, child, chain in zip(names, paths, chains, strict=True):
            if len(chain) == 1:
                # the common case, one version: `_make_node` inlined (expand all builds 100,000)
                v = chain[0]
                entry = v.entry
                if entry is None or v.layer > hi:
                    continue  # absent on both sides
                size = self.dir_size(child, hi) if entry.type is _DIR else entry.size
                kind = unchanged if v.layer <= lo else added  # lo == hi implies the first
                append(new(Node, (child, name, entry, kind, v.layer, size, v.implied)))
                continue
            if lo < 0 <= hi:  # a view from the start: everything present at hi is added
                # `_at(chain, hi)`, its usual answers inlined: the newest or the first version
                up: Version | None
                if chain[-1].layer <= hi:
                    up = chain[-1]
                elif chain[1].layer > hi:
                    up = chain[0] if chain[0].layer <= hi else None
                else:
                    up = _at(chain, hi)
                if up is None or (entry := up.entry) is None:
                    continue
                size = self.dir_size(child, hi) if entry.type is _DIR else entry.size
                append(new(Node, (child, name, entry, added, up.layer, size, up.implied)))
                continue
            low = _at(chain, lo) if lo >= 0 else None
            if low is not None and low.entry is None:
                low = None
            if hi == lo:
                up = low
            else:
                up = _at(chain, hi) if hi >= 0 else None
                if up is not None and up.entry is None:
                    up = None
            if low is None and up is None:
                continue
            node = make(child, name, low, up, lo, hi)
            if node is not None:
                append(node)
        return tuple(nodes)

    def _listing(self, path: str) -> _Listing:
        """Every name ever seen under directory `path`, sorted, with its path and its
        versions: what any view's children are picked from (kept until another layer is
        published; the paths are the tree's own strings, not one more copy per view)."""
        count = self.layer_count
        listing = self._listings.get(path)
        if listing is not None and listing.layer_count == count:
            return listing
        names = sorted(self._names.get(path, ()))  # C-level: the nodes come out by name
        prefix = f"{path}/" if path else ""
        index, all_paths = self._index, self._paths
        paths = [all_paths[index[prefix + name]] for name in names]
        listing = _Listing(count, names, paths, list(map(self._versions.__getitem__, paths)))
        self._listings[path] = listing
        return listing

    def prepare_listings(self) -> None:
        """Sort every directory's names ahead (about 100 ms on 100,000 paths, otherwise
        paid by the first "expand all"); safe from a worker thread."""
        for path in list(self._names):
            self._listing(path)

    def has_children(self, path: str) -> bool:
        return bool(self._names.get(path))
