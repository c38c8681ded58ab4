"""Change-kind masks: per directory, which kinds of change lie somewhere below it.

A layer's own view gets its masks as the layer is added; other ranges are computed once
per view from the change codes of the layers in between (columns.py), and `precompute`
does that ahead of time for an aggregated view's base.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from inspector.changes import ChangeKind
from inspector.filetree.columns import LayerColumns, masks_of
from inspector.filetree.filters import Filters

ADDED_BIT = 1
MODIFIED_BIT = 2
REMOVED_BIT = 4
KIND_BITS: dict[ChangeKind, int] = {
    ChangeKind.ADDED: ADDED_BIT,
    ChangeKind.MODIFIED: MODIFIED_BIT,
    ChangeKind.REMOVED: REMOVED_BIT,
    ChangeKind.UNCHANGED: 0,
}
_MASK_CACHE_LIMIT = 16


class Masks(Filters):
    """Per view `(lo, hi)`, bits of the kinds of change below each directory."""

    def __init__(self) -> None:
        super().__init__()
        self._layer_masks: list[dict[str, int]] = []
        self._mask_cache: OrderedDict[tuple[int, int], dict[str, int]] = OrderedDict()
        self._pinned: dict[tuple[int, int], dict[str, int]] = {}  # written by `precompute`

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
        return masks_of(self.change_codes(lo, hi), self._parent_ids, self._paths)

    def _new_layer_masks(self, columns: LayerColumns) -> dict[str, int]:
        """Masks of the layer being added against the one below."""
        codes = bytearray(columns.count)
        columns.scatter(codes, columns.kinds)
        return masks_of(codes, self._parent_ids, self._paths, columns.ids)
