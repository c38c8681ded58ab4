"""`package-cache`: package-manager caches that ship in the image, or that only a later
layer deletes.

Recognised by path: apt lists and downloaded .debs, apk, dnf/yum, pip, poetry, uv, npm,
yarn, pnpm, Go's build and module caches, cargo's registry, maven, gem/bundler and
conda's package cache. Fires once per manager whose cached bytes (shipped plus deleted
later) reach 4 kB.

Fix, per manager: clean the cache in the same `RUN` that fills it (`rm -rf
/var/lib/apt/lists/*`, `pip install --no-cache-dir`, `apk add --no-cache`, `npm cache
clean --force`…), or keep it out of the image with `RUN --mount=type=cache,…`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import compress, repeat
from operator import attrgetter, methodcaller

from inspector.findings.facts import Facts
from inspector.findings.model import Finding, Fix, Severity, top_paths
from inspector.formatting import count as files
from inspector.formatting import size
from inspector.inspection import Inspection

ID = "package-cache"
TITLE = "Package-manager cache in the image"
SEVERITY = Severity.WARNING
EXAMPLE = """\
RUN apt-get update && apt-get install -y curl
RUN rm -rf /var/lib/apt/lists/*"""
MIN_BYTES = 4000
_HOME = r"(?:root|home/[^/]+)"
_PATH = attrgetter("path")


@dataclass(frozen=True, slots=True)
class Manager:
    name: str
    pattern: re.Pattern[str]
    fix: str
    after: tuple[str, ...]


def _manager(name: str, pattern: str, fix: str, *after: str) -> Manager:
    return Manager(name, re.compile(pattern), fix, after)


MANAGERS = (
    _manager(
        "apt",
        r"var/lib/apt/lists/(?!lock$)[^/]+$|var/lib/apt/lists/partial/.|var/cache/apt/.",
        "remove the package lists and downloaded packages in the RUN that installs",
        "RUN apt-get update \\",
        "    && apt-get install -y --no-install-recommends PACKAGES \\",
        "    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb",
    ),
    _manager(
        "apk",
        r"var/cache/apk/.",
        "let apk keep no cache",
        "RUN apk add --no-cache PACKAGES",
    ),
    _manager(
        "dnf/yum",
        r"var/cache/(?:dnf|yum)/.",
        "clean the cache in the RUN that installs",
        "RUN dnf install -y PACKAGES && dnf clean all",
    ),
    _manager(
        "pip",
        rf"{_HOME}/\.cache/pip/.",
        "install without pip's cache",
        "RUN pip install --no-cache-dir -r requirements.txt",
    ),
    _manager(
        "poetry",
        rf"{_HOME}/\.cache/pypoetry/.",
        "install without poetry's cache",
        "RUN poetry install --no-cache",
    ),
    _manager(
        "uv",
        rf"{_HOME}/\.cache/uv/.",
        "install without uv's cache, or mount it as a build cache",
        "RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen",
    ),
    _manager(
        "npm",
        rf"{_HOME}/\.npm/_cacache/.",
        "clean npm's cache in the RUN that installs",
        "RUN npm ci && npm cache clean --force",
    ),
    _manager(
        "yarn",
        rf"(?:usr/local/share/\.cache/yarn|{_HOME}/\.cache/yarn|{_HOME}/\.yarn/berry/cache)/.",
        "clean yarn's cache in the RUN that installs",
        "RUN yarn install --frozen-lockfile && yarn cache clean",
    ),
    _manager(
        "pnpm",
        rf"{_HOME}/\.(?:local/share/pnpm/store|cache/pnpm)/.",
        "mount pnpm's store as a build cache",
        "RUN --mount=type=cache,target=/root/.local/share/pnpm/store \\",
        "    pnpm install --frozen-lockfile",
    ),
    _manager(
        "go",
        rf"{_HOME}/\.cache/go-build/.|(?:{_HOME}/go|go)/pkg/mod/.",
        "build in a separate stage, or mount Go's caches as build caches",
        "RUN --mount=type=cache,target=/root/.cache/go-build \\",
        "    --mount=type=cache,target=/go/pkg/mod go build -o /app .",
    ),
    _manager(
        "cargo",
        rf"(?:{_HOME}/\.cargo|usr/local/cargo)/registry/.",
        "build in a separate stage, or mount cargo's registry as a build cache",
        "RUN --mount=type=cache,target=/usr/local/cargo/registry cargo build --release",
    ),
    _manager(
        "maven",
        rf"{_HOME}/\.m2/repository/.",
        "build in a separate stage, or mount the local repository as a build cache",
        "RUN --mount=type=cache,target=/root/.m2 mvn -B package",
    ),
    _manager(
        "gem",
        rf"{_HOME}/\.gem/.|usr/local/bundle/cache/.|var/lib/gems/[^/]+/cache/.",
        "remove the gem cache in the RUN that installs",
        "RUN bundle install && rm -rf /usr/local/bundle/cache",
    ),
    _manager(
        "conda",
        rf"(?:opt/conda|opt/miniconda3|{_HOME}/\.conda|{_HOME}/miniconda3)/pkgs/.",
        "clean conda's package cache in the RUN that installs",
        "RUN conda install -y PACKAGES && conda clean -afy",
    ),
)


# one pattern for all of them (a group per manager): one match per path
_ANY = re.compile("|".join(f"(?P<m{i}>{m.pattern.pattern})" for i, m in enumerate(MANAGERS)))
# every path a manager's pattern matches starts with one of these (tests/unit/
# test_findings_prefilters.py checks it): a C-speed test first, the pattern only after it
STARTS = (
    "var/lib/apt/lists/", "var/cache/", "root/", "home/", "usr/local/share/.cache/yarn/",
    "go/pkg/mod/", "usr/local/cargo/registry/", "usr/local/bundle/cache/", "var/lib/gems/",
    "opt/conda/pkgs/", "opt/miniconda3/pkgs/",
)  # fmt: skip
may_be_cache: Callable[[str], bool] = methodcaller("startswith", STARTS)
"""False for a path in no manager's cache (True: maybe in one; `manager_of` says)."""


def _maybe_caches(paths: list[str]) -> Iterator[str]:
    """The `paths` that `may_be_cache` (the str method mapped directly: a third faster)."""
    return compress(paths, map(str.startswith, paths, repeat(STARTS)))


def manager_of(path: str) -> Manager | None:
    """The package manager whose cache `path` is in, if any."""
    if not path.startswith(STARTS):
        return None
    found = _ANY.match(path)
    if found is None or found.lastgroup is None:
        return None
    return MANAGERS[int(found.lastgroup[1:])]


def detect(inspection: Inspection, facts: Facts) -> list[Finding]:
    shipped: dict[str, dict[str, int]] = {}
    deleted: dict[str, dict[str, int]] = {}
    layers: dict[str, set[int]] = {}
    visible = facts.visible_where(_maybe_caches)
    for path in visible:
        manager = manager_of(path)
        if manager is None:
            continue
        position = visible[path]
        file_bytes = facts.entries[position][path].size
        if file_bytes:
            shipped.setdefault(manager.name, {})[path] = file_bytes
            layers.setdefault(manager.name, set()).add(position)
    wasted_files = inspection.analysis.exact.wasted_files
    for wasted in compress(wasted_files, map(may_be_cache, map(_PATH, wasted_files))):
        manager = manager_of(wasted.path)
        if manager is not None and wasted.hidden_by > wasted.stored_in and wasted.size:
            deleted.setdefault(manager.name, {})[f"{wasted.path}"] = wasted.size
            layers.setdefault(manager.name, set()).update((wasted.stored_in, wasted.hidden_by))
    found = []
    for manager in MANAGERS:
        ships = shipped.get(manager.name, {})
        later = deleted.get(manager.name, {})
        total = sum(ships.values()) + sum(later.values())
        if total < MIN_BYTES:
            continue
        parts = []
        if ships:
            parts.append(
                f"{size(sum(ships.values()))} in {files(len(ships), 'file')} ships in the image"
            )
        if later:
            parts.append(
                f"{size(sum(later.values()))} in {files(len(later), 'file')} is deleted only by "
                "a later layer, so every pull still downloads it"
            )
        paths, count = top_paths({**later, **ships})
        involved = sorted(layers[manager.name])
        found.append(
            Finding(
                ID,
                f"{TITLE} ({manager.name})",
                SEVERITY,
                total,
                tuple(facts.layer_ref(i) for i in involved),
                paths,
                count,
                f"{manager.name}'s cache: {'; '.join(parts)}",
                Fix(
                    manager.fix[0].upper() + manager.fix[1:],
                    tuple(
                        facts.instructions[i].text for i in involved if facts.instructions[i].text
                    ),
                    manager.after,
                ),
            )
        )
    return found
