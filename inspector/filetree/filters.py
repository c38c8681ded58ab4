"""Filter arrays: per path id, whether a view shows it and the size it shows.

Search, size filters and hiding by change kind run as C-level passes over these per-view
arrays (`present_flags`, `view_flags`, `size_array`, `view_sizes`), built incrementally
from the nearest cached layer below and kept within a memory bound.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict
from itertools import repeat

from inspector.changes import ChangeKind
from inspector.filetree.versions import _DIR, Versions, _at, compare

_FLAG_CACHE_BYTES = 64 << 20  # presence bitmaps kept (one byte per path per layer)


class Filters(Versions):
    """Which paths a view shows, and their sizes, as arrays indexed by path id."""

    def __init__(self) -> None:
        super().__init__()
        self._present: OrderedDict[int, bytes] = OrderedDict()
        self._sizes: OrderedDict[int, array[int]] = OrderedDict()
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
