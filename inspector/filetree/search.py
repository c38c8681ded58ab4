"""Search strings: what a pattern runs over per path id, and the search over a view.

A keystroke costs one pattern match per path ever seen: the strings (`/path` or the name,
maybe lowercased) are kept, a plain substring is found with `str.find` over them all
joined, and the view's flags and sizes (filters.py) narrow the hits. Typing on (a plain
substring that contains the last one, same view and conditions) only re-checks the last
matches.
"""

from __future__ import annotations

import bisect
import operator
import threading
from collections.abc import Callable, Sequence
from itertools import accumulate, compress, islice, repeat

from inspector.changes import ChangeKind
from inspector.filetree.filters import Filters

_SIZE_TESTS: dict[str, Callable[[int], Callable[[int], bool]]] = {
    # `bound.__lt__(size)` is `size > bound`: C-level predicates for `map`
    ">": lambda bound: bound.__lt__,
    ">=": lambda bound: bound.__le__,
    "<": lambda bound: bound.__gt__,
    "<=": lambda bound: bound.__ge__,
}


class Search(Filters):
    """Paths of a view that match a pattern, size conditions and change kinds."""

    def __init__(self) -> None:
        super().__init__()
        self._search_lock = threading.Lock()  # the search strings (see prepare_search)
        self._strings: dict[tuple[bool, bool], list[str]] = {}  # see _search_strings
        self._joined: dict[tuple[bool, bool], tuple[str, list[int]]] = {}  # _find_literal
        # the last literal search: its scope (view, kinds, sizes, strings), needle, matches
        self._last_found: tuple[tuple[object, ...], str, list[int]] | None = None

    def search(
        self,
        text: Callable[[str], object] | None,
        sizes: Sequence[tuple[str, int]],
        lo: int,
        hi: int,
        kinds: frozenset[ChangeKind] | None = None,
        fold: bool = False,
    ) -> list[str]:
        """`search_ids` as paths."""
        paths = self._paths
        return [paths[i] for i in self.search_ids(text, sizes, lo, hi, kinds, fold)]

    def search_ids(
        self,
        text: Callable[[str], object] | None,
        sizes: Sequence[tuple[str, int]],
        lo: int,
        hi: int,
        kinds: frozenset[ChangeKind] | None = None,
        fold: bool = False,
        names: bool = False,
        literal: str | None = None,
    ) -> list[int]:
        """Ids of the paths present in the view `(lo, hi)` that match, ascending.

        `text` is tried on the absolute form (`/etc/passwd`, what dive matches against);
        `sizes` are conditions `(op, bytes)` with op one of `<`, `<=`, `>`, `>=` on the
        size of a non-directory (directories never match a size); `kinds`, when given,
        keeps only paths whose change kind in the view is among them; `fold` gives `text`
        the lowercased absolute path, `names` the file name alone. `literal`, when the
        pattern is a plain substring, finds it with `str.find` over all the paths joined
        (the common case of typing a name: much faster than a regex per path). Every step is a
        C-level pass over per-view arrays (which paths the view shows, their sizes) kept
        between keystrokes, so a keystroke costs one pattern match per path ever seen.
        """
        paths = self._paths
        count = len(paths)
        absolute = self._search_strings(fold, names)
        shown = self.view_flags(lo, hi, kinds)
        if len(shown) < len(absolute):  # paths first seen above the view: not in it
            shown = shown.ljust(len(absolute), b"\0")
        limit = min(count, len(shown))
        literal = literal if literal and "\n" not in literal else None
        needle = literal.lower() if literal is not None and fold else literal
        scope = (lo, hi, kinds, tuple(sizes), fold, names, len(absolute))
        last = self._last_found
        self._last_found = None
        if needle is not None and last is not None and last[0] == scope and last[1] in needle:
            # typing on: what contains the longer needle is among the last matches, which
            # already passed the view and the size conditions (one C-level pass over them)
            before = last[2]
            still = map(operator.contains, map(absolute.__getitem__, before), repeat(needle))
            found = list(compress(before, still))
            self._last_found = (scope, needle, found)
            return found
        if needle is not None:
            hits_at = self._find_literal(needle, absolute, (fold, names))
            found = list(compress(hits_at, map(shown.__getitem__, hits_at)))
        elif text is not None:
            hits = map(operator.truth, map(text, islice(absolute, limit)))
            found = list(compress(range(limit), map(operator.and_, shown, hits)))
        else:
            found = list(compress(range(limit), shown))
        if sizes:
            values = self.view_sizes(lo, hi)
            found = list(compress(found, map((-1).__lt__, map(values.__getitem__, found))))
            for op, bound in sizes:
                test = _SIZE_TESTS[op](bound)
                found = list(compress(found, map(test, map(values.__getitem__, found))))
        if needle is not None:
            self._last_found = (scope, needle, found)
        return found

    def _find_literal(self, needle: str, strings: list[str], key: tuple[bool, bool]) -> list[int]:
        """Ids of the `strings` containing `needle` (lowercased if they are), ascending.

        A short needle (it matches a lot) is one C-level `in` per string; a longer one is
        found with `str.find` over all the strings joined (cost per hit, not per path).
        """
        if len(needle) < 3:
            return list(
                compress(range(len(strings)), map(operator.contains, strings, repeat(needle)))
            )
        return self._find_joined(needle, *self._joined_for(key, strings))

    def _joined_for(self, key: tuple[bool, bool], strings: list[str]) -> tuple[str, list[int]]:
        """`strings` joined by newlines, and where each starts (kept per key)."""
        with self._search_lock:
            joined = self._joined.get(key)
            if joined is None or len(joined[1]) - 1 != len(strings):
                text = "\n".join(strings) + "\n"
                starts = list(accumulate(map((1).__add__, map(len, strings)), initial=0))
                joined = self._joined[key] = (text, starts)
            return joined

    def prepare_search(self, fold: bool = True, names: bool = False) -> None:
        """Build what a search runs over before the first keystroke needs it (80 ms on
        100,000 paths), and which paths each layer holds (the first search in a view
        otherwise pays 100 ms for them); safe from a worker thread. The default is a
        lowercase pattern."""
        self._joined_for((fold, names), self._search_strings(fold, names))
        for layer in range(self.layer_count):  # incremental: each starts from the last
            self.present_flags(layer)

    @staticmethod
    def _find_joined(needle: str, text: str, starts: list[int]) -> list[int]:
        found: list[int] = []
        find = text.find
        last = len(starts) - 1
        pos = 0
        while True:
            at = find(needle, pos)
            if at < 0:
                return found
            line = bisect.bisect_right(starts, at) - 1
            if line >= last:
                return found
            found.append(line)
            pos = starts[line + 1]

    def _search_strings(self, fold: bool, names: bool) -> list[str]:
        """What a pattern runs over, per path id: `/path` or the name, maybe lowercased."""
        key = (fold, names)
        with self._search_lock:  # `prepare_search` may be building them in a worker
            strings = self._strings.setdefault(key, [])
            paths = self._paths
            count = len(paths)
            if len(strings) < count:
                fresh = paths[len(strings) : count]
                new = [p[p.rfind("/") + 1 :] for p in fresh] if names else ["/" + p for p in fresh]
                strings.extend([s.lower() for s in new] if fold else new)
            return strings
