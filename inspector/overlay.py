"""Dicts over a frozen, column-stored base (pure: no I/O).

A resumed analysis (see results.py, "prefix states") starts from the stacked file system
of a layer-stack prefix: 100,000 paths or more. Building Python objects for all of them
costs as much as stacking the layers again, so the prefix is kept as columns plus a
path -> row dict, and `Overlay` turns a row into a value only when something reads that
key. Reads and writes then go to the dict itself, so the code that stacks layers runs
unchanged (and at full speed on plain dicts when nothing is resumed).

Supported: `get`, `in`, `[]`, `pop`, `len`, plain assignment and `update` (each preceded
by a read of the same key wherever `len` matters). Iterating an overlay sees only the
keys read or written so far: the stacking code never iterates these mappings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

V = TypeVar("V")
_MISSING: Any = object()


class Overlay(dict[str, V]):
    """`rows` maps each base key to its row; `make(key, row)` builds its value."""

    __slots__ = ("_make", "_rows", "touched")

    def __init__(self, rows: dict[str, int], make: Callable[[str, int], V]) -> None:
        super().__init__()
        self._rows = rows
        self._make = make
        self.touched: dict[str, int] = {}  # base keys read, written or removed: their rows

    def _fetch(self, key: str) -> Any:
        """The base value of a key not yet touched (now held by the dict), or _MISSING."""
        if key in self.touched:
            return _MISSING
        row = self._rows.get(key)
        if row is None:
            return _MISSING
        self.touched[key] = row
        value = self._make(key, row)
        dict.__setitem__(self, key, value)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = dict.get(self, key, _MISSING)
        if value is _MISSING:
            value = self._fetch(key)
            if value is _MISSING:
                return default
        return value

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        return isinstance(key, str) and self._fetch(key) is not _MISSING

    def __getitem__(self, key: str) -> V:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value  # type: ignore[no-any-return]

    def pop(self, key: str, default: Any = None) -> Any:
        if not dict.__contains__(self, key) and self._fetch(key) is _MISSING:
            return default
        row = self._rows.get(key)
        if row is not None:
            self.touched[key] = row  # written by update() without a read: hide the base
        return dict.pop(self, key)

    def __len__(self) -> int:
        return dict.__len__(self) + len(self._rows) - len(self.touched)

    def base_rows(self) -> dict[str, int]:
        return self._rows
