"""Parse what a person types in the filter bar (pure: no Textual).

The text is a path pattern plus optional size conditions, e.g. `*.so >1MB` or
`^/usr/lib <=4k`. Size tokens (`>`, `>=`, `<`, `<=` followed by a number and an optional
unit: `B`, `k`/`kB`, `M`/`MB`, `G`/`GB`, `Ki`/`KiB`, `Mi`, `Gi`) keep regular files whose
size satisfies every condition. The rest is a pattern, in one of two modes:

* **regex** (dive's behaviour): searched anywhere in the absolute path (`/etc/passwd`);
* **glob**: without wildcards a plain substring of the absolute path; with `*`, `?` or
  `[...]`, a pattern without `/` matches the file name and one with `/` the path
  (`**` crosses directories, a leading `/` anchors at the root).

Both modes are smart-case: all-lowercase text ignores case, any capital makes it exact
(a lowercase pattern is matched against the lowercased path).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum


class PatternMode(StrEnum):
    REGEX = "regex"
    GLOB = "glob"


_SIZE = re.compile(r"^(<=|>=|<|>)(\d+(?:\.\d+)?)([kmgt]i?)?b?$", re.IGNORECASE)
_UNITS = {
    "": 1,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
    "ti": 1024**4,
}
_OPS: dict[str, Callable[[int, int], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class SizeCondition:
    op: str
    bytes: int

    def __call__(self, size: int) -> bool:
        return _OPS[self.op](size, self.bytes)

    def __str__(self) -> str:
        return f"{self.op}{self.bytes}"


@dataclass(frozen=True)
class PathQuery:
    """A parsed filter: `pattern` (None: any path) and `sizes` (all must hold)."""

    text: str
    mode: PatternMode
    pattern: re.Pattern[str] | None = None
    sizes: tuple[SizeCondition, ...] = ()
    error: str | None = None
    literal: str | None = None  # set when the pattern is a plain substring
    basename: bool = False  # the pattern applies to the file name only (full match)
    fold: bool = False  # smart-case: match the lowercased path (the pattern is lowercase)
    _matcher: Callable[[str], object] | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        """What the filter tests, as the filter bar's label names it: `regex` or `glob` (a
        path pattern, valid or not), `size` (size conditions only) or `regex + size`."""
        parts = [str(self.mode)] if self.pattern is not None or self.error is not None else []
        if self.sizes:
            parts.append("size")
        return " + ".join(parts) or str(self.mode)

    @property
    def active(self) -> bool:
        return self.error is None and (self.pattern is not None or bool(self.sizes))

    @property
    def text_matcher(self) -> Callable[[str], object] | None:
        """A callable truthy when the pattern matches: it takes the absolute path, or the
        file name when `basename` is set (lowercased when `fold` is)."""
        return self._matcher

    @property
    def size_matcher(self) -> Callable[[int], bool] | None:
        if not self.sizes:
            return None
        conditions = self.sizes
        return lambda size: all(c(size) for c in conditions)

    @property
    def size_bounds(self) -> tuple[tuple[str, int], ...]:
        """The size conditions as `(op, bytes)` pairs (what FileTree.search takes)."""
        return tuple((c.op, c.bytes) for c in self.sizes)

    def span(self, absolute: str, name_start: int) -> tuple[int, int] | None:
        """The part of the name (starting at `name_start` in `absolute`) to highlight."""
        if self.pattern is None:
            return None
        if self.fold:
            absolute = absolute.lower()
        if self.basename:
            match = self.pattern.fullmatch(absolute, name_start)
            return (0, len(absolute) - name_start) if match else None
        best: tuple[int, int] | None = None
        for match in self.pattern.finditer(absolute):
            start, end = max(match.start(), name_start), match.end()
            if end > start:
                best = (start - name_start, end - name_start)
        return best


def parse_size(text: str) -> SizeCondition | None:
    match = _SIZE.match(text.strip())
    if match is None:
        return None
    op, number, unit = match.group(1), match.group(2), (match.group(3) or "").lower()
    return SizeCondition(op, int(float(number) * _UNITS[unit]))


def glob_to_regex(glob: str) -> str:
    """A glob as a regex body: `*` stays in one directory, `**` crosses them."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if char == "*":
            if glob.startswith("**", i):
                out.append(".*")
                i += 2
                if glob.startswith("/", i):  # `**/` also matches no directory at all
                    out[-1] = "(?:.*/)?"
                    i += 1
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = glob.find(
                "]", i + 2 if glob.startswith("[!", i) or glob.startswith("[^", i) else i + 1
            )
            if end < 0:
                out.append(re.escape(char))
            else:
                body = glob[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end + 1
                continue
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def parse_query(text: str, mode: PatternMode) -> PathQuery:
    """Parse the filter bar's text; an invalid pattern gives a query with `error` set."""
    words = text.split()
    sizes: list[SizeCondition] = []
    rest: list[str] = []
    for word in words:
        condition = parse_size(word) if word[:1] in "<>" else None
        if condition is not None:
            sizes.append(condition)
        else:
            rest.append(word)
    body = " ".join(rest)
    if not body:
        return PathQuery(text, mode, None, tuple(sizes))
    # smart-case: all-lowercase text matches the lowercased path (much faster than
    # re.IGNORECASE, and the same for a pattern with no capital letter at all)
    fold = not any(c.isupper() for c in body)
    literal: str | None = None
    basename = False
    if mode is PatternMode.REGEX:
        source = body
        if not any(c in ".^$*+?{}[]\\|()" for c in body):
            literal = body
    elif not _GLOB_CHARS.intersection(body):
        source = re.escape(body)
        literal = body
    elif "/" not in body:
        source = glob_to_regex(body)  # matched whole against the file name
        basename = True
    elif body.startswith("/"):
        source = "^" + glob_to_regex(body) + "$"
    else:
        source = "(?:^|/)" + glob_to_regex(body) + "$"
    try:
        pattern = re.compile(source)
    except re.error as exc:
        return PathQuery(text, mode, None, tuple(sizes), error=f"invalid {mode}: {exc}")
    matcher: Callable[[str], object] = pattern.fullmatch if basename else pattern.search
    return PathQuery(text, mode, pattern, tuple(sizes), None, literal, basename, fold, matcher)
