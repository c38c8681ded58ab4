"""The stacked file system as of any layer, built lazily for browsing (pure: no I/O, no UI).

`FileTree` is the one object the UI reads; its parts are one concept a module under
`inspector/filetree/`:

* versions.py  per-path versions, directory sizes per layer, path ids, history;
* stacking.py  one forward pass over the layers (the same rules as `analysis`) that
               records them;
* listings.py  a directory's children in a view `(lo, hi)`, computed when expanded;
* columns.py   what each layer did as flat arrays by path id (presence, sizes, kinds);
* masks.py     which kinds of change lie below each directory, per view;
* filters.py   per path id, whether a view shows it and its size (C-level passes);
* search.py    the strings a pattern runs over, and the search over a view.

Thread safety: `add_layer` runs in a loader thread while the UI reads. Every structure a
reader touches is append-only and a layer is published (`layer_count`) only once it is
complete, so a reader that only asks about published layers sees a consistent state.
"""

from __future__ import annotations

from collections.abc import Iterable

from inspector.filetree.columns import layer_columns
from inspector.filetree.listings import Listings, Node
from inspector.filetree.masks import ADDED_BIT, KIND_BITS, MODIFIED_BIT, REMOVED_BIT, Masks
from inspector.filetree.search import Search
from inspector.filetree.stacking import _LayerBuilder
from inspector.filetree.versions import (
    HistoryItem,
    LayerSummary,
    Version,
    ancestors,
    compare,
    differences,
)
from inspector.indexer import LayerIndex

__all__ = [
    "ADDED_BIT",
    "KIND_BITS",
    "MODIFIED_BIT",
    "REMOVED_BIT",
    "FileTree",
    "HistoryItem",
    "LayerSummary",
    "Node",
    "Version",
    "ancestors",
    "compare",
    "differences",
]


class FileTree(Listings, Masks, Search):
    """Every path's versions across the layers, and lazy views over them."""

    def __init__(self, layers: Iterable[LayerIndex] = ()) -> None:
        super().__init__()
        for index in layers:
            self.add_layer(index)

    def add_layer(self, index: LayerIndex) -> None:
        """Apply the next layer on top of the ones added so far."""
        layer = self.layer_count
        first_new = len(self._paths)
        builder = _LayerBuilder(self, layer)
        builder.apply(index)
        touched = builder.touched
        columns = layer_columns(self._versions, self._index, touched, first_new,
                                len(self._paths), layer)  # fmt: skip
        self._touched.append(touched)
        self._columns.append(columns)
        self.summaries.append(builder.summary)
        self._layer_masks.append(self._new_layer_masks(columns))
        self.layer_count += 1  # publish
