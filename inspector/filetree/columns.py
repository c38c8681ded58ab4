"""Layer columns: what each layer did, as flat arrays indexed alongside its path ids.

When a layer is added, the paths it touched become three columns: their ids, whether
each is present after the layer, its size then (-1: a directory or absent) and the kind
of change against the layer below (a code, see `KIND_CODES`). Every per-view question
that used to walk version chains path by path (which paths a layer holds, their sizes,
the change kinds over a range of layers, the masks of the directories above them) is
then a scatter of these columns into a byte array, and C-level passes over the result.

A path touched once in a range `(lo, hi]` changed there exactly as that layer changed it
(the layers in between left the version of `lo` alone); only a path touched twice or more
is compared by its versions.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress

from inspector.changes import ChangeKind
from inspector.filetree.versions import _DIR, Version, _at, compare

NO_CHANGE = 0  # not touched in the range
ADDED, MODIFIED, REMOVED, UNCHANGED, ABSENT = 1, 2, 3, 4, 5  # ABSENT: in neither layer
KIND_CODES: dict[ChangeKind | None, int] = {
    ChangeKind.ADDED: ADDED,
    ChangeKind.MODIFIED: MODIFIED,
    ChangeKind.REMOVED: REMOVED,
    ChangeKind.UNCHANGED: UNCHANGED,
    None: ABSENT,
}
CODE_KINDS: dict[int, ChangeKind] = {
    ADDED: ChangeKind.ADDED,
    MODIFIED: ChangeKind.MODIFIED,
    REMOVED: ChangeKind.REMOVED,
    UNCHANGED: ChangeKind.UNCHANGED,
    ABSENT: ChangeKind.UNCHANGED,  # what a kind filter takes a path in neither layer for
}


@dataclass(frozen=True, slots=True)
class LayerColumns:
    """The paths one layer touched (`ids`, in the order it did) and what it left there.

    `first_new` is the first id this layer created and `count` the number of paths after
    it; when `fresh` holds, every id it touched is new (a base layer), so they are
    `range(first_new, count)` in order.
    """

    ids: array[int]
    present: bytes  # 1: present after the layer
    sizes: array[int]  # size after the layer; -1 for a directory or an absent path
    kinds: bytes  # KIND_CODES of the change against the layer below
    first_new: int
    count: int
    fresh: bool

    def scatter(self, target: bytearray | array[int], values: bytes | array[int]) -> None:
        """`target[id] = value` for each id of the layer (a slice when they are fresh)."""
        ids = self.ids
        if self.fresh:
            target[self.first_new : self.count] = values  # type: ignore[assignment]
            return
        for i, value in zip(ids, values, strict=True):
            target[i] = value


def layer_columns(
    versions: dict[str, list[Version]],
    index: dict[str, int],
    touched: Sequence[str],
    first_new: int,
    count: int,
    layer: int,
) -> LayerColumns:
    """The columns of the layer just applied (every touched path's chain ends at it)."""
    ids = array("q", map(index.__getitem__, touched))
    present = bytearray(len(touched))
    sizes = array("q", bytes(8 * len(touched)))
    kinds = bytearray(len(touched))
    codes = KIND_CODES
    for n, path in enumerate(touched):
        chain = versions[path]
        upper = chain[-1]
        assert upper.layer == layer
        entry = upper.entry
        if entry is not None:
            present[n] = 1
            sizes[n] = -1 if entry.type is _DIR else entry.size
        else:
            sizes[n] = -1
        kinds[n] = codes[compare(chain[-2] if len(chain) > 1 else None, upper)]
    # a layer touches every path it creates, in the order of their ids: when it touched
    # no other, its ids are `range(first_new, count)`
    fresh = len(ids) == count - first_new
    return LayerColumns(ids, bytes(present), sizes, bytes(kinds), first_new, count, fresh)


def range_codes(
    columns: Sequence[LayerColumns],
    versions: dict[str, list[Version]],
    paths: Sequence[str],
    lo: int,
    hi: int,
) -> bytearray:
    """Per path id (as many as there are after layer `hi`), the code of its change from
    layer `lo` to `hi` (`NO_CHANGE` where no layer in between touched it)."""
    start = max(lo + 1, 0)
    if hi < start:
        return bytearray(columns[hi].count if hi >= 0 else 0)
    codes = bytearray(columns[hi].count)
    if hi == start:
        columns[hi].scatter(codes, columns[hi].kinds)
        return codes
    again: set[int] = set()
    for j in range(start, hi + 1):
        column = columns[j]
        if j == start:
            column.scatter(codes, column.kinds)
            continue
        for i, kind in zip(column.ids, column.kinds, strict=True):
            if codes[i]:
                again.add(i)  # touched twice: compared by its versions below
            else:
                codes[i] = kind
    for i in again:
        chain = versions[paths[i]]
        low = _at(chain, lo) if lo >= 0 else None
        codes[i] = KIND_CODES[compare(low, _at(chain, hi))]
    return codes


# the bit a code sets in the masks of the directories above (KIND_BITS in masks.py)
_BITS = bytes([0, 1, 2, 4, 0, 0] + [0] * 250)


def masks_of(
    codes: bytes | bytearray,
    parents: Sequence[int],
    paths: Sequence[str],
    ids: Sequence[int] | None = None,
) -> dict[str, int]:
    """Per directory (its path; `""` is the root), the bits of the kinds of change below
    it, from the change code of every path id (`ids`, when given, are the only ones that
    may have changed: a layer's own, so that its masks cost what it touched)."""
    bits = codes.translate(_BITS)
    if ids is None:
        changed: Iterable[int] = compress(range(len(bits)), bits)
    else:
        changed = compress(ids, map(bits.__getitem__, ids))
    above = bytearray(len(bits))
    marked: list[int] = []  # the directories given a bit
    root = 0
    for i in changed:
        bit = bits[i]
        parent = parents[i]
        while parent >= 0:
            have = above[parent]
            if have & bit:
                break  # set here, so on every directory above too
            if not have:
                marked.append(parent)
            above[parent] = have | bit
            parent = parents[parent]
        else:
            root |= bit
    masks = dict(zip(map(paths.__getitem__, marked), map(above.__getitem__, marked), strict=True))
    if root:
        masks[""] = root
    return masks
