"""`build-context-junk`: files that only a missing `.dockerignore` lets into the image.

Looks at the files COPY and ADD layers store: version-control directories (`.git/`,
`.hg/`, `.svn/`), `.env` files, Python bytecode and tool caches (`__pycache__/`,
`*.pyc`, `.pytest_cache/`, `.mypy_cache/`, `.venv/`), a copied `node_modules/` when the
image also installs its node packages, editor and OS files (`.idea/`, `.vscode/`,
`.DS_Store`), coverage output, `*.log`, and the Dockerfile itself. Fires when any match.

Fix: a `.dockerignore` beside the Dockerfile holding exactly the patterns that matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import filterfalse, repeat
from operator import attrgetter, methodcaller

from inspector.findings.facts import Facts
from inspector.findings.model import Finding, Fix, Severity, top_paths
from inspector.formatting import count as files
from inspector.formatting import size
from inspector.inspection import Inspection

ID = "build-context-junk"
TITLE = "Build-context files a .dockerignore would keep out"
SEVERITY = Severity.WARNING
EXAMPLE = """\
COPY . /app        # with .git/, __pycache__/ and .env in the build context"""
_NODE_INSTALL = re.compile(r"\b(?:npm (?:ci|install|i)|yarn(?: install)?|pnpm (?:install|i))\b")

# Where a .dockerignore pattern's name is in a path: a directory above the file, the file's
# name (alone, or followed by a `.suffix`), or the end of the path
DIRECTORY = "directory"
NAME = "name"
EXACT_NAME = "exact name"
ENDING = "ending"
RULES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("**/.git", DIRECTORY, (".git",)),
    ("**/.hg", DIRECTORY, (".hg",)),
    ("**/.svn", DIRECTORY, (".svn",)),
    ("**/.env*", NAME, (".env",)),
    ("**/__pycache__", DIRECTORY, ("__pycache__",)),
    ("**/*.pyc", ENDING, (".pyc", ".pyo")),
    ("**/.pytest_cache", DIRECTORY, (".pytest_cache",)),
    ("**/.mypy_cache", DIRECTORY, (".mypy_cache",)),
    ("**/.venv", DIRECTORY, (".venv",)),
    ("**/.idea", DIRECTORY, (".idea",)),
    ("**/.vscode", DIRECTORY, (".vscode",)),
    ("**/.DS_Store", EXACT_NAME, (".DS_Store",)),
    ("**/.coverage", NAME, (".coverage",)),
    ("**/htmlcov", DIRECTORY, ("htmlcov",)),
    ("**/*.log", ENDING, (".log",)),
    ("Dockerfile", NAME, ("Dockerfile", "Containerfile")),
    ("**/node_modules", DIRECTORY, ("node_modules",)),
)
"""The patterns a .dockerignore gets, in order: a file takes the first that matches."""


def _regex(kind: str, names: tuple[str, ...]) -> str:
    either = "|".join(re.escape(name) for name in names)
    return {
        DIRECTORY: rf"(?:.*/)?(?:{either})/",
        NAME: rf"(?:.*/)?(?:{either})(?:\.[^/]*)?$",
        EXACT_NAME: rf"(?:.*/)?(?:{either})$",
        ENDING: rf".*(?:{either})$",
    }[kind]


# (.dockerignore pattern, regex over the path): what RULES mean, exactly. `_patterns`
# answers the same without them for a path without a newline (tests/unit/test_prefilters.py)
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (pattern, re.compile(_regex(kind, names))) for pattern, kind, names in RULES
)


def detect(inspection: Inspection, facts: Facts) -> list[Finding]:
    copies = {i for i, step in enumerate(facts.instructions) if step.keyword in ("COPY", "ADD")}
    installs_node = any(_NODE_INSTALL.search(step.body) for step in facts.instructions
                        if step.keyword == "RUN")  # fmt: skip
    matched: dict[str, int] = {}
    patterns: list[str] = []
    layers: set[int] = set()
    for position in sorted(copies):
        entries = facts.entries[position]
        for (pattern, _, _), found in zip(RULES, _by_rule(facts.files[position]), strict=True):
            if not found or (pattern == "**/node_modules" and not installs_node):
                continue
            matched.update(zip(found, map(_SIZE, map(entries.__getitem__, found)), strict=True))
            layers.add(position)
            if pattern not in patterns:
                patterns.append(pattern)
    if not matched:
        return []
    total = sum(matched.values())
    paths, count = top_paths(matched)
    ordered = [pattern for pattern, _ in PATTERNS if pattern in patterns]
    evidence = (
        f"{files(count, 'file')} ({size(total)}) that COPY/ADD brought from the build context "
        f"match {', '.join(ordered)}"
    )
    return [
        Finding(
            ID,
            TITLE,
            SEVERITY,
            total,
            tuple(facts.layer_ref(i) for i in sorted(layers)),
            paths,
            count,
            evidence,
            Fix("Add a .dockerignore beside the Dockerfile with these lines", (), tuple(ordered)),
        )
    ]


_NEWLINE = methodcaller("__contains__", "\n")
_SIZE = attrgetter("size")
_DIRECTORIES = {name: rank for rank, (_, kind, names) in enumerate(RULES) if kind == DIRECTORY
                for name in names}  # fmt: skip
# the rules on the file's own name, in order: (rank, kind, names, names followed by a dot)
_NAMES = tuple((rank, kind, names, tuple(f"{name}." for name in names))
               for rank, (_, kind, names) in enumerate(RULES) if kind != DIRECTORY)  # fmt: skip
_NAME_STARTS = tuple(name for _, kind, names, _ in _NAMES if kind != ENDING for name in names)
_NAME_ENDS = tuple(name for _, kind, names, _ in _NAMES if kind == ENDING for name in names)
_NONE = len(RULES)


def _patterns(paths: list[str]) -> Iterator[tuple[str, str]]:
    """(path, the first of RULES it matches) for each of `paths` that one matches."""
    for (pattern, _, _), matched in zip(RULES, _by_rule(paths), strict=True):
        yield from zip(matched, repeat(pattern))


def _by_rule(paths: list[str]) -> list[list[str]]:
    """For each of RULES, the `paths` whose first match it is.

    One pass, with each directory classified once (a copied node_modules/ can hold most of
    a layer's files) and only the file's name looked at per path."""
    found: list[list[str]] = [[] for _ in RULES]
    if any(map(_NEWLINE, paths)):  # where `.` and `$` treat a newline specially: the regexes decide
        for path in filter(_NEWLINE, paths):
            first = next((i for i, (_, regex) in enumerate(PATTERNS) if regex.match(path)), None)
            if first is not None:
                found[first].append(path)
        paths = list(filterfalse(_NEWLINE, paths))
    above: dict[str, int] = {}  # directory -> the first DIRECTORY rule it is in, or _NONE
    for path in paths:
        head, _, name = path.rpartition("/")
        rank = above.get(head)
        if rank is None:
            rank = above[head] = _directory_rank(head)
        if name.startswith(_NAME_STARTS) or name.endswith(_NAME_ENDS):
            for order, kind, names, dotted in _NAMES:
                if order >= rank:
                    break
                if (
                    name.endswith(names)
                    if kind == ENDING
                    else name in names or (kind == NAME and name.startswith(dotted))
                ):
                    rank = order
                    break
        if rank < _NONE:
            found[rank].append(path)
    return found


def _directory_rank(head: str) -> int:
    """The first DIRECTORY rule a file in directory `head` is in (_NONE: none)."""
    if not head:
        return _NONE
    return min((_DIRECTORIES[part] for part in _DIRECTORIES.keys() & head.split("/")),
               default=_NONE)  # fmt: skip
