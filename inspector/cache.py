"""A content-addressed cache of layer indexes on disk, keyed by diff_id.

Layout under the cache root (`INSPECTOR_CACHE_DIR`, else the user cache directory):

    v2/layers/<diff_id hex>      one LayerIndex: magic, xxh3 checksum, marshal payload
    v2/hints/<hex>               "<diff_id> <blob digest> <size> <compression>": a blob
                                 digest or a
                                 64-hex name seen in an archive, mapped to its layer

Writes are atomic (temporary file + rename), so concurrent runs and interruptions never
leave a half-written entry that a reader could see. A entry that fails its checksum or
does not parse is deleted and treated as a miss. A format change bumps the directory
version, which leaves old entries unread (`inspector cache clear` removes them). The total
size is bounded; the least recently used entries go first.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, replace
from typing import Any

import xxhash

from inspector.changes import EntryType, FileEntry
from inspector.digest import Digest
from inspector.indexer import LayerIndex

VERSION = "v2"
MAGIC = b"INSPIDX1"
DEFAULT_MAX_BYTES = 2 << 30
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TYPES = {t.value: t for t in EntryType}


def default_root() -> str:
    configured = os.environ.get("INSPECTOR_CACHE_DIR")
    if configured:
        return configured
    from platformdirs import user_cache_dir

    return user_cache_dir("inspector")


def name_hint(name: str) -> str | None:
    """The 64-hex token in an archive member's name (`<id>/layer.tar`, `blobs/sha256/<hex>`)."""
    match = _HEX64.search(name)
    return match.group(0) if match else None


@dataclass(frozen=True, slots=True)
class CacheInfo:
    path: str
    entries: int
    bytes: int
    max_bytes: int


def _pack(entry: FileEntry) -> tuple[object, ...]:
    return (entry.path, entry.type.value, entry.size, entry.mode, entry.uid, entry.gid,
            entry.mtime, entry.link, entry.digest)  # fmt: skip


def _unpack(row: tuple[Any, ...]) -> FileEntry:
    return FileEntry(row[0], _TYPES[row[1]], *row[2:])


def encode(index: LayerIndex) -> bytes:
    payload = marshal.dumps(
        (
            [_pack(e) for e in index.entries.values()],
            [(path, _pack(marker)) for path, marker in index.whiteouts.items()],
            list(index.opaque),
            [_pack(e) for e in index.shadowed],
            list(index.warnings),
            index.tar_bytes,
            str(index.digest) if index.digest else "",
            str(index.diff_id) if index.diff_id else "",
            index.compressed_size,
            index.uncompressed_size,
            index.compression,
            None if index.sequence is None else [_pack(e) for e in index.sequence],
        )
    )
    return MAGIC + xxhash.xxh3_64_digest(payload) + payload


def decode(data: bytes) -> LayerIndex:
    """Parse an entry; ValueError for anything damaged."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
        raise ValueError("not a layer index entry")
    checksum = data[len(MAGIC) : len(MAGIC) + 8]
    payload = data[len(MAGIC) + 8 :]
    if xxhash.xxh3_64_digest(payload) != checksum:
        raise ValueError("checksum mismatch")
    try:
        (entries, whiteouts, opaque, shadowed, warnings, tar_bytes, digest, diff_id,
         compressed, uncompressed, compression, sequence) = marshal.loads(payload)  # fmt: skip
        index = LayerIndex(
            entries={row[0]: _unpack(row) for row in entries},
            whiteouts={path: _unpack(row) for path, row in whiteouts},
            opaque=list(opaque),
            shadowed=[_unpack(row) for row in shadowed],
            warnings=list(warnings),
            tar_bytes=int(tar_bytes),
            digest=Digest.parse(digest) if digest else None,
            diff_id=Digest.parse(diff_id) if diff_id else None,
            compressed_size=int(compressed),
            uncompressed_size=int(uncompressed),
            compression=str(compression),
            sequence=None if sequence is None else [_unpack(row) for row in sequence],
        )
    except Exception as exc:  # any malformed payload is a miss, never a crash
        raise ValueError(f"malformed entry ({exc})") from None
    return index


class LayerCache:
    """Layer indexes on disk; every method is safe to call concurrently from processes."""

    def __init__(self, root: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._layers = os.path.join(root, VERSION, "layers")
        self._hints = os.path.join(root, VERSION, "hints")

    @classmethod
    def default(cls) -> LayerCache:
        return cls(default_root())

    # --- entries -----------------------------------------------------------------
    def get(self, diff_id: Digest) -> LayerIndex | None:
        path = os.path.join(self._layers, diff_id.hex)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        try:
            index = decode(data)
        except ValueError:
            self._discard(path)
            return None
        if index.diff_id != diff_id:
            self._discard(path)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently used goes first
        return index

    def put(self, index: LayerIndex, *hints: str) -> None:
        """Store an index (and the hints that lead to it); failures are silently skipped."""
        if index.diff_id is None or index.digest is None:
            return
        try:
            self._write(os.path.join(self._layers, index.diff_id.hex), encode(index))
            note = (
                f"{index.diff_id} {index.digest} {index.compressed_size} {index.compression}"
            ).encode()
            for hint in {h for h in hints if h}:
                self._write(os.path.join(self._hints, hint), note)
            self._evict()
        except OSError:
            return  # a read-only or full disk must not stop an inspection

    def lookup(self, hint: str) -> LayerIndex | None:
        """The layer a blob digest or archive name led to before, as that very blob.

        One layer (diff_id) can be stored as several blobs (plain, gzip, zstd); the entry
        is shared and the blob's own digest, size and compression come from the hint.
        """
        try:
            with open(os.path.join(self._hints, hint), "rb") as handle:
                parts = handle.read(400).decode().split()
            diff_id = Digest.parse(parts[0])
            raw = Digest.parse(parts[1])
            size = int(parts[2])
            compression = parts[3]
        except Exception:  # a missing or damaged hint is a miss
            return None
        index = self.get(diff_id)
        if index is None:
            return None
        return replace(index, digest=raw, compressed_size=size, compression=compression)

    def forget_hint(self, hint: str) -> None:
        self._discard(os.path.join(self._hints, hint))

    # --- housekeeping -----------------------------------------------------------------
    def info(self) -> CacheInfo:
        entries = 0
        total = 0
        for directory in (self._layers, self._hints):
            for entry in _scan(directory):
                total += entry.stat().st_size
                entries += directory == self._layers
        return CacheInfo(self.root, entries, total, self.max_bytes)

    def clear(self) -> int:
        """Remove every entry (of every version); return the bytes freed."""
        freed = 0
        if os.path.isdir(self.root):
            for dirpath, _, files in os.walk(self.root):
                for name in files:
                    with contextlib.suppress(OSError):
                        freed += os.path.getsize(os.path.join(dirpath, name))
            shutil.rmtree(self.root, ignore_errors=True)
        return freed

    def _write(self, path: str, data: bytes) -> None:
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            self._discard(tmp)
            raise

    def _evict(self) -> None:
        files = [(e.stat().st_mtime, e.stat().st_size, e.path) for e in _scan(self._layers)]
        total = sum(size for _, size, _ in files)
        if total <= self.max_bytes:
            return
        for _, size, path in sorted(files):
            self._discard(path)
            total -= size
            if total <= self.max_bytes:
                break

    @staticmethod
    def _discard(path: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _scan(directory: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return [e for e in entries if e.is_file() and not e.name.startswith(".tmp-")]
    except OSError:
        return []
