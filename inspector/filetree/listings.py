"""Directory listings: a directory's children in a view, computed when it is expanded.

Views compare two layers. `lo` is the file system the changes are measured against and
`hi` the one shown: the *layer* view of layer `i` is `(i - 1, i)` (layer 0 against the
empty file system, `-1`), the *aggregated* view from base `b` is `(b, i)`. A directory's
children are computed on demand from the names ever seen under it (O(children) per
expansion) and cached per `(directory, lo, hi)`.
"""

from __future__ import annotations

import bisect
import functools
import operator
import threading
from collections import OrderedDict
from collections.abc import Iterable
from itertools import compress, repeat
from typing import NamedTuple

from inspector.changes import ChangeKind, FileEntry
from inspector.filetree.filters import Filters
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
    """A directory's children ever seen (in layers published when it was made), sorted by
    name: their names, ids and paths, and `second`, the lowest layer that holds a second
    version of any of them (see `Listings._listing`).

    A view whose top layer lies below `second` (the base layer's view, say) shows first
    versions only: `first_nodes` builds its nodes with C-level maps over the tree's
    first-version columns, no Python per child (expand all builds 100,000 of them). Those
    columns and the version chains are gathered for a listing when a view first needs
    them, so that making a listing costs a few C-level passes.
    """

    __slots__ = ("_chains", "dirs", "entries", "first", "ids", "implied", "last",
                 "layer_count", "layers", "names", "paths", "second", "sizes")  # fmt: skip

    def __init__(
        self, layer_count: int, names: list[str], ids: list[int], paths: list[str], second: int
    ) -> None:
        self.layer_count = layer_count
        self.names = names
        self.ids = ids
        self.paths = paths
        # first_nodes applies below this layer (-1: never, a first version is a removal)
        self.second = second
        self._chains: list[list[Version]] | None = None
        self.entries: list[FileEntry] | None = None  # the first-version columns, once used
        self.layers: list[int] = []
        self.implied: list[bool] = []
        self.sizes: list[int] = []
        self.dirs: list[int] = []  # the positions of directories, sized per view
        self.first = self.last = 0

    def chains(self, tree: Versions) -> list[list[Version]]:
        """The children's version chains (versions appended later are at a layer not yet
        published, which no view shows: publishing it makes a new listing)."""
        chains = self._chains
        if chains is None:
            chains = self._chains = list(map(tree._versions.__getitem__, self.paths))
        return chains

    def _gather(self, tree: Listings) -> list[FileEntry]:
        """The first-version columns of the children (when `second` >= 0: no None)."""
        ids = self.ids
        first = tree._first
        entries: list[FileEntry] = list(map(first.entries.__getitem__, ids))  # type: ignore[arg-type]
        self.layers = list(map(first.layers.__getitem__, ids))
        self.implied = list(map(first.implied.__getitem__, ids))
        self.sizes = list(map(_SIZE, entries))
        self.dirs = list(compress(range(len(ids)), map(first.dirs.__getitem__, ids)))
        self.first = min(self.layers, default=0)
        self.last = max(self.layers, default=0)
        self.entries = entries
        return entries

    def first_nodes(self, tree: Listings, lo: int, hi: int) -> tuple[Node, ...]:
        """The nodes of the view `(lo, hi)` when `lo <= hi < self.second`: what
        `FileTree.children` builds one by one, the same rules."""
        entries = self.entries if self.entries is not None else self._gather(tree)
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
            paths, self.names, entries, kinds, layers, sizes, self.implied, strict=True
        )
        if hi < self.last:  # children first stored above hi are not in the view
            rows = compress(rows, map(hi.__ge__, layers))
        return tuple(map(_NEW_NODE, rows))


class _FirstVersions:
    """Per path id, its first version's entry, layer, implied flag and whether it is a
    directory, and the layer of its second version (`_NEVER`; -1 when the first version
    is a removal), as of `layer_count` published layers."""

    __slots__ = ("dirs", "entries", "implied", "layer_count", "layers", "second")

    def __init__(self) -> None:
        self.entries: list[FileEntry | None] = []
        self.layers: list[int] = []
        self.implied: list[bool] = []
        self.dirs = bytearray()
        self.second: list[int] = []
        self.layer_count = 0


_NEVER = 1 << 62
_FIRST = operator.itemgetter(0)
_ENTRY = operator.attrgetter("entry")
_LAYER = operator.attrgetter("layer")
_IMPLIED = operator.attrgetter("implied")
_SIZE = operator.attrgetter("size")
_TYPE = operator.attrgetter("type")
_KIND_IF_IN_LO = (ChangeKind.ADDED, ChangeKind.UNCHANGED)  # indexed by `layer <= lo`
_NEW_NODE = functools.partial(tuple.__new__, Node)


class Listings(Filters):
    """The nodes of a view: one path's, or a directory's children (cached per view)."""

    def __init__(self) -> None:
        super().__init__()
        self._children_cache: OrderedDict[tuple[str, int, int], tuple[Node, ...]] = OrderedDict()
        self._listings: dict[str, _Listing] = {}  # per directory (see _listing)
        self._cached_nodes = 0
        self._first = _FirstVersions()
        self._first_lock = threading.Lock()

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
        names, paths, chains = listing.names, listing.paths, listing.chains(self)
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
        """Every name seen under directory `path` in the published layers, sorted, with its
        id and path: what any view's children are picked from (kept until another layer is
        published; the paths are the tree's own strings, not one more copy per view)."""
        count = self.layer_count
        listing = self._listings.get(path)
        if listing is not None and listing.layer_count == count:
            return listing
        first = self._first_versions()
        kids = self._kids.get(path)
        if kids is None or not count:
            listing = _Listing(count, [], [], [], _NEVER)
        else:
            # the loader appends a name, then its id: ids of unpublished layers come last
            known = bisect.bisect_left(kids, self._columns[count - 1].count)
            names = self._names[path]
            order = sorted(range(known), key=names.__getitem__)  # C-level: by name
            ids = list(map(kids.__getitem__, order))
            listing = _Listing(
                count,
                list(map(names.__getitem__, order)),
                ids,
                list(map(self._paths.__getitem__, ids)),
                min(map(first.second.__getitem__, ids), default=_NEVER),
            )
        self._listings[path] = listing
        return listing

    def _first_versions(self) -> _FirstVersions:
        """The first-version columns, brought up to the published layers."""
        first = self._first
        count = self.layer_count
        if first.layer_count == count:
            return first
        with self._first_lock:
            if first.layer_count == count:
                return first
            start = len(first.entries)
            paths = self._paths[start : self._columns[count - 1].count]
            firsts = list(map(_FIRST, map(self._versions.__getitem__, paths)))
            entries = list(map(_ENTRY, firsts))
            first.entries.extend(entries)
            first.layers.extend(map(_LAYER, firsts))
            first.implied.extend(map(_IMPLIED, firsts))
            if None in entries:  # a first version that is a removal: never first_nodes
                first.dirs.extend(e is not None and e.type is _DIR for e in entries)
                first.second.extend(_NEVER if e is not None else -1 for e in entries)
            else:
                first.dirs.extend(map(_DIR.__eq__, map(_TYPE, entries)))
                first.second.extend(repeat(_NEVER, len(entries)))
            second, layers = first.second, first.layers
            for j in range(max(first.layer_count, 1), count):
                ids = self._columns[j].ids  # those first seen below j get a second version
                for i in compress(ids, map(j.__gt__, map(layers.__getitem__, ids))):
                    if second[i] == _NEVER:
                        second[i] = j
            first.layer_count = count
        return first

    def prepare_listings(self, limit: int = 0) -> None:
        """Gather what listings are made from (the first-version columns: about 0.5 s on a
        million paths, otherwise paid by the first expansion after a layer is published),
        and make the listings of the first `limit` directories in display order (what
        "expand all" opens: all of them would take seconds on a million paths; the others
        are made when expanded). Safe from a worker thread."""
        self._first_versions()
        pending = [""]
        kids = self._kids
        while pending and limit > 0:
            listing = self._listing(pending.pop())
            limit -= 1
            pending.extend(p for p in reversed(listing.paths) if p in kids)

    def has_children(self, path: str) -> bool:
        return bool(self._names.get(path))
