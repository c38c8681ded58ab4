"""The audit's database: one SQLite file that the audit writes as it goes and resumes from.

SQLite, not DuckDB, by measurement (benchmarks/audit_db.py, docs/performance.md): on this
workload the audit inserts file rows while it indexes, and SQLite's inserts are three
times faster, while the report's GROUP BY over a few million rows stays within seconds;
it is also in the standard library.

Tables (docs/audit.md has every column):

    runs           one row per audit: when, what it read, how it ended, its counts
    images         one row per image name and identity (manifest digest, engine image id,
                   or an archive's path, size and mtime); `current` is 0 once the name
                   points elsewhere; the numbers of its analysis
    layers         one row per layer (diff_id): its blob, sizes, file count
    layer_indexes  each layer's index as the layer cache encodes it (zstd) and its
                   secret fingerprints, so a later run analyses new images on old layers
                   without fetching them again
    image_layers   each image's layers in order, with ChainID, blob and command (redacted)
    files          every regular file each layer stores: path (bytes), size, content digest
    findings       each image's findings (values of secrets never: kinds and fingerprints)
    failures       what could not be read, per run and stage, with the message

Every image and every layer is committed when it is done, so an interrupted audit keeps
what it finished and the next one skips it. Only this process writes the file.
"""

from __future__ import annotations

import json
import marshal
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from inspector.audit.tasks import FindingRow, ImageResult, LayerSummary
from inspector.changes import EntryType
from inspector.digest import chain_ids
from inspector.errors import UsageError
from inspector.model import Image
from inspector.secrets import SecretHit, redact

SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started TEXT, finished TEXT, status TEXT, sources TEXT,
    images INTEGER DEFAULT 0, new_images INTEGER DEFAULT 0, new_layers INTEGER DEFAULT 0,
    fetched_bytes INTEGER DEFAULT 0, failures INTEGER DEFAULT 0, seconds REAL);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, repository TEXT, tag TEXT, source TEXT,
    key TEXT NOT NULL, manifest_digest TEXT, config_digest TEXT, created TEXT,
    platform TEXT, layer_count INTEGER, stored_bytes INTEGER, uncompressed_bytes INTEGER,
    content_bytes INTEGER, visible_bytes INTEGER, wasted_bytes INTEGER,
    wasted_files INTEGER, efficiency REAL, dive_efficiency REAL, dive_wasted_bytes INTEGER,
    findings_bytes INTEGER, findings INTEGER, warnings INTEGER, run INTEGER,
    seen_run INTEGER, current INTEGER DEFAULT 1, UNIQUE (name, key));
CREATE TABLE IF NOT EXISTS layers (
    id INTEGER PRIMARY KEY, diff_id TEXT UNIQUE NOT NULL, digest TEXT,
    compressed_size INTEGER, uncompressed_size INTEGER, compression TEXT,
    files INTEGER, file_bytes INTEGER, run INTEGER);
CREATE TABLE IF NOT EXISTS layer_indexes (layer INTEGER PRIMARY KEY, data BLOB, secrets BLOB);
CREATE TABLE IF NOT EXISTS image_layers (
    image INTEGER, position INTEGER, layer INTEGER, diff_id TEXT, chain_id TEXT,
    digest TEXT, size INTEGER, uncompressed_size INTEGER, command TEXT,
    PRIMARY KEY (image, position));
CREATE TABLE IF NOT EXISTS files (layer INTEGER, path BLOB, size INTEGER, digest BLOB);
CREATE TABLE IF NOT EXISTS findings (
    image INTEGER, rank INTEGER, id TEXT, severity TEXT, title TEXT, bytes INTEGER,
    evidence TEXT, paths TEXT, path_count INTEGER, layers TEXT);
CREATE TABLE IF NOT EXISTS failures (
    id INTEGER PRIMARY KEY, run INTEGER, name TEXT, stage TEXT, message TEXT);
CREATE INDEX IF NOT EXISTS image_layers_chain ON image_layers (chain_id);
CREATE INDEX IF NOT EXISTS findings_image ON findings (image);
"""


def text(value: str) -> str:
    """`value` as SQLite can store it: a name that was not UTF-8 (surrogate escapes) gets
    U+FFFD for its odd bytes (exact names are kept as bytes in `files.path` only)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def path_bytes(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def path_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def default_path(cache_root: str) -> str:
    return os.path.join(cache_root, "audit.db")


class AuditStore:
    """The audit database; one writer (the process running the audit)."""

    def __init__(self, path: str, *, create: bool = True) -> None:
        self.path = path
        if not create and not os.path.isfile(path):
            raise UsageError(f"{path}: no audit database (run inspector audit SOURCE first)")
        directory = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(directory, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            version = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except (OSError, sqlite3.Error) as exc:
            raise UsageError(f"{path}: cannot open the audit database ({exc})") from None
        if version is None:
            with self.db:
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        elif version[0] != SCHEMA_VERSION:
            raise UsageError(
                f"{path}: an audit database of another version ({version[0]}); use a new --db"
            )

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self.db:
            yield self.db

    # --- runs --------------------------------------------------------------------------
    def start_run(self, sources: Iterable[str]) -> int:
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO runs (started, status, sources) VALUES (?, 'running', ?)",
                (_now(), json.dumps(list(sources))),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finish_run(self, run: int, status: str, seconds: float, **counts: int) -> None:
        columns = "".join(f", {name} = ?" for name in counts)
        with self._write() as db:
            db.execute(
                f"UPDATE runs SET finished = ?, status = ?, seconds = ?{columns} WHERE id = ?",
                (_now(), status, seconds, *counts.values(), run),
            )

    # --- layers ------------------------------------------------------------------------
    def known_layers(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT diff_id FROM layers")}

    def add_layer(self, summary: LayerSummary, run: int) -> bool:
        """Store a layer, its index and its files; False when it was there already."""
        if self.db.execute("SELECT 1 FROM layers WHERE diff_id = ?", (summary.diff_id,)).fetchone():
            return False
        index = summary.index()
        files = [
            (path_bytes(entry.path), entry.size, entry.digest.to_bytes(16, "big"))
            for entry in index.entries.values()
            if entry.type is EntryType.FILE
        ]
        secrets = marshal.dumps(
            [(s.kind, s.path, s.line, s.length, s.fingerprint) for s in summary.secrets]
        )
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO layers (diff_id, digest, compressed_size, uncompressed_size, "
                "compression, files, file_bytes, run) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    summary.diff_id,
                    summary.digest,
                    summary.compressed_size,
                    summary.uncompressed_size,
                    summary.compression,
                    len(files),
                    sum(size for _, size, _ in files),
                    run,
                ),
            )
            layer = cursor.lastrowid
            db.execute("INSERT INTO layer_indexes VALUES (?, ?, ?)", (layer, summary.data, secrets))
            db.executemany(
                "INSERT INTO files VALUES (?, ?, ?, ?)",
                ((layer, path, size, digest) for path, size, digest in files),
            )
        return True

    def layer_summary(self, diff_id: str) -> LayerSummary:
        """A stored layer's summary, as a worker returned it."""
        row = self.db.execute(
            "SELECT l.diff_id, l.digest, l.compressed_size, l.uncompressed_size, "
            "l.compression, x.data, x.secrets FROM layers l JOIN layer_indexes x "
            "ON x.layer = l.id WHERE l.diff_id = ?",
            (diff_id,),
        ).fetchone()
        if row is None:
            raise KeyError(diff_id)
        secrets = tuple(SecretHit(*fields) for fields in marshal.loads(row[6]))
        return LayerSummary(row[0], row[1], row[2], row[3], row[4], row[5], secrets)

    # --- images ------------------------------------------------------------------------
    def image_keys(self) -> set[tuple[str, str]]:
        """Every (name, key) the database holds an analysis of."""
        return {(name, key) for name, key in self.db.execute("SELECT name, key FROM images")}

    def has_image(self, name: str, key: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM images WHERE name = ? AND key = ?", (text(name), key)
        ).fetchone()
        return row is not None

    def image_seen(self, name: str, key: str, run: int) -> None:
        """An image audited before and still there: it is the name's current image."""
        with self._write() as db:
            db.execute(
                "UPDATE images SET current = 0 WHERE name = ? AND key != ?", (text(name), key)
            )
            db.execute(
                "UPDATE images SET current = 1, seen_run = ? WHERE name = ? AND key = ?",
                (run, text(name), key),
            )

    def add_image(
        self,
        name: str,
        repository: str,
        tag: str,
        source: str,
        key: str,
        image: Image,
        result: ImageResult,
        sizes: dict[str, int],
        run: int,
    ) -> int:
        """Store an analysed image; `sizes` maps each diff_id to its uncompressed size.

        `image` must already have its config text redacted (`secrets.redact_image`);
        commands are redacted here again, so nothing secret is stored either way.
        """
        diff_ids = [info.diff_id for info in image.layers]
        chains = chain_ids(diff_ids)
        stored = [
            info.size if info.size is not None else sizes.get(str(info.diff_id), 0)
            for info in image.layers
        ]
        with self._write() as db:
            db.execute("UPDATE images SET current = 0 WHERE name = ?", (text(name),))
            for (old,) in db.execute(
                "SELECT id FROM images WHERE name = ? AND key = ?", (text(name), key)
            ).fetchall():
                for table, column in (("image_layers", "image"), ("findings", "image")):
                    db.execute(f"DELETE FROM {table} WHERE {column} = ?", (old,))
                db.execute("DELETE FROM images WHERE id = ?", (old,))
            cursor = db.execute(
                "INSERT INTO images (name, repository, tag, source, key, manifest_digest, "
                "config_digest, created, platform, layer_count, stored_bytes, "
                "uncompressed_bytes, content_bytes, visible_bytes, wasted_bytes, "
                "wasted_files, efficiency, dive_efficiency, dive_wasted_bytes, "
                "findings_bytes, findings, warnings, run, seen_run, current) "
                f"VALUES ({', '.join('?' * 24)}, 1)",
                (
                    text(name),
                    text(repository),
                    text(tag),
                    source,
                    key,
                    str(image.manifest_digest) if image.manifest_digest else None,
                    str(image.config_digest),
                    image.created,
                    str(image.platform) if image.platform else None,
                    len(image.layers),
                    sum(stored),
                    sum(sizes.get(str(d), 0) for d in diff_ids),
                    result.content_bytes,
                    result.visible_bytes,
                    result.wasted_bytes,
                    result.wasted_files,
                    result.efficiency,
                    result.dive_efficiency,
                    result.dive_wasted_bytes,
                    result.findings_bytes,
                    len(result.findings),
                    len(result.warnings),
                    run,
                    run,
                ),
            )
            image_id = cursor.lastrowid
            assert image_id is not None
            wanted = sorted({str(d) for d in diff_ids})
            marks = ", ".join("?" * len(wanted))
            layer_ids = dict(
                db.execute(f"SELECT diff_id, id FROM layers WHERE diff_id IN ({marks})", wanted)
            )
            db.executemany(
                "INSERT INTO image_layers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        image_id,
                        info.position,
                        layer_ids.get(str(info.diff_id)),
                        str(info.diff_id),
                        str(chain),
                        str(info.digest or info.diff_id),
                        size,
                        sizes.get(str(info.diff_id), 0),
                        text(redact(info.created_by)),
                    )
                    for info, chain, size in zip(image.layers, chains, stored, strict=True)
                ),
            )
            db.executemany(
                "INSERT INTO findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_finding_row(image_id, rank, f) for rank, f in enumerate(result.findings)),
            )
        return image_id

    def add_failure(self, run: int, name: str, stage: str, message: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO failures (run, name, stage, message) VALUES (?, ?, ?, ?)",
                (run, text(name), stage, text(message)),
            )


def _finding_row(image: int, rank: int, finding: FindingRow) -> tuple[object, ...]:
    paths = json.dumps([[path, size] for path, size in finding.paths])
    return (
        image,
        rank,
        finding.id,
        finding.severity,
        text(finding.title),
        finding.bytes,
        text(finding.evidence),
        paths,
        finding.path_count,
        json.dumps(list(finding.layers)),
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
