"""What a finding is: a named problem, the bytes at stake, the proof and the fix."""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from itertools import compress


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@dataclass(frozen=True, slots=True)
class LayerRef:
    """A layer a finding involves: its position (0 = base) and the command that made it."""

    index: int
    command: str


@dataclass(frozen=True, slots=True)
class PathRef:
    """A path that proves a finding, and the bytes it accounts for."""

    path: str
    bytes: int


@dataclass(frozen=True, slots=True)
class Fix:
    """What to change: a sentence, and Dockerfile lines before and after where they help."""

    text: str
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem an image has.

    `bytes` is what the fix saves in the image (for `cache-busting-order`: the stored bytes
    rebuilt and pushed again per source edit). `paths` holds the top paths by bytes and
    `path_count` how many there are in all.
    """

    id: str
    title: str
    severity: Severity
    bytes: int
    layers: tuple[LayerRef, ...]
    paths: tuple[PathRef, ...]
    path_count: int
    evidence: str
    fix: Fix


TOP_PATHS = 10
"""How many paths a finding lists (the total is in `path_count`)."""


def top_paths(sizes: dict[str, int], limit: int = TOP_PATHS) -> tuple[tuple[PathRef, ...], int]:
    """The `limit` largest of `sizes` (path -> bytes), largest first, and the count."""
    items: Iterable[tuple[str, int]] = sizes.items()
    if len(sizes) > limit > 0:
        # only paths at least as large as the limit-th largest can rank: sort those alone
        least = heapq.nlargest(limit, sizes.values())[-1]
        items = compress(items, map(least.__le__, sizes.values()))
    ranked = sorted(items, key=_largest_first)[:limit]
    return tuple(PathRef(path, size) for path, size in ranked), len(sizes)


def _largest_first(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]
