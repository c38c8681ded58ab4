"""Filter arrays: per path id, whether a view shows it and the size it shows.

Search, size filters and hiding by change kind run as C-level passes over these per-view
arrays (`present_flags`, `view_flags`, `size_array`, `view_sizes`), built from the
layers' columns (columns.py) starting at the nearest cached layer below, and kept within
a memory bound.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from itertools import repeat

from inspector.changes import ChangeKind
from inspector.filetree.columns import CODE_KINDS, NO_CHANGE, LayerColumns, range_codes
from inspector.filetree.versions import Versions

_FLAG_CACHE_BYTES = 64 << 20  # presence bitmaps kept (one byte per path per layer)
_CODE_CACHE = 4  # change codes of views kept (one byte per path each)


class Filters(Versions):
    """Which paths a view shows, and their sizes, as arrays indexed by path id."""

    def __init__(self) -> None:
        super().__init__()
        self._columns: list[LayerColumns] = []  # per layer (appended by FileTree.add_layer)
        self._present: OrderedDict[int, bytes] = OrderedDict()
        self._sizes: OrderedDict[int, array[int]] = OrderedDict()
        self._codes: OrderedDict[tuple[int, int], bytearray] = OrderedDict()
        self._view_sizes: tuple[tuple[int, int], array[int]] | None = None
        self._view_flags: tuple[tuple[int, int, frozenset[ChangeKind] | None], bytes] | None = None

    def size_array(self, layer: int) -> array[int]:
        """Per path id, its size as of `layer`: -1 for a directory or an absent path."""
        cache = self._sizes
        with self._lock:
            cached = cache.get(layer)
            lower = max((k for k in cache if k < layer), default=None)
            values = array("q", cache[lower]) if lower is not None else array("q")
        if cached is not None:
            return cached
        columns = self._columns
        values.extend(repeat(-1, columns[layer].count - len(values)))
        for j in range(lower + 1 if lower is not None else 0, layer + 1):
            columns[j].scatter(values, columns[j].sizes)
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
            upper = self.present_flags(hi)
            count = len(lower)
            for j in range(lo + 1, hi + 1):
                for i in self._columns[j].ids:
                    if i < count and lower[i] >= 0 and not upper[i]:
                        values[i] = lower[i]  # removed in the view: its old size
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
        columns = self._columns
        flags.extend(bytes(columns[layer].count - len(flags)))
        for j in range(lower + 1 if lower is not None else 0, layer + 1):
            columns[j].scatter(flags, columns[j].present)
        result = bytes(flags)
        with self._lock:
            cache[layer] = result
            while len(cache) > max(8, _FLAG_CACHE_BYTES // max(len(result), 1)):
                cache.popitem(last=False)
        return result

    def change_codes(self, lo: int, hi: int) -> bytearray:
        """Per path id, the code of its change from `lo` to `hi` (columns.py; `NO_CHANGE`
        where no layer in between touched it); `lo < hi`."""
        key = (lo, hi)
        with self._lock:
            cached = self._codes.get(key)
        if cached is not None:
            return cached
        codes = range_codes(self._columns, self._versions, self._paths, lo, hi)
        with self._lock:
            self._codes[key] = codes
            while len(self._codes) > _CODE_CACHE:
                self._codes.popitem(last=False)
        return codes

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
        result = either.to_bytes(width, "little")
        if kinds is not None and lo != hi:
            codes = bytes(self.change_codes(lo, hi)).ljust(width, b"\0")
            table = bytearray(256)
            for code, kind in CODE_KINDS.items():
                table[code] = kind in kinds
            if ChangeKind.UNCHANGED not in kinds:  # only the changes of those kinds
                result = codes.translate(table)
            else:  # everything shown but the changes of other kinds
                table[NO_CHANGE] = 1
                keep = int.from_bytes(codes.translate(table), "little")
                result = (either & keep).to_bytes(width, "little")
        elif kinds is not None and ChangeKind.UNCHANGED not in kinds:
            result = bytes(width)
        self._view_flags = (key, result)
        return result
