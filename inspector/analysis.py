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

import marshal
from array import array
from collections.abc import Callable, Collection, Iterator, MutableSequence, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, NamedTuple, overload

from inspector import native
from inspector.changes import ChangeKind, EntryType, FileEntry, Removal
from inspector.errors import add_warning
from inspector.gcpause import gc_paused
from inspector.indexer import LayerIndex
from inspector.model import Image
from inspector.overlay import Overlay


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
    """The stacked file system and the table of stored copies.

    The reference version of the stacking: `inspector/_stacking.pyx` keeps the same state
    over integer path ids and C arrays (`native.stacking`), and must give the same results.
    """

    def __init__(self) -> None:
        self.nodes: dict[str, _Node] = {}
        self.children: dict[str, set[str]] = {"": set()}
        self.copy_path: list[str] = []
        self.copy_size: MutableSequence[int] = []  # arrays when resumed
        self.copy_layer: MutableSequence[int] = []
        self.refs: MutableSequence[int] = []
        self.hidden: dict[int, tuple[int, Removal]] = {}
        self.live_bytes = 0
        self.removed_now: dict[str, FileEntry | None] = {}  # paths the current layer removed
        self.base_copies = 0  # resumed: copies of the prefix (copy_path holds the others)
        self.base_path: Callable[[int], str] = copy_path_unknown

    def node_count(self) -> int:
        return len(self.nodes)

    def stored_bytes(self) -> int:
        return sum(self.copy_size)

    def wasted(self, cls: type[WastedFile], layers: int) -> tuple[list[WastedFile], list[int]]:
        """The hidden copies, largest first, then by path and layer (in the order they were
        hidden when all three are equal), and the bytes hidden per layer that stored them."""
        found: list[WastedFile] = []
        per_layer = [0] * layers
        path_of = self.path_of
        for copy, (hidden_by, how) in self.hidden.items():
            size = self.copy_size[copy]
            stored_in = self.copy_layer[copy]
            found.append(cls(path_of(copy), size, stored_in, hidden_by, how))
            per_layer[stored_in] += size
        found.sort(key=lambda w: (-w.size, w.path, w.stored_in))
        return found, per_layer

    def shown_paths(self) -> dict[str, tuple[int, FileEntry]]:
        """Every path shown: path -> (layer, entry, or the implied directory's entry)."""
        return {path: (node.layer, node.entry or _IMPLIED_DIR) for path, node in self.nodes.items()}

    def path_of(self, copy: int) -> str:
        if copy >= self.base_copies:
            return self.copy_path[copy - self.base_copies]
        return self.base_path(copy)

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


def copy_path_unknown(copy: int) -> str:
    raise IndexError(copy)


Stacked = Any
"""A `_Stack`, or the compiled `Stack` of `native.stacking` (same methods, other shape)."""


def _new_stack(compiled: ModuleType | None) -> Stacked:
    """An empty stack: the compiled one of `compiled` (`native.stacking`), or `_Stack`."""
    return _Stack() if compiled is None else compiled.Stack(_IMPLIED_DIR)


@gc_paused
def analyse(
    image: Image,
    layers: Sequence[LayerIndex],
    start: PrefixState | None = None,
    keep: Callable[[int, bytes], None] | None = None,
    keep_at: Collection[int] = (),
) -> Analysis:
    """Stack the layers and account for every stored byte.

    `start`: the state after the first `start.depth` layers (`decode_state`; it is used
    up), from which only the layers above are applied. `keep(depth, payload)` receives
    the encoded state (`encode_state`) after each prefix length in `keep_at`.
    """
    compiled = native.stacking
    try:
        return _analyse(image, layers, start, keep, keep_at, compiled)
    except OverflowError:  # a number beyond the compiled stacking's 64 bits
        if compiled is None:
            raise
    return _analyse(image, layers, None, keep, keep_at, None)  # (a resumed run is the same)


def _analyse(
    image: Image,
    layers: Sequence[LayerIndex],
    start: PrefixState | None,
    keep: Callable[[int, bytes], None] | None,
    keep_at: Collection[int],
    compiled: ModuleType | None,
) -> Analysis:
    all_changes: list[LayerChanges] = []
    stack: Stacked
    if start is None:
        stack = _new_stack(compiled)
        all_stats: list[LayerStats] = []
        warnings: list[str] = []
        first = 0
    else:
        if start.depth > len(layers) or start.stack is None:
            raise ValueError("a prefix state deeper than the image, or used up")
        stack, start.stack = start.stack, None
        all_stats = [LayerStats(*row) for row in start.stats]
        warnings = list(start.warnings)
        first = start.depth
    for position in range(first, len(layers)):
        index = layers[position]
        stats = LayerStats(position)
        changes = LayerChanges()
        before = stack.live_bytes
        _apply(stack, position, index, stats, changes, warnings)
        stats.contribution = stack.live_bytes - before
        stats.cumulative = stack.live_bytes
        all_stats.append(stats)
        all_changes.append(changes)
        if keep is not None and position + 1 in keep_at and position + 1 < len(layers):
            payload = encode_state(stack, all_stats, warnings)
            if payload is not None:
                keep(position + 1, payload)

    wasted, per_layer = stack.wasted(WastedFile, len(all_stats))
    for stats, size in zip(all_stats, per_layer, strict=True):
        stats.wasted_bytes += size
    stored = stack.stored_bytes()
    user_stored = sum(s.stored_bytes for s in all_stats[1:])
    exact = ExactWaste(
        stored_bytes=stored,
        visible_bytes=stack.live_bytes,
        wasted_bytes=stored - stack.live_bytes,
        user_stored_bytes=user_stored,
        wasted_files=tuple(wasted),
    )
    kinds: Sequence[LayerChanges] = tuple(all_changes)
    if start is not None:  # the prefix's change kinds are not kept: recomputed when read
        kinds = RecomputedChanges(image, layers)
    return Analysis(image, tuple(all_stats), kinds, exact, tuple(warnings), stack.node_count())


_IMPLIED_DIR = FileEntry("", EntryType.DIR, 0, 0o755, 0, 0, 0)


def _apply(
    stack: Stacked,
    layer: int,
    index: LayerIndex,
    stats: LayerStats,
    changes: LayerChanges,
    warnings: list[str],
) -> None:
    if type(stack) is not _Stack:  # the compiled stacking
        stack.apply(layer, index, stats, changes, warnings)
        return
    stack.removed_now = {}
    for directory in index.opaque:
        for child in list(stack.children.get(directory, ())):
            stack.remove(child, layer, Removal.OPAQUE, Removal.OPAQUE, changes, stats)
    for path in index.whiteouts:
        if path in stack.nodes:
            stack.remove(path, layer, Removal.DELETED, Removal.PARENT_DELETED, changes, stats)
        elif path not in index.entries:
            add_warning(warnings, f"layer {layer}: whiteout for {path!r}, which no lower layer has")
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
                add_warning(warnings, f"layer {layer}: hard link {path!r} names missing {link!r}")
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


@dataclass(frozen=True, slots=True)
class FinalFileSystem:
    """What the layers stack up to: every path the file system shows (the root aside),
    with the layer that left it there and its entry (a directory that only a deeper path
    implies has the entry `drwxr-xr-x 0:0`, named ``), and, for each path some layer
    removed and no later layer put back, the last layer that removed it."""

    shown: dict[str, tuple[int, FileEntry]]
    removed_by: dict[str, int]


@gc_paused
def final_file_system(layers: Sequence[LayerIndex]) -> FinalFileSystem:
    """The final file system of a layer stack, by the same stacking as `analyse`."""
    compiled = native.stacking
    try:
        return _final_file_system(layers, compiled)
    except OverflowError:  # a number beyond the compiled stacking's 64 bits
        if compiled is None:
            raise
    return _final_file_system(layers, None)


def _final_file_system(
    layers: Sequence[LayerIndex], compiled: ModuleType | None
) -> FinalFileSystem:
    stack = _new_stack(compiled)
    warnings: list[str] = []
    removed_by: dict[str, int] = {}
    removed = ChangeKind.REMOVED
    for position, index in enumerate(layers):
        changes = LayerChanges()
        _apply(stack, position, index, LayerStats(position), changes, warnings)
        for path, kind in changes.kinds.items():
            if kind is removed:
                removed_by[path] = position
    shown = stack.shown_paths()
    return FinalFileSystem(shown, {p: n for p, n in removed_by.items() if p not in shown})


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


class RecomputedChanges(Sequence[LayerChanges]):
    """`Analysis.changes` of a cached or resumed result: the per-path change kinds are not
    stored (they would double the entry, and only tests and library callers read them),
    so the first read runs the analysis again over the same layers, from scratch."""

    __slots__ = ("_changes", "_count", "_image", "_layers")

    def __init__(self, image: Image, layers: Sequence[LayerIndex]) -> None:
        self._image = image
        self._layers = tuple(layers)
        self._count = len(self._layers)
        self._changes: Sequence[LayerChanges] | None = None

    def _computed(self) -> Sequence[LayerChanges]:
        if self._changes is None:
            self._changes = analyse(self._image, self._layers).changes
        return self._changes

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, item: int) -> LayerChanges: ...
    @overload
    def __getitem__(self, item: slice) -> Sequence[LayerChanges]: ...
    def __getitem__(self, item: int | slice) -> LayerChanges | Sequence[LayerChanges]:
        return self._computed()[item]

    def __iter__(self) -> Iterator[LayerChanges]:
        return iter(self._computed())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._computed())


# --- prefix states ----------------------------------------------------------------------
# The stack after the first layers of an image, stored (results.py) so that an image with
# the same first layers applies only the layers above. Decoding builds no object per path:
# the nodes and the children index stay columns behind `Overlay`s, and a node or a child
# set is built when the layers above first read it. Nodes are stored grouped by parent, in
# the order of the children index, so the children of a directory are one slice.
STATE_FORMAT = 1
_TYPES = list(EntryType)
_TYPE_CODE = {t: i for i, t in enumerate(_TYPES)}
_NO_ENTRY = 255  # a directory implied by a deeper entry
_REMOVALS = list(Removal)
_REMOVAL_CODE = {r: i for i, r in enumerate(_REMOVALS)}
_PLACEHOLDER = FileEntry("", EntryType.DIR, 0, 0, 0, 0, 0)


def pack_ints(values: Sequence[int], code: str = "q") -> Any:
    """Ints as array bytes (read back without an int object each), or a list when one
    does not fit."""
    try:
        return (code, array(code, values).tobytes())
    except OverflowError:
        return list(values)


def unpack_ints(packed: Any) -> MutableSequence[int]:
    if isinstance(packed, list):
        return packed
    code, data = packed
    values = array(code)
    values.frombytes(data)
    return values


@dataclass(slots=True)
class PrefixState:
    """A decoded prefix state; `analyse(start=...)` uses its stack up."""

    depth: int
    stack: Stacked | None
    stats: list[tuple[int, ...]]
    warnings: list[str]


def _state_columns(stack: _Stack) -> tuple[Any, ...] | None:
    """What a prefix state stores of a `_Stack` (the compiled `Stack.state_columns`)."""
    nodes = stack.nodes
    if isinstance(nodes, Overlay) or stack.base_copies:
        return None
    dirs = list(stack.children)
    order: list[str] = []
    starts: list[int] = []
    for kids in stack.children.values():
        starts.append(len(order))
        order.extend(kids)
    starts.append(len(order))
    if len(order) != len(nodes) or len(set(order)) != len(order):
        return None  # the children index does not hold every node once
    try:
        rows = [nodes[path] for path in order]
    except KeyError:
        return None
    hidden = stack.hidden
    return (
        order, dirs, starts, [node.entry for node in rows], [node.layer for node in rows],
        [node.copy for node in rows], bytes([node.is_dir for node in rows]), stack.copy_size,
        stack.copy_layer, stack.refs, list(hidden),
        [hidden_by for hidden_by, _ in hidden.values()],
        bytes([_REMOVAL_CODE[how] for _, how in hidden.values()]), stack.copy_path,
        stack.live_bytes,
    )  # fmt: skip


def encode_state(
    stack: Stacked, stats: Sequence[LayerStats], warnings: Sequence[str]
) -> bytes | None:
    """The stack as a prefix state; None when it cannot be stored (a resumed stack). Both
    stackings write the same format, and each reads what the other wrote."""
    if type(stack) is _Stack:
        columns = _state_columns(stack)
    else:
        columns = None if stack.resumed else stack.state_columns()
    if columns is None:
        return None
    (order, dirs, starts, entries, layers, copies, is_dir, copy_size, copy_layer, refs,
     hidden, hidden_by, hows, copy_path, live_bytes) = columns  # fmt: skip
    filled = [e or _PLACEHOLDER for e in entries]
    code = _TYPE_CODE
    types = bytes([_NO_ENTRY if e is None else code[e[1]] for e in entries])
    if filled:
        _, _, sizes, modes, uids, gids, mtimes, links, digests = zip(*filled, strict=True)
    else:
        sizes = modes = uids = gids = mtimes = digests = ()
        links = ()
    body = marshal.dumps(
        (
            order,
            dirs,
            pack_ints(starts),
            types,
            pack_ints(sizes),
            pack_ints(modes),
            pack_ints(uids),
            pack_ints(gids),
            pack_ints(mtimes),
            {row: link for row, link in enumerate(links) if link},
            pack_ints(digests, "Q"),
            pack_ints(layers),
            pack_ints(copies),
            is_dir,
            pack_ints(copy_size),
            pack_ints(copy_layer),
            pack_ints(refs),
            hidden,
            hidden_by,
            hows,
            [copy_path[copy] for copy in hidden],
            marshal.dumps(copy_path),
            live_bytes,
        )
    )
    return marshal.dumps(
        (
            STATE_FORMAT,
            len(stats),
            [tuple(getattr(s, name) for name in LayerStats.__slots__) for s in stats],
            list(warnings),
            body,
        )
    )


@gc_paused
def decode_state(payload: bytes) -> PrefixState:
    """A stored prefix state; ValueError for anything damaged."""
    try:
        version, depth, stats, warnings, body = marshal.loads(payload)
        if version != STATE_FORMAT:
            raise ValueError(f"state format {version}")
        (order, dirs, starts, types, sizes, modes, uids, gids, mtimes, links, digests,
         layers, copies, is_dir, copy_size, copy_layer, refs, hidden, hidden_by, hows,
         hidden_paths, all_paths, live_bytes) = marshal.loads(body)  # fmt: skip
        count = len(order)
        starts = unpack_ints(starts)
        columns = [unpack_ints(c) for c in (sizes, modes, uids, gids, mtimes, digests)]
        sizes, modes, uids, gids, mtimes, digests = columns
        layers, copies = unpack_ints(layers), unpack_ints(copies)
        if not all(len(c) == count for c in (types, is_dir, layers, copies, *columns)):
            raise ValueError("node columns differ in length")
        if len(starts) != len(dirs) + 1 or (starts and starts[-1] != count):
            raise ValueError("children index does not match the nodes")
        if len(stats) != depth or not all(len(row) == len(LayerStats.__slots__) for row in stats):
            raise ValueError("layer statistics")
        copy_size, copy_layer, refs = map(unpack_ints, (copy_size, copy_layer, refs))
        if not len(copy_size) == len(copy_layer) == len(refs):
            raise ValueError("copy columns differ in length")
        if not len(hidden) == len(hidden_by) == len(hows) == len(hidden_paths):
            raise ValueError("hidden copy columns differ in length")
        compiled = native.stacking
        if compiled is not None:  # the same columns, loaded into the compiled stack
            every_path = marshal.loads(all_paths)
            if len(every_path) != len(copy_size):
                raise ValueError("copy paths differ in length")
            loaded_stack = compiled.Stack(_IMPLIED_DIR)
            loaded_stack.resume(
                order, dirs, starts, types, sizes, modes, uids, gids, mtimes, links, digests,
                layers, copies, is_dir, copy_size, copy_layer, refs, hidden, hidden_by, hows,
                every_path, live_bytes,
            )  # fmt: skip
            return PrefixState(int(depth), loaded_stack, [tuple(r) for r in stats], list(warnings))
        kinds = _TYPES
        node = _Node

        def make_node(path: str, row: int) -> _Node:
            kind = types[row]
            entry = None
            if kind != _NO_ENTRY:
                entry = FileEntry(
                    path, kinds[kind], sizes[row], modes[row], uids[row], gids[row],
                    mtimes[row], links.get(row, ""), digests[row],
                )  # fmt: skip
            return node(entry, layers[row], copies[row], bool(is_dir[row]))

        def make_children(path: str, row: int) -> set[str]:
            return set(order[starts[row] : starts[row + 1]])

        stack = _Stack()
        stack.nodes = Overlay(dict(zip(order, range(count), strict=True)), make_node)
        stack.children = Overlay(dict(zip(dirs, range(len(dirs)), strict=True)), make_children)
        stack.copy_size, stack.copy_layer, stack.refs = copy_size, copy_layer, refs
        stack.base_copies = len(stack.refs)
        known: dict[int, str] = dict(zip(hidden, hidden_paths, strict=True))
        loaded: list[list[str]] = []

        def base_path(copy: int) -> str:
            path = known.get(copy)
            if path is not None:
                return path
            if not loaded:
                loaded.append(marshal.loads(all_paths))
            return str(loaded[0][copy])

        stack.base_path = base_path
        stack.hidden = dict(
            zip(hidden, zip(hidden_by, map(_REMOVALS.__getitem__, hows), strict=True), strict=True)
        )
        stack.live_bytes = int(live_bytes)
        return PrefixState(int(depth), stack, [tuple(row) for row in stats], list(warnings))
    except ValueError:
        raise
    except Exception as exc:  # any malformed payload is a miss, never a crash
        raise ValueError(f"malformed prefix state ({exc})") from None
