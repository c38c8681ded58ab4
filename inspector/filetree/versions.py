"""Per-path versions: what every layer stored, changed or removed, path by path.

One forward pass over the layers (base first, applied the way a runtime applies them, the
same rules as `analysis`; stacking.py) records, for every path the image ever holds,
the list of its *versions*: the layer that stored, changed or removed it and the entry it
left behind. Nothing per layer is materialised: the file system as of layer `i` is "the
newest version of each path at or below `i`", found by a short scan of that path's
version list (`_at`). `Versions` holds them, with the directory sizes per layer, the path
ids and each path's history; the other parts of `tree.FileTree` read them.
"""

from __future__ import annotations

import bisect
import threading
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inspector.changes import ChangeKind, EntryType, FileEntry, Removal


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


def _at(chain: Sequence[Version], layer: int) -> Version | None:
    """The newest version in `chain` at or below `layer` (may be a removal)."""
    for i in range(len(chain) - 1, -1, -1):
        v = chain[i]
        if v.layer <= layer:
            return v
    return None


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


class Versions:
    """Every path's versions across the layers (filled layer by layer by stacking.py)."""

    def __init__(self) -> None:
        self._versions: dict[str, list[Version]] = {
            "": [Version(0, _implied_entry(""), None, True)]
        }
        self._names: dict[str, list[str]] = {"": []}  # per directory, every name seen
        self._kids: dict[str, array[int]] = {"": array("q")}  # and their ids, in step
        self._paths: list[str] = []  # every path ever seen, in first-seen order
        self._dir_layers: dict[str, list[int]] = {"": [0]}
        self._dir_sizes: dict[str, list[int]] = {"": [0]}
        self._touched: list[list[str]] = []  # per layer: paths that got a version there
        self.summaries: list[LayerSummary] = []
        self.layer_count = 0
        # loader-side state: the current file system
        self._cur: dict[str, Version] = {"": self._versions[""][0]}
        self._cur_children: dict[str, set[str]] = {"": set()}
        self._cur_size: dict[str, int] = {"": 0}
        self._lock = threading.Lock()  # the reader-side caches of every part
        self._index: dict[str, int] = {}  # path -> position in _paths (its id)
        self._parent_ids: list[int] = []  # per id, the parent's id (-1: the root)

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

    def changed_paths(self, layer: int) -> Sequence[str]:
        """Paths that layer `layer` stored, changed or removed (in the order it did)."""
        return self._touched[layer]

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

    def _own(self, path: str) -> str:
        """The path object the tree keeps for `path` (a new key made from a slice of a
        deeper path would hold the directory's name once more per structure)."""
        known = self._index.get(path)
        return path if known is None else self._paths[known]

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
