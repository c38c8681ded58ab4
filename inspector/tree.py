"""The stacked file system as of any layer, built lazily for browsing (pure: no I/O, no UI).

One forward pass over the layers (base first, applied the way a runtime applies them, the
same rules as `analysis`) records, for every path the image ever holds, the list of its
*versions*: the layer that stored, changed or removed it and the entry it left behind.
Nothing per layer is materialised: the file system as of layer `i` is "the newest version
of each path at or below `i`", found by a short scan of that path's version list.

Views compare two layers. `lo` is the file system the changes are measured against and
`hi` the one shown: the *layer* view of layer `i` is `(i - 1, i)` (layer 0 against the
empty file system, `-1`), the *aggregated* view from base `b` is `(b, i)`. A directory's
children are computed on demand from the names ever seen under it (O(children) per
expansion) and cached per `(directory, lo, hi)`; which kinds of change lie below each
directory are computed once per view from the paths the layers in between touched.

Thread safety: `add_layer` runs in a loader thread while the UI reads. Every structure a
reader touches is append-only and a layer is published (`layer_count`) only once it is
complete, so a reader that only asks about published layers sees a consistent state.
"""

from __future__ import annotations

import bisect
import functools
import operator
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, compress, islice, repeat
from typing import NamedTuple

from inspector.changes import ChangeKind, EntryType, FileEntry, Removal
from inspector.indexer import LayerIndex

ADDED_BIT = 1
MODIFIED_BIT = 2
REMOVED_BIT = 4
KIND_BITS: dict[ChangeKind, int] = {
    ChangeKind.ADDED: ADDED_BIT,
    ChangeKind.MODIFIED: MODIFIED_BIT,
    ChangeKind.REMOVED: REMOVED_BIT,
    ChangeKind.UNCHANGED: 0,
}
_CACHE_NODES = 400_000  # nodes kept in the children cache (about 60 MB at most)
_MASK_CACHE_LIMIT = 16
_FLAG_CACHE_BYTES = 64 << 20  # presence bitmaps kept (one byte per path per layer)


class Version:
    """One state of a path: what layer `layer` left there (`entry` None: removed)."""

    __slots__ = ("entry", "how", "implied", "layer")

    def __init__(
        self, layer: int, entry: FileEntry | None, how: Removal | None = None, implied: bool = False
    ) -> None:
        self.layer = layer
        self.entry = entry
        self.how = how
        self.implied = implied  # a directory no tar entry names, implied by a deeper path

    @property
    def is_dir(self) -> bool:
        entry = self.entry
        return entry is not None and entry.type is _DIR


_DIR = EntryType.DIR


_SIZE_TESTS: dict[str, Callable[[int], Callable[[int], bool]]] = {
    # `bound.__lt__(size)` is `size > bound`: C-level predicates for `map`
    ">": lambda bound: bound.__lt__,
    ">=": lambda bound: bound.__le__,
    "<": lambda bound: bound.__gt__,
    "<=": lambda bound: bound.__ge__,
}


def _at(chain: Sequence[Version], layer: int) -> Version | None:
    """The newest version in `chain` at or below `layer` (may be a removal)."""
    for i in range(len(chain) - 1, -1, -1):
        v = chain[i]
        if v.layer <= layer:
            return v
    return None


def _by_name(node: Node) -> str:
    return node.name


def _parent(path: str) -> str:
    slash = path.rfind("/")
    return path[:slash] if slash >= 0 else ""


def _name(path: str) -> str:
    return path[path.rfind("/") + 1 :]


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def ancestors(path: str) -> list[str]:
    """The directories above `path`, nearest first, ending with the root `""`."""
    result: list[str] = []
    while path:
        path = _parent(path)
        result.append(path)
    return result


def _implied_entry(path: str) -> FileEntry:
    return FileEntry(path, EntryType.DIR, 0, 0o755, 0, 0, 0)


def compare(lower: Version | None, upper: Version | None) -> ChangeKind | None:
    """How `upper` differs from `lower` (None when the path is absent in both)."""
    if lower is None or lower.entry is None:
        return None if upper is None or upper.entry is None else ChangeKind.ADDED
    if upper is None or upper.entry is None:
        return ChangeKind.REMOVED
    if lower is upper or not differences(lower, upper):
        return ChangeKind.UNCHANGED
    return ChangeKind.MODIFIED


def differences(lower: Version, upper: Version) -> tuple[str, ...]:
    """What changed between two present versions.

    An implied directory compares as `drwxr-xr-x 0:0`, what a runtime creates (the same
    convention as `analysis`)."""
    assert lower.entry is not None
    assert upper.entry is not None
    return upper.entry.differences(lower.entry)


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
    (see `FileTree._listing`), and the fields of each child's first version as columns.

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

    def first_nodes(self, tree: FileTree, lo: int, hi: int) -> tuple[Node, ...]:
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


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One layer that stored, changed or removed a path."""

    layer: int
    kind: ChangeKind
    entry: FileEntry | None
    size: int
    how: Removal | None = None
    reasons: tuple[str, ...] = ()
    implied: bool = False


@dataclass(slots=True)
class LayerSummary:
    """What one layer does to the file system below it (the same counts as `analysis`)."""

    position: int
    added: int = 0
    modified: int = 0
    removed: int = 0
    unchanged: int = 0
    contribution: int = 0
    cumulative: int = 0
    entries: int = 0


class FileTree:
    """Every path's versions across the layers, and lazy views over them."""

    def __init__(self, layers: Iterable[LayerIndex] = ()) -> None:
        self._versions: dict[str, list[Version]] = {
            "": [Version(0, _implied_entry(""), None, True)]
        }
        self._names: dict[str, list[str]] = {"": []}
        self._paths: list[str] = []  # every path ever seen, in first-seen order
        self._dir_layers: dict[str, list[int]] = {"": [0]}
        self._dir_sizes: dict[str, list[int]] = {"": [0]}
        self._touched: list[list[str]] = []  # per layer: paths that got a version there
        self._layer_masks: list[dict[str, int]] = []
        self.summaries: list[LayerSummary] = []
        self.layer_count = 0
        # loader-side state: the current file system
        self._cur: dict[str, Version] = {"": self._versions[""][0]}
        self._cur_children: dict[str, set[str]] = {"": set()}
        self._cur_size: dict[str, int] = {"": 0}
        # reader-side caches
        self._children_cache: OrderedDict[tuple[str, int, int], tuple[Node, ...]] = OrderedDict()
        self._listings: dict[str, _Listing] = {}  # per directory (see _listing)
        self._mask_cache: OrderedDict[tuple[int, int], dict[str, int]] = OrderedDict()
        self._pinned: dict[tuple[int, int], dict[str, int]] = {}  # written by `precompute`
        self._lock = threading.Lock()
        self._search_lock = threading.Lock()  # the search strings (see prepare_search)
        self._cached_nodes = 0
        self._strings: dict[tuple[bool, bool], list[str]] = {}  # see _search_strings
        self._joined: dict[tuple[bool, bool], tuple[str, list[int]]] = {}  # _find_literal
        # the last literal search: ((fold, names), strings searched), needle, hits
        self._last_literal: tuple[tuple[tuple[bool, bool], int], str, list[int]] | None = None
        self._index: dict[str, int] = {}  # path -> position in _paths (its id)
        self._parent_ids: list[int] = []  # per id, the parent's id (-1: the root)
        self._present: OrderedDict[int, bytes] = OrderedDict()
        self._sizes: OrderedDict[int, array[int]] = OrderedDict()
        self._view_sizes: tuple[tuple[int, int], array[int]] | None = None
        self._view_flags: tuple[tuple[int, int, frozenset[ChangeKind] | None], bytes] | None = None
        for index in layers:
            self.add_layer(index)

    # ------------------------------------------------------------------ building
    def add_layer(self, index: LayerIndex) -> None:
        """Apply the next layer on top of the ones added so far."""
        builder = _LayerBuilder(self, self.layer_count)
        builder.apply(index)
        self._touched.append(builder.touched)
        self.summaries.append(builder.summary)
        self._layer_masks.append(self._new_layer_masks(builder.touched))
        self.layer_count += 1  # publish

    # ------------------------------------------------------------------ lookups
    def version(self, path: str, layer: int) -> Version | None:
        """The newest version of `path` at or below `layer`, if the path is present there."""
        if layer < 0:
            return None
        chain = self._versions.get(path)
        if chain is None:
            return None
        v = _at(chain, layer)
        return v if v is not None and v.entry is not None else None

    def exists(self, path: str, layer: int) -> bool:
        return self.version(path, layer) is not None

    def dir_size(self, path: str, layer: int) -> int:
        """Bytes of the regular files below directory `path` as of `layer`."""
        layers = self._dir_layers.get(path)
        if layers is None or layer < 0:
            return 0
        # the loader appends a size before its layer, so sizes never run short
        i = bisect.bisect_right(layers, layer)
        return self._dir_sizes[path][i - 1] if i else 0

    def kind(self, path: str, lo: int, hi: int) -> ChangeKind | None:
        if lo == hi:
            return ChangeKind.UNCHANGED if self.exists(path, hi) else None
        return compare(self.version(path, lo), self.version(path, hi))

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

    # ------------------------------------------------------------------ change masks
    def masks(self, lo: int, hi: int) -> dict[str, int]:
        """Per directory, bits of the kinds of change (`*_BIT`) somewhere below it.

        A layer's own view is ready as soon as the layer is; other ranges are computed on
        first use (O(paths the layers in between touched)) and cached. `precompute` does
        that ahead of time for a base, from the loader thread.
        """
        if lo >= hi:
            return {}
        if lo == hi - 1 and 0 <= hi < len(self._layer_masks):
            return self._layer_masks[hi]
        key = (lo, hi)
        cached = self._pinned.get(key)
        if cached is None:
            with self._lock:
                cached = self._mask_cache.get(key)
        if cached is not None:
            return cached
        result = self._range_masks(lo, hi)
        with self._lock:
            self._mask_cache[key] = result
            if len(self._mask_cache) > _MASK_CACHE_LIMIT:
                self._mask_cache.popitem(last=False)
        return result

    def precompute(self, base: int, cancelled: Callable[[], bool] = lambda: False) -> None:
        """Compute ahead what layer switches need: the presence bitmaps of the layers
        (for filters) and the aggregated views' masks from `base` to every later layer."""
        for layer in range(self.layer_count):
            if cancelled():
                return
            self.present_flags(layer)
            self.size_array(layer)
        for hi in range(base + 2, self.layer_count):
            if cancelled():
                return
            key = (base, hi)
            if key not in self._pinned:
                self._pinned[key] = self._range_masks(base, hi)

    def _range_masks(self, lo: int, hi: int) -> dict[str, int]:
        start = max(lo + 1, 0)
        if hi == start:
            paths: Iterable[str] = self._touched[start]
        else:
            paths = dict.fromkeys(p for j in range(start, hi + 1) for p in self._touched[j])
        masks: dict[str, int] = {}
        versions = self._versions
        own = self._own
        for path in paths:
            chain = versions[path]
            low = _at(chain, lo) if lo >= 0 else None
            kind = compare(low, _at(chain, hi))
            if kind is None:
                continue
            bit = KIND_BITS[kind]
            if not bit:
                continue
            node = path
            while node:
                slash = node.rfind("/")
                node = node[:slash] if slash >= 0 else ""
                have = masks.get(node, 0)
                if have & bit:
                    break
                masks[own(node) if not have else node] = have | bit
        return masks

    def _own(self, path: str) -> str:
        """The path object the tree keeps for `path` (a new key made from a slice of a
        deeper path would hold the directory's name once more per structure)."""
        known = self._index.get(path)
        return path if known is None else self._paths[known]

    def _new_layer_masks(self, touched: Iterable[str]) -> dict[str, int]:
        """Masks of the layer being added against the one below (versions end with it)."""
        masks: dict[str, int] = {}
        versions = self._versions
        layer = self.layer_count
        own = self._own
        for path in touched:
            chain = versions[path]
            upper = chain[-1]
            lower = chain[-2] if len(chain) >= 2 else None
            if upper.layer != layer:  # pragma: no cover - touched paths end at this layer
                continue
            bit = KIND_BITS[compare(lower, upper) or ChangeKind.UNCHANGED]
            if not bit:
                continue
            node = path
            while node:
                slash = node.rfind("/")
                node = node[:slash] if slash >= 0 else ""
                have = masks.get(node, 0)
                if have & bit:
                    break
                masks[own(node) if not have else node] = have | bit
        return masks

    def changed_paths(self, layer: int) -> Sequence[str]:
        """Paths that layer `layer` stored, changed or removed (in the order it did)."""
        return self._touched[layer]

    # ------------------------------------------------------------------ history
    def history(self, path: str) -> list[HistoryItem]:
        """Every layer that stored, changed or removed `path`, oldest first."""
        items: list[HistoryItem] = []
        previous: Version | None = None
        for v in list(self._versions.get(path, ())):
            if v.layer >= self.layer_count or not path:
                break
            if v.entry is None:
                if previous is None or previous.entry is None:
                    previous = v
                    continue
                size = self._size_of(path, previous, v.layer - 1)
                items.append(HistoryItem(v.layer, ChangeKind.REMOVED, None, size, v.how))
            else:
                size = self._size_of(path, v, v.layer)
                if previous is None or previous.entry is None:
                    items.append(HistoryItem(v.layer, ChangeKind.ADDED, v.entry, size,
                                             implied=v.implied))  # fmt: skip
                else:
                    reasons = differences(previous, v)
                    kind = ChangeKind.MODIFIED if reasons else ChangeKind.UNCHANGED
                    items.append(
                        HistoryItem(v.layer, kind, v.entry, size, None, reasons, v.implied)
                    )
            previous = v
        return items

    def _size_of(self, path: str, v: Version, layer: int) -> int:
        assert v.entry is not None
        return self.dir_size(path, layer) if v.entry.type is EntryType.DIR else v.entry.size

    # ------------------------------------------------------------------ search
    def search(
        self,
        text: Callable[[str], object] | None,
        sizes: Sequence[tuple[str, int]],
        lo: int,
        hi: int,
        kinds: frozenset[ChangeKind] | None = None,
        fold: bool = False,
    ) -> list[str]:
        """`search_ids` as paths."""
        paths = self._paths
        return [paths[i] for i in self.search_ids(text, sizes, lo, hi, kinds, fold)]

    def search_ids(
        self,
        text: Callable[[str], object] | None,
        sizes: Sequence[tuple[str, int]],
        lo: int,
        hi: int,
        kinds: frozenset[ChangeKind] | None = None,
        fold: bool = False,
        names: bool = False,
        literal: str | None = None,
    ) -> list[int]:
        """Ids of the paths present in the view `(lo, hi)` that match, ascending.

        `text` is tried on the absolute form (`/etc/passwd`, what dive matches against);
        `sizes` are conditions `(op, bytes)` with op one of `<`, `<=`, `>`, `>=` on the
        size of a non-directory (directories never match a size); `kinds`, when given,
        keeps only paths whose change kind in the view is among them; `fold` gives `text`
        the lowercased absolute path, `names` the file name alone. `literal`, when the
        pattern is a plain substring, finds it with `str.find` over all the paths joined
        (the common case of typing a name: much faster than a regex per path). Every step is a
        C-level pass over per-view arrays (which paths the view shows, their sizes) kept
        between keystrokes, so a keystroke costs one pattern match per path ever seen.
        """
        paths = self._paths
        count = len(paths)
        absolute = self._search_strings(fold, names)
        shown = self.view_flags(lo, hi, kinds)
        limit = min(count, len(shown))
        if literal and "\n" not in literal:
            hits_at = self._find_literal(literal, absolute, fold, names)
            found = list(compress(hits_at, map(shown.__getitem__, hits_at)))
        elif text is not None:
            hits = map(operator.truth, map(text, islice(absolute, limit)))
            found = list(compress(range(limit), map(operator.and_, shown, hits)))
        else:
            found = list(compress(range(limit), shown))
        if sizes:
            values = self.view_sizes(lo, hi)
            found = list(compress(found, map((-1).__lt__, map(values.__getitem__, found))))
            for op, bound in sizes:
                test = _SIZE_TESTS[op](bound)
                found = list(compress(found, map(test, map(values.__getitem__, found))))
        return found

    def _find_literal(self, needle: str, strings: list[str], fold: bool, names: bool) -> list[int]:
        """Ids of the `strings` containing `needle`, ascending.

        Typing on (the last needle is part of this one) only re-checks the last hits; a
        short needle (it matches a lot) is one C-level `in` per string; a longer one is
        found with `str.find` over all the strings joined (cost per hit, not per path).
        """
        key = (fold, names)
        if fold:
            needle = needle.lower()
        last_search = self._last_literal
        if (
            last_search is not None
            and last_search[0] == (key, len(strings))
            and last_search[1] in needle
        ):
            # typing on: the new hits are among the last ones (one C-level pass over them)
            before = last_search[2]
            hits = list(
                compress(before, map(operator.contains, map(strings.__getitem__, before),
                                     repeat(needle)))
            )  # fmt: skip
            self._last_literal = ((key, len(strings)), needle, hits)
            return hits
        if len(needle) < 3:
            hits = list(
                compress(range(len(strings)), map(operator.contains, strings, repeat(needle)))
            )
        else:
            hits = self._find_joined(needle, *self._joined_for(key, strings))
        self._last_literal = ((key, len(strings)), needle, hits)
        return hits

    def _joined_for(self, key: tuple[bool, bool], strings: list[str]) -> tuple[str, list[int]]:
        """`strings` joined by newlines, and where each starts (kept per key)."""
        with self._search_lock:
            joined = self._joined.get(key)
            if joined is None or len(joined[1]) - 1 != len(strings):
                text = "\n".join(strings) + "\n"
                starts = list(accumulate(map((1).__add__, map(len, strings)), initial=0))
                joined = self._joined[key] = (text, starts)
            return joined

    def prepare_search(self, fold: bool = True, names: bool = False) -> None:
        """Build what a search runs over before the first keystroke needs it (80 ms on
        100,000 paths), and which paths each layer holds (the first search in a view
        otherwise pays 100 ms for them); safe from a worker thread. The default is a
        lowercase pattern."""
        self._joined_for((fold, names), self._search_strings(fold, names))
        for layer in range(self.layer_count):  # incremental: each starts from the last
            self.present_flags(layer)

    @staticmethod
    def _find_joined(needle: str, text: str, starts: list[int]) -> list[int]:
        found: list[int] = []
        find = text.find
        last = len(starts) - 1
        pos = 0
        while True:
            at = find(needle, pos)
            if at < 0:
                return found
            line = bisect.bisect_right(starts, at) - 1
            if line >= last:
                return found
            found.append(line)
            pos = starts[line + 1]

    def _search_strings(self, fold: bool, names: bool) -> list[str]:
        """What a pattern runs over, per path id: `/path` or the name, maybe lowercased."""
        key = (fold, names)
        with self._search_lock:  # `prepare_search` may be building them in a worker
            strings = self._strings.setdefault(key, [])
            paths = self._paths
            count = len(paths)
            if len(strings) < count:
                fresh = paths[len(strings) : count]
                new = [p[p.rfind("/") + 1 :] for p in fresh] if names else ["/" + p for p in fresh]
                strings.extend([s.lower() for s in new] if fold else new)
            return strings

    def size_array(self, layer: int) -> array[int]:
        """Per path id, its size as of `layer`: -1 for a directory or an absent path."""
        cache = self._sizes
        with self._lock:
            cached = cache.get(layer)
            lower = max((k for k in cache if k < layer), default=None)
            values = array("q", cache[lower]) if lower is not None else array("q")
        if cached is not None:
            return cached
        values.extend(repeat(-1, len(self._paths) - len(values)))
        index = self._index
        versions = self._versions
        first = lower + 1 if lower is not None else 0
        for j in range(first, layer + 1):
            for path in self._touched[j]:
                v = _at(versions[path], layer)
                entry = v.entry if v is not None else None
                values[index[path]] = -1 if entry is None or entry.type is _DIR else entry.size
        with self._lock:
            cache[layer] = values
            while len(cache) > max(8, _FLAG_CACHE_BYTES // max(8 * len(values), 1)):
                cache.popitem(last=False)
        return values

    def view_sizes(self, lo: int, hi: int) -> array[int]:
        """Per path id, the size the view `(lo, hi)` shows (-1: directory or not shown)."""
        key = (lo, hi)
        if self._view_sizes is not None and self._view_sizes[0] == key:
            return self._view_sizes[1]
        values = array("q", self.size_array(hi)) if hi >= 0 else array("q")
        values.extend(repeat(-1, len(self._paths) - len(values)))
        if 0 <= lo < hi:
            lower = self.size_array(lo)
            index = self._index
            versions = self._versions
            for j in range(lo + 1, hi + 1):
                for path in self._touched[j]:
                    i = index[path]
                    if i < len(lower) and lower[i] >= 0:
                        up = _at(versions[path], hi)
                        if up is None or up.entry is None:  # removed in the view: old size
                            values[i] = lower[i]
        self._view_sizes = (key, values)
        return values

    def present_flags(self, layer: int) -> bytes:
        """One byte per path index: 1 where the path is present as of `layer`."""
        if layer < 0:
            return b""
        cache = self._present
        with self._lock:
            cached = cache.get(layer)
            lower = max((k for k in cache if k < layer), default=None)
            start = bytearray(cache[lower]) if lower is not None else bytearray()
        if cached is not None:
            return cached
        flags = start
        flags.extend(bytes(len(self._paths) - len(flags)))
        index = self._index
        versions = self._versions
        first = lower + 1 if lower is not None else 0
        for j in range(first, layer + 1):
            for path in self._touched[j]:
                v = _at(versions[path], layer)
                flags[index[path]] = 1 if v is not None and v.entry is not None else 0
        result = bytes(flags)
        with self._lock:
            cache[layer] = result
            while len(cache) > max(8, _FLAG_CACHE_BYTES // max(len(result), 1)):
                cache.popitem(last=False)
        return result

    def view_flags(self, lo: int, hi: int, kinds: frozenset[ChangeKind] | None = None) -> bytes:
        """One byte per path index: 1 where the view `(lo, hi)` shows the path."""
        key = (lo, hi, kinds)
        if self._view_flags is not None and self._view_flags[0] == key:
            return self._view_flags[1]
        upper = self.present_flags(hi)
        lower = self.present_flags(lo) if lo != hi else b""
        width = max(len(upper), len(lower))
        either = int.from_bytes(upper.ljust(width, b"\0"), "little") | int.from_bytes(
            lower.ljust(width, b"\0"), "little"
        )
        flags = bytearray(either.to_bytes(width, "little"))
        if kinds is not None and lo != hi:
            changed: dict[str, ChangeKind] = {}
            start = max(lo + 1, 0)
            versions = self._versions
            for j in range(start, hi + 1):
                for path in self._touched[j]:
                    if path not in changed:
                        chain = versions[path]
                        low = _at(chain, lo) if lo >= 0 else None
                        changed[path] = compare(low, _at(chain, hi)) or ChangeKind.UNCHANGED
            index = self._index
            if ChangeKind.UNCHANGED not in kinds:
                flags = bytearray(width)
                for path, kind in changed.items():
                    if kind in kinds:
                        flags[index[path]] = 1
            else:
                for path, kind in changed.items():
                    if kind not in kinds:
                        flags[index[path]] = 0
        elif kinds is not None and ChangeKind.UNCHANGED not in kinds:
            flags = bytearray(width)
        result = bytes(flags)
        self._view_flags = (key, result)
        return result

    def all_paths(self) -> Sequence[str]:
        return self._paths

    def id_of(self, path: str) -> int:
        """A path's id (its position in `all_paths`); -1 for the root and unknown paths."""
        return self._index.get(path, -1)

    def ancestor_ids(self, ids: Iterable[int]) -> set[int]:
        """The ids of every directory above any of `ids` (the root is -1)."""
        parents = self._parent_ids
        found: set[int] = set()
        level = set(map(parents.__getitem__, ids))
        while level:
            new = level - found
            found |= new
            new.discard(-1)
            level = set(map(parents.__getitem__, new))
        return found


class _LayerBuilder:
    """Applies one layer to a FileTree's current file system, recording versions.

    Size changes are collected per parent directory and pushed up the tree once, at the
    end of the layer (or before a removal needs an exact directory size), so a file costs
    O(1) rather than O(depth).
    """

    def __init__(self, tree: FileTree, layer: int) -> None:
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
            names.append(path[slash + 1 :])
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
