"""The fleet report: what an audit database says, as values (render.py writes them out).

Everything is read from the images each name currently points at (`images.current`);
an image with several names (tags of one manifest) counts once where bytes are summed.

* Totals: names, distinct images, repositories, layers, the bytes every image stores
  (each as if alone), the bytes left once layers with the same blob are stored once, and
  the difference, saved by sharing.
* Images ranked by exact waste and by the bytes their findings put at stake.
* Shared base stacks: the deepest layer stacks (ChainIDs) that several images share, with
  the images on each; and images whose base is older than the newest image of the same
  base repository that some image in the fleet is built on. A base is an image of the fleet
  whose whole layer stack is the bottom of another repository's image.
* Duplicate content: file contents (by content digest and size) stored in several
  different layers, with the bytes one copy per content would save.
* Repositories across tags: from each tag to the next (by creation time, then version
  order), how the stored bytes grew and the first layer whose ChainID differs.
* Secrets: every `secret-in-image` and `secret-recoverable` finding (kinds, places and
  fingerprints: values are never stored).
* Failures of the latest run.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass

from inspector.audit.sources import version_key
from inspector.audit.store import AuditStore, path_text
from inspector.audit.tasks import SECRET_FINDINGS

TOP = 20
NAMES_SHOWN = 5
PATHS_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Totals:
    names: int
    images: int
    repositories: int
    layers: int
    stored_bytes: int
    unique_bytes: int
    files: int

    @property
    def saved_bytes(self) -> int:
        return self.stored_bytes - self.unique_bytes


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    started: str
    finished: str | None
    status: str
    seconds: float | None
    images: int
    new_images: int
    new_layers: int
    fetched_bytes: int
    failures: int


@dataclass(frozen=True, slots=True)
class RankedImage:
    names: tuple[str, ...]
    stored_bytes: int
    wasted_bytes: int
    efficiency: float
    findings: int
    findings_bytes: int


@dataclass(frozen=True, slots=True)
class SharedStack:
    chain_id: str
    layers: int  # depth of the stack (its top layer's position + 1)
    bytes: int  # uncompressed bytes of the stack
    command: str  # the top layer's command (redacted)
    image_count: int
    images: tuple[str, ...]  # the first NAMES_SHOWN names


@dataclass(frozen=True, slots=True)
class StaleBase:
    image: str
    base: str  # the base image it is built on
    newest: str  # the newest base of that repository in use
    base_created: str | None
    newest_created: str | None


@dataclass(frozen=True, slots=True)
class Duplicate:
    digest: str  # the xxh3-128 content digest, 32 hex digits
    size: int
    layers: int
    copies: int
    saved_bytes: int
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TagStep:
    repository: str
    before: str
    after: str
    stored_delta: int
    uncompressed_delta: int
    shared_layers: int  # layers at the bottom with the same ChainID
    layers_after: int
    diverges_at: int | None  # position of the first differing layer, None when equal
    command: str  # the first differing layer's command in `after` (redacted)


@dataclass(frozen=True, slots=True)
class Secret:
    names: tuple[str, ...]
    id: str
    evidence: str
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Failure:
    name: str
    stage: str
    message: str


@dataclass(frozen=True, slots=True)
class FleetReport:
    database: str
    run: Run | None
    totals: Totals
    by_waste: tuple[RankedImage, ...]
    by_findings: tuple[RankedImage, ...]
    shared: tuple[SharedStack, ...]
    stale_bases: tuple[StaleBase, ...]
    duplicates: tuple[Duplicate, ...]
    duplicate_bytes: int  # what dedup of every duplicate content would save
    tags: tuple[TagStep, ...]
    secrets: tuple[Secret, ...]
    failures: tuple[Failure, ...]


_CURRENT = "SELECT id, key, name FROM images WHERE current = 1"


def build(store: AuditStore, top: int = TOP) -> FleetReport:
    """The report of the database `store` holds."""
    db = store.db
    return FleetReport(
        store.path,
        _run(db),
        _totals(db),
        _ranked(db, "wasted_bytes", top),
        _ranked(db, "findings_bytes", top),
        *_stacks(db, top),
        *_duplicates(db, top),
        _tags(db),
        _secrets(db),
        _failures(db),
    )


def _run(db: sqlite3.Connection) -> Run | None:
    row = db.execute(
        "SELECT id, started, finished, status, seconds, images, new_images, new_layers, "
        "fetched_bytes, failures FROM runs ORDER BY id DESC LIMIT 1"
    ).fetchone()
    return Run(*row) if row else None


def _totals(db: sqlite3.Connection) -> Totals:
    names, images, repositories = db.execute(
        "SELECT COUNT(*), COUNT(DISTINCT key), COUNT(DISTINCT NULLIF(repository, '')) "
        "FROM images WHERE current = 1"
    ).fetchone()
    stored = db.execute(
        "SELECT COALESCE(SUM(stored_bytes), 0) FROM (SELECT key, MAX(stored_bytes) "
        "AS stored_bytes FROM images WHERE current = 1 GROUP BY key)"
    ).fetchone()[0]
    layers, unique = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM (SELECT il.digest, MAX(il.size) AS size "
        "FROM image_layers il JOIN images i ON i.id = il.image WHERE i.current = 1 "
        "GROUP BY il.digest)"
    ).fetchone()
    files = db.execute(
        "SELECT COALESCE(SUM(files), 0) FROM layers WHERE id IN (SELECT il.layer FROM "
        "image_layers il JOIN images i ON i.id = il.image WHERE i.current = 1)"
    ).fetchone()[0]
    return Totals(names, images, repositories, layers, stored, unique, files)


def _names_by_key(db: sqlite3.Connection) -> dict[str, tuple[str, ...]]:
    names: dict[str, list[str]] = defaultdict(list)
    for _, key, name in db.execute(_CURRENT):
        names[key].append(name)
    return {key: tuple(sorted(found)) for key, found in names.items()}


def _ranked(db: sqlite3.Connection, column: str, top: int) -> tuple[RankedImage, ...]:
    names = _names_by_key(db)
    rows = db.execute(
        "SELECT key, MAX(stored_bytes), MAX(wasted_bytes), MAX(efficiency), MAX(findings), "
        "MAX(findings_bytes) FROM images WHERE current = 1 "
        f"GROUP BY key HAVING MAX({column}) > 0 ORDER BY MAX({column}) DESC, MIN(name) LIMIT ?",
        (top,),
    ).fetchall()
    return tuple(RankedImage(names[key], *numbers) for key, *numbers in rows)


def _current_chains(
    db: sqlite3.Connection,
) -> tuple[dict[str, list[str]], dict[str, list[tuple[str, int, str]]], dict[str, dict[str, str]]]:
    """Per image key: its names; its layers (chain_id, uncompressed size, command); its row."""
    names: dict[str, list[str]] = defaultdict(list)
    ids: dict[str, int] = {}
    for image_id, key, name in db.execute(_CURRENT):
        names[key].append(name)
        ids.setdefault(key, image_id)
    layers: dict[str, list[tuple[str, int, str]]] = {}
    rows: dict[str, dict[str, str]] = {}
    by_id = {image_id: key for key, image_id in ids.items()}
    for image_id, chain, size, command in db.execute(
        "SELECT image, chain_id, uncompressed_size, command FROM image_layers "
        "ORDER BY image, position"
    ):
        key = by_id.get(image_id)
        if key is not None:
            layers.setdefault(key, []).append((chain, size or 0, command or ""))
    for image_id, repository, tag, created in db.execute(
        "SELECT id, repository, tag, created FROM images WHERE current = 1"
    ):
        key = by_id.get(image_id)
        if key is not None:
            rows[key] = {"repository": repository or "", "tag": tag or "", "created": created or ""}
    return names, layers, rows


def _stacks(
    db: sqlite3.Connection, top: int
) -> tuple[tuple[SharedStack, ...], tuple[StaleBase, ...]]:
    names, layers, rows = _current_chains(db)
    holders: dict[str, set[str]] = defaultdict(set)
    parent: dict[str, str] = {}
    where: dict[str, tuple[str, int]] = {}  # chain -> (an image key, position)
    for key, stack in layers.items():
        for position, (chain, _, _) in enumerate(stack):
            holders[chain].add(key)
            where.setdefault(chain, (key, position))
            if position:
                parent[chain] = stack[position - 1][0]
    children: dict[str, list[str]] = defaultdict(list)
    for child, up in parent.items():
        children[up].append(child)
    stacks = []
    for chain, keys in holders.items():
        if len(keys) < 2 or any(holders[c] == keys for c in children[chain]):
            continue  # not shared, or not the top of the stack these images share
        key, position = where[chain]
        stack = layers[key][: position + 1]
        shown = sorted(n for k in keys for n in names[k])
        stacks.append(
            SharedStack(
                chain,
                position + 1,
                sum(size for _, size, _ in stack),
                stack[-1][2],
                len(keys),
                tuple(shown[:NAMES_SHOWN]),
            )
        )
    stacks.sort(key=lambda s: (-s.image_count, -s.layers, s.chain_id))
    return tuple(stacks[:top]), _stale(names, layers, rows)


def _stale(
    names: dict[str, list[str]],
    layers: dict[str, list[tuple[str, int, str]]],
    rows: dict[str, dict[str, str]],
) -> tuple[StaleBase, ...]:
    """Images on a base older than the newest base of the same repository in use."""
    tops = {stack[-1][0]: key for key, stack in layers.items() if stack}
    base_of: dict[str, str] = {}
    for key, stack in layers.items():
        for position in range(len(stack) - 2, -1, -1):
            base = tops.get(stack[position][0])
            if base is not None and rows[base]["repository"] != rows[key]["repository"]:
                base_of[key] = base
                break
    newest: dict[str, str] = {}
    for base in set(base_of.values()):
        repository = rows[base]["repository"]
        best = newest.get(repository)
        if best is None or _age(rows[base]) > _age(rows[best]):
            newest[repository] = base
    found = []
    for key, base in base_of.items():
        best = newest[rows[base]["repository"]]
        if best != base and _age(rows[best]) > _age(rows[base]):
            for name in sorted(names[key]):
                found.append(
                    StaleBase(
                        name,
                        min(names[base]),
                        min(names[best]),
                        rows[base]["created"] or None,
                        rows[best]["created"] or None,
                    )
                )
    return tuple(sorted(found, key=lambda s: (s.newest, s.image)))


def _age(row: dict[str, str]) -> tuple[str, tuple[tuple[int, int | str], ...]]:
    """Newer sorts higher: creation time, then the tag in version order."""
    return row["created"], version_key(row["tag"])


def _duplicates(db: sqlite3.Connection, top: int) -> tuple[tuple[Duplicate, ...], int]:
    used = (
        "SELECT DISTINCT il.layer FROM image_layers il JOIN images i ON i.id = il.image "
        "WHERE i.current = 1"
    )
    rows = db.execute(
        "SELECT digest, size, COUNT(DISTINCT layer) AS layers, COUNT(*), MIN(path) "
        f"FROM files WHERE size > 0 AND layer IN ({used}) GROUP BY digest, size "
        "HAVING COUNT(DISTINCT layer) > 1 ORDER BY (COUNT(DISTINCT layer) - 1) * size DESC"
    ).fetchall()
    total = sum((n - 1) * size for _, size, n, _, _ in rows)
    found = []
    for digest, size, n, copies, path in rows[:top]:
        found.append(
            Duplicate(
                bytes(digest).hex(),
                size,
                n,
                copies,
                (n - 1) * size,
                (path_text(path),),
            )
        )
    return tuple(found), total


def _tags(db: sqlite3.Connection) -> tuple[TagStep, ...]:
    _, layers, rows = _current_chains(db)
    by_repository: dict[str, list[str]] = defaultdict(list)
    for key, row in rows.items():
        if row["repository"]:
            by_repository[row["repository"]].append(key)
    stored = dict(
        db.execute("SELECT key, MAX(stored_bytes) FROM images WHERE current = 1 GROUP BY key")
    )
    uncompressed = dict(
        db.execute("SELECT key, MAX(uncompressed_bytes) FROM images WHERE current = 1 GROUP BY key")
    )
    steps = []
    for repository, keys in sorted(by_repository.items()):
        if len(keys) < 2:
            continue
        keys.sort(key=lambda k: _age(rows[k]))
        for before, after in itertools.pairwise(keys):
            a, b = layers.get(before, []), layers.get(after, [])
            shared = 0
            while shared < min(len(a), len(b)) and a[shared][0] == b[shared][0]:
                shared += 1
            diverges = None if shared == len(a) == len(b) else shared
            command = b[shared][2] if diverges is not None and shared < len(b) else ""
            steps.append(
                TagStep(
                    repository,
                    rows[before]["tag"],
                    rows[after]["tag"],
                    stored[after] - stored[before],
                    uncompressed[after] - uncompressed[before],
                    shared,
                    len(b),
                    diverges,
                    command,
                )
            )
    return tuple(steps)


def _secrets(db: sqlite3.Connection) -> tuple[Secret, ...]:
    names = _names_by_key(db)
    marks = ", ".join("?" * len(SECRET_FINDINGS))
    rows = db.execute(
        "SELECT DISTINCT i.key, f.id, f.evidence, f.paths FROM findings f "
        f"JOIN images i ON i.id = f.image WHERE i.current = 1 AND f.id IN ({marks})",
        sorted(SECRET_FINDINGS),
    ).fetchall()
    found = [
        Secret(names[key], finding, evidence, tuple(str(p[0]) for p in json.loads(paths or "[]")))
        for key, finding, evidence, paths in rows
    ]
    return tuple(sorted(found, key=lambda s: (s.id, s.names, s.evidence)))


def _failures(db: sqlite3.Connection) -> tuple[Failure, ...]:
    rows = db.execute(
        "SELECT name, stage, message FROM failures WHERE run = (SELECT MAX(id) FROM runs) "
        "ORDER BY id"
    ).fetchall()
    return tuple(Failure(*row) for row in rows)
