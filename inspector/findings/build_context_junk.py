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

# (.dockerignore pattern, regex over the path); a directory pattern matches below it
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (pattern, re.compile(regex))
    for pattern, regex in (
        ("**/.git", r"(?:.*/)?\.git/"),
        ("**/.hg", r"(?:.*/)?\.hg/"),
        ("**/.svn", r"(?:.*/)?\.svn/"),
        ("**/.env*", r"(?:.*/)?\.env(?:\.[^/]*)?$"),
        ("**/__pycache__", r"(?:.*/)?__pycache__/"),
        ("**/*.pyc", r".*\.py[co]$"),
        ("**/.pytest_cache", r"(?:.*/)?\.pytest_cache/"),
        ("**/.mypy_cache", r"(?:.*/)?\.mypy_cache/"),
        ("**/.venv", r"(?:.*/)?\.venv/"),
        ("**/.idea", r"(?:.*/)?\.idea/"),
        ("**/.vscode", r"(?:.*/)?\.vscode/"),
        ("**/.DS_Store", r"(?:.*/)?\.DS_Store$"),
        ("**/.coverage", r"(?:.*/)?\.coverage(?:\.[^/]*)?$"),
        ("**/htmlcov", r"(?:.*/)?htmlcov/"),
        ("**/*.log", r".*\.log$"),
        ("Dockerfile", r"(?:.*/)?(?:Dockerfile|Containerfile)(?:\.[^/]*)?$"),
        ("**/node_modules", r"(?:.*/)?node_modules/"),
    )
)


def detect(inspection: Inspection, facts: Facts) -> list[Finding]:
    copies = {i for i, step in enumerate(facts.instructions) if step.keyword in ("COPY", "ADD")}
    installs_node = any(_NODE_INSTALL.search(step.body) for step in facts.instructions
                        if step.keyword == "RUN")  # fmt: skip
    matched: dict[str, int] = {}
    patterns: list[str] = []
    layers: set[int] = set()
    for position, entry in facts.stored_copies():
        if position not in copies:
            continue
        pattern = _pattern(entry.path)
        if pattern is None or (pattern == "**/node_modules" and not installs_node):
            continue
        matched[entry.path] = entry.size
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


# every path a pattern matches has one of these in it: one search first, for every file
_MAYBE = re.compile(
    r"(?:^|/)(?:\.|__pycache__/|htmlcov/|node_modules/|Dockerfile|Containerfile)|\.(?:py[co]|log)$"
)


def _pattern(path: str) -> str | None:
    if _MAYBE.search(path) is None:
        return None
    for pattern, regex in PATTERNS:
        if regex.match(path):
            return pattern
    return None
