"""Pure view-models: the rows the file tree and the layer list draw (no Textual).

`build_rows` flattens a `FileTree` view plus the collapse, hide and filter state into the
visible rows, walking only expanded directories: its cost is the number of rows shown plus
the children of the directories opened, never the size of the layer.

The text a row shows of the image (`label`, `shown_path`, `layer_command`) is
`display.clean`ed here, where it becomes display text: the widgets draw it as it is.
"""

from __future__ import annotations

import bisect
import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from inspector import formatting
from inspector.analysis import Analysis, WastedFile
from inspector.changes import ChangeKind, EntryType
from inspector.display import clean
from inspector.model import Image, LayerInfo
from inspector.tree import KIND_BITS, FileTree, LayerSummary, Node

KINDS: tuple[ChangeKind, ...] = (
    ChangeKind.ADDED,
    ChangeKind.MODIFIED,
    ChangeKind.REMOVED,
    ChangeKind.UNCHANGED,
)
_DIR = EntryType.DIR  # module constants: enum member lookups are slow in hot loops
_UNCHANGED = ChangeKind.UNCHANGED
FREEZE_AFTER = 50_000  # objects a row build leaves young before they are frozen (gc_paused)
AUTO_EXPAND_LIMIT = 3000  # a filter opens the directories of at most this many matches


class SortOrder(StrEnum):
    NAME = "name"
    SIZE = "size"


class ViewMode(StrEnum):
    LAYER = "layer"
    AGGREGATED = "aggregated"


def view_range(mode: ViewMode, layer: int, base: int) -> tuple[int, int]:
    """The `(lo, hi)` layers a view compares: its changes are hi's over lo's."""
    if mode is ViewMode.LAYER:
        return layer - 1, layer
    return min(base, layer), layer


class Row(NamedTuple):
    """One line of the file tree (a named tuple: expand-all builds one per path)."""

    node: Node
    depth: int
    guide: str  # the tree glyphs before the name, e.g. "│   ├── "
    display: ChangeKind  # the colour: a directory with changes below it shows as modified
    expanded: bool = False
    matched: bool = False

    @property
    def expandable(self) -> bool:
        return self.node.is_dir


@dataclass(slots=True)
class TreeState:
    """Everything that decides which rows show: the view, collapse, hide and filter."""

    lo: int = -1
    hi: int = 0
    expanded: set[str] = field(default_factory=set)
    hidden: frozenset[ChangeKind] = frozenset()
    sort: SortOrder = SortOrder.NAME
    matches: Matches | None = None  # a filter's matches (None: no filter)

    @property
    def visible_kinds(self) -> frozenset[ChangeKind]:
        return frozenset(KINDS) - self.hidden

    def set_matches(self, matches: Matches | None) -> None:
        self.matches = matches
        if matches is not None and len(matches) <= AUTO_EXPAND_LIMIT:
            self.expanded.update(matches.directories())


class SortedIds:
    """Path ids in ascending order, tested by binary search: making one costs a copy, not
    the hashing of every match (a first filter character matches most of a large image,
    and only the rows shown are ever tested)."""

    __slots__ = ("_ids",)

    def __init__(self, ids: Iterable[int]) -> None:
        self._ids = sorted(ids)  # linear when they come sorted, as searches give them

    def __contains__(self, item: object) -> bool:
        ids = self._ids
        if not isinstance(item, int):
            return False
        at = bisect.bisect_left(ids, item)
        return at < len(ids) and ids[at] == item

    def __len__(self) -> int:
        return len(self._ids)

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids)


class Matches:
    """A filter's matching paths (by id) and the directories above them.

    `visible_children` and `build_rows` test their rows in bulk, with the tree's
    path → id lookup bound once (no method call per question).
    """

    def __init__(self, tree: FileTree, ids: Sequence[int]) -> None:
        self.tree = tree
        self.ids = SortedIds(ids)
        self.dirs = tree.ancestor_ids(ids)  # includes the root (-1) when anything matched

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.tree.id_of(path) in self.ids

    def above(self, path: str) -> bool:
        """True if some match lies below directory `path`."""
        return (not path and bool(self.ids)) or self.tree.id_of(path) in self.dirs

    def directories(self) -> list[str]:
        paths = self.tree.all_paths()
        return [paths[i] for i in self.dirs if i >= 0]


def display_kind(node: Node, masks: dict[str, int]) -> ChangeKind:
    if node.kind is _UNCHANGED and node.entry.type is _DIR and masks.get(node.path, 0):
        return ChangeKind.MODIFIED
    return node.kind


def _visible(node: Node, state: TreeState, masks: dict[str, int], visible_bits: int) -> bool:
    matches = state.matches
    if matches is not None and node.path not in matches:
        return matches.above(node.path)  # a directory above a (kind-filtered) match
    if not state.hidden:
        return True
    if node.kind not in state.hidden:
        return True
    if node.entry.type is not _DIR:
        return False
    if masks.get(node.path, 0) & visible_bits:
        return True
    # a directory present on both sides holds unchanged entries (unless it is empty)
    return ChangeKind.UNCHANGED not in state.hidden and node.kind is ChangeKind.MODIFIED


def visible_children(tree: FileTree, state: TreeState, path: str) -> Sequence[Node]:
    kids: Sequence[Node] = tree.children(path, state.lo, state.hi)
    matches = state.matches
    if state.hidden:
        masks = tree.masks(state.lo, state.hi)
        bits = sum(KIND_BITS[k] for k in state.visible_kinds)
        kids = [n for n in kids if _visible(n, state, masks, bits)]
    elif matches is not None:  # only the filter: matches and the directories above them
        id_of, shown, above = tree.id_of, matches.ids, matches.dirs
        kids = [n for n in kids if (i := id_of(n.path)) in shown or i in above]
    if state.sort is SortOrder.SIZE:
        kids = sorted(kids, key=lambda n: -n.size)  # stable: equal sizes stay by name
    return kids


_TEE, _END, _BAR, _SPACE = "├── ", "└── ", "│   ", "    "


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic collector off for a block that builds many acyclic tuples (rows, nodes):
    otherwise it scans the young objects every 700 allocations, and the whole heap (a
    100,000-file image) now and then, which doubled the time of "expand all"."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_count()[0] > FREEZE_AFTER:
                # expand all made 200,000 objects: the first collection would walk them
                # all (about 100 ms). They are acyclic and freed by reference counting,
                # so move them out of the collector's sight instead
                gc.freeze()
            gc.enable()


def build_rows(
    tree: FileTree, state: TreeState, root: str = "", *, open_all: int | None = None
) -> list[Row]:
    """The visible rows under `root` (the whole tree for `""`), depth first.

    With `open_all`, every directory met is opened too (at most `open_all` of them, in
    display order) and added to `state.expanded`: "expand all" in one walk.
    """
    with gc_paused():
        return _build_rows(tree, state, root, open_all)


def _build_rows(tree: FileTree, state: TreeState, root: str, open_all: int | None) -> list[Row]:
    masks_get = tree.masks(state.lo, state.hi).get
    rows: list[Row] = []
    append = rows.append
    new = tuple.__new__
    shown = state.matches.ids if state.matches is not None else None
    id_of = tree.id_of
    expanded = state.expanded
    opened: set[str] = set()
    room = open_all if open_all is not None else 0
    unchanged, modified = _UNCHANGED, ChangeKind.MODIFIED
    # a stack of (children, next index, guide prefix of their level, depth)
    stack: list[tuple[Sequence[Node], int, str, int]] = [
        (visible_children(tree, state, root), 0, "", 0)
    ]
    while stack:
        kids, i, guide, depth = stack.pop()
        count = len(kids)
        tee, end = guide + _TEE, guide + _END  # one string per level, not one per row
        while i < count:
            node = kids[i]
            i += 1
            last = i == count
            path = node.path
            kind = node.kind
            is_open = False
            if node.entry.type is _DIR:
                if path in expanded:
                    is_open = True
                elif room > 0:
                    opened.add(path)
                    room -= 1
                    is_open = True
                if kind is unchanged and masks_get(path, 0):
                    kind = modified
            append(
                new(
                    Row,
                    (
                        node,
                        depth,
                        end if last else tee,
                        kind,
                        is_open,
                        shown is not None and id_of(path) in shown,
                    ),
                )
            )
            if is_open:
                below = visible_children(tree, state, path)
                if below:
                    stack.append((kids, i, guide, depth))
                    stack.append((below, 0, guide + (_SPACE if last else _BAR), depth + 1))
                    break
    expanded |= opened
    return rows


def all_directories(tree: FileTree, state: TreeState, limit: int | None = None) -> set[str]:
    """Every directory of the view that is visible (to expand them all)."""
    found: set[str] = set()
    pending = [""]
    while pending:
        path = pending.pop()
        for node in visible_children(tree, state, path):
            if node.entry.type is _DIR:
                found.add(node.path)
                pending.append(node.path)
                if limit is not None and len(found) >= limit:
                    return found
    return found


def row_index(rows: Sequence[Row], path: str) -> int | None:
    for i, row in enumerate(rows):
        if row.node.path == path:
            return i
    return None


def attributes(node: Node) -> tuple[str, str, str]:
    """dive's attribute columns: permission, uid:gid, size."""
    entry = node.entry
    if node.implied:  # no tar entry: what a runtime creates (and how `analysis` compares)
        mode = formatting.mode_string(0o755, True)
        owner = "0:0"
    else:
        mode = formatting.mode_string(entry.mode, entry.type is EntryType.DIR)
        if entry.type is EntryType.SYMLINK:
            mode = "l" + mode[1:]
        owner = f"{entry.uid}:{entry.gid}"
    return mode, owner, formatting.size(node.size)


def label(node: Node) -> str:
    """The name as the tree shows it (`clean`ed), with `→ target` for links."""
    entry = node.entry
    if entry.type is EntryType.SYMLINK:
        return clean(f"{node.name} → {entry.link}")
    if entry.type is EntryType.HARDLINK:
        return clean(f"{node.name} → /{entry.link}")
    return clean(node.name)


def label_span(name: str, start: int, end: int) -> tuple[int, int]:
    """A span `[start, end)` of the name `name` as a span of its `label`: a character that
    `clean` writes as an escape takes the escape's length."""
    head = clean(name[:start])
    return len(head), len(head) + len(clean(name[start:end]))


def shown_path(path: str) -> str:
    """A path of the image as the details, the wasted-files list and the dialogs show it:
    absolute and `clean`ed."""
    return clean("/" + path)


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True, slots=True)
class LayerRow:
    """One layer as the layer list shows it; None means "not known yet"."""

    position: int
    stored: int | None  # compressed blob bytes where known
    contribution: int | None
    cumulative: int | None
    added: int | None
    modified: int | None
    removed: int | None
    wasted: int | None
    command: str
    shared: bool = False
    indexed: bool = False

    @property
    def changes(self) -> str:
        if self.added is None or self.modified is None or self.removed is None:
            return "…"
        return f"+{self.added} ~{self.modified} -{self.removed}"


def layer_rows(
    image: Image,
    summaries: Sequence[LayerSummary],
    stored: Sequence[int | None],
    analysis: Analysis | None,
    shared: frozenset[int] = frozenset(),
) -> list[LayerRow]:
    """The layer list: `summaries` from the tree as layers arrive, the analysis once done."""
    rows: list[LayerRow] = []
    for info in image.layers:
        i = info.position
        summary = summaries[i] if i < len(summaries) else None
        stats = analysis.layers[i] if analysis is not None and i < len(analysis.layers) else None
        contribution = cumulative = added = modified = removed = wasted = None
        if stats is not None:
            contribution, cumulative = stats.contribution, stats.cumulative
            added, modified, removed = stats.added, stats.modified, stats.removed
            wasted = stats.wasted_bytes
        elif summary is not None:
            contribution, cumulative = summary.contribution, summary.cumulative
            added, modified, removed = summary.added, summary.modified, summary.removed
        rows.append(
            LayerRow(
                i,
                stored[i] if i < len(stored) else None,
                contribution,
                cumulative,
                added,
                modified,
                removed,
                wasted,
                layer_command(info),
                shared=i in shared,
                indexed=summary is not None,
            )
        )
    return rows


def layer_command(info: LayerInfo) -> str:
    """The layer's history command as the layer list shows it, `clean`ed."""
    text = formatting.command(info.created_by)
    if not text:
        return f"({info.diff_id.short})" if info.position else "FROM (base layer)"
    return clean(text)


# --------------------------------------------------------------------------- wasted files


class WastedSort(StrEnum):
    SIZE = "size"
    PATH = "path"
    STORED = "stored"
    HIDDEN = "hidden"
    HOW = "how"


def sort_wasted(files: Iterable[WastedFile], key: WastedSort, reverse: bool) -> list[WastedFile]:
    keys = {
        WastedSort.SIZE: lambda w: (-w.size, w.path),
        WastedSort.PATH: lambda w: (w.path, w.stored_in),
        WastedSort.STORED: lambda w: (w.stored_in, -w.size, w.path),
        WastedSort.HIDDEN: lambda w: (w.hidden_by, -w.size, w.path),
        WastedSort.HOW: lambda w: (str(w.how), -w.size, w.path),
    }
    return sorted(files, key=keys[key], reverse=reverse)
