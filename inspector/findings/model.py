"""What a finding is: a named problem, the bytes at stake, the proof and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
    ranked = sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return tuple(PathRef(path, size) for path, size in ranked), len(sizes)
