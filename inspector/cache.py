"""A content-addressed cache of layer indexes (keyed by diff_id) and analysis results.

Layout under the cache root (`INSPECTOR_CACHE_DIR`, else the user cache directory):

    v4/layers/<diff_id hex>      one LayerIndex: magic, xxh3 checksum, marshal payload
    v4/hints/<hex>               "<diff_id> <blob digest> <size> <compression>": a blob
                                 digest or a
                                 64-hex name seen in an archive, mapped to its layer
    v4/results/<key hex>         one analysis result (inspector/results.py): magic, xxh3
                                 checksum, payload; the key hashes everything it depends on
    v4/filelists/<key hex>       one layer's dive fileList as JSON text (same framing)
    v4/states/<key hex>          the analysis state after a layer-stack prefix, from which
                                 an image with the same first layers resumes (same framing)

Writes are atomic (temporary file + rename), so concurrent runs and interruptions never
leave a half-written entry that a reader could see. An entry that fails its checksum or
does not parse is deleted and treated as a miss. Nothing is fsynced: a crash can leave a
renamed entry torn or empty (the rename may reach the disk before the data), but every
entry is checked when it is read, so that is a miss, never a wrong answer, and syncing
tens of megabytes per run would make every first opening wait for the disk. Entries are
written piece by piece (`Sealing` checksums them as they go), so a large one (a layer's
columns, a file list of a million paths) is never held whole in memory. A format change
bumps the directory version or the entry's magic, which leaves old entries unread
(`inspector cache clear` removes them). The total size is bounded; the least recently
used entries go first.

This module is the store (files, hints, LRU bound, `cache info` / `cache clear`); what an
entry's bytes are, and the lazily decoded `LazyLayerIndex`, is cachecodec.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shutil
import tempfile
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from inspector.cachecodec import (
    MAGIC,
    RESULT_MAGIC,
    LazyLayerIndex,
    Sealing,
    decode,
    encode_frames,
    unseal,
)
from inspector.digest import Digest
from inspector.indexer import LayerIndex

VERSION = "v4"
DEFAULT_MAX_BYTES = 2 << 30
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEXKEY = re.compile(r"[0-9a-f]{16,128}")
_RESULT_KINDS = ("results", "filelists", "states", "findings")


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
    results: int = 0


_SEEN: dict[str, set[Digest]] = {}


class LayerCache:
    """Layer indexes on disk; every method is safe to call concurrently from processes."""

    def __init__(self, root: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._layers = os.path.join(root, VERSION, "layers")
        self._hints = os.path.join(root, VERSION, "hints")
        self._results = os.path.join(root, VERSION, "results")
        self._file_lists = os.path.join(root, VERSION, "filelists")
        self._states = os.path.join(root, VERSION, "states")
        # diff_ids this process found already cached (read, or present when stored):
        # layers an earlier run indexed; shared by every LayerCache of this root
        self.seen: set[Digest] = _SEEN.setdefault(os.path.abspath(root), set())

    @classmethod
    def default(cls) -> LayerCache:
        return cls(default_root())

    # --- entries -----------------------------------------------------------------
    def get(self, diff_id: Digest) -> LayerIndex | None:
        """The cached index of a layer; its entries are decoded when first read."""
        path = os.path.join(self._layers, diff_id.hex)
        data = self._read(path)
        if data is None:
            return None
        try:
            index = decode(data, lazy=True)
        except ValueError:
            self._discard(path)
            return None
        if index.diff_id != diff_id:
            self._discard(path)
            return None
        self._touch(path)
        self.seen.add(diff_id)
        return index

    def put(self, index: LayerIndex, *hints: str) -> None:
        """Store an index (and the hints that lead to it); failures are silently skipped."""
        if index.diff_id is None or index.digest is None:
            return
        try:
            path = os.path.join(self._layers, index.diff_id.hex)
            if os.path.exists(path):
                self.seen.add(index.diff_id)  # parsed again (an unknown blob name)
            self._write(path, (p for frame in encode_frames(index) for p in frame), MAGIC)
            note = (
                f"{index.diff_id} {index.digest} {index.compressed_size} {index.compression}"
            ).encode()
            for hint in {h for h in hints if h}:
                self._write(os.path.join(self._hints, hint), (note,), None)
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
        if isinstance(index, LazyLayerIndex):
            return index.with_blob(raw, size, compression)
        return dataclasses.replace(
            index, digest=raw, compressed_size=size, compression=compression
        )  # pragma: no cover - get() always returns a LazyLayerIndex

    # --- analysis results and rendered file lists -----------------------------------
    def get_result(self, key: str, kind: str = "results") -> bytes | None:
        """The payload stored under `key` (a hex digest), or None; damage is a miss.
        `kind` is "results" (analysis results), "filelists" (rendered file lists) or
        "states" (prefix states)."""
        path = self._result_path(key, kind)
        data = self._read(path) if path else None
        if path is None or data is None:
            return None
        try:
            payload = unseal(data)
        except ValueError:
            self._discard(path)
            return None
        self._touch(path)
        return payload

    def put_result(self, key: str, payload: bytes, kind: str = "results") -> None:
        """Store a payload under `key`; failures are silently skipped."""
        path = self._result_path(key, kind)
        if path is None:
            return
        try:
            self._write(path, (payload,))
            self._evict()
        except OSError:
            return

    def stream_result(
        self, key: str, chunks: Iterable[bytes], kind: str = "results"
    ) -> Generator[bytes, None, None]:
        """`chunks`, passed on as they come, and stored under `key` once the last has
        passed: not when the consumer stops early or an error interrupts, and writing
        failures only skip the store."""
        path = self._result_path(key, kind)
        entry = None
        if path is not None:
            with contextlib.suppress(OSError):
                entry = _Entry(os.path.dirname(path), Sealing())
        try:
            for chunk in chunks:
                if entry is not None:
                    try:
                        entry.write(chunk)
                    except OSError:
                        entry.abort()
                        entry = None
                yield chunk
        except BaseException:
            if entry is not None:
                entry.abort()
            raise
        if entry is not None and path is not None:
            try:
                entry.commit(path)
                self._evict()
            except OSError:
                return

    def result_chunks(self, key: str, kind: str = "results") -> Iterator[bytes] | None:
        """The payload stored under `key` in pieces of about 1 MiB, or None. The whole
        entry is checked against its checksum before the first piece is given (damage
        is a miss, and the entry is deleted), and read again from the same open file,
        so a concurrent replacement or removal does not mix two entries."""
        path = self._result_path(key, kind)
        if path is None:
            return None
        try:
            handle = open(path, "rb")  # noqa: SIM115 - handed to the generator below
        except OSError:
            return None
        try:
            sealing = Sealing()
            head = handle.read(sealing.size)
            while chunk := handle.read(_CHUNK):
                sealing.update(chunk)
            if head != sealing.head():
                handle.close()
                self._discard(path)
                return None
            handle.seek(sealing.size)
        except OSError:
            handle.close()
            return None
        self._touch(path)
        return _pieces(handle)

    def forget_result(self, key: str, kind: str = "results") -> None:
        path = self._result_path(key, kind)
        if path is not None:
            self._discard(path)

    def _result_path(self, key: str, kind: str) -> str | None:
        if kind not in _RESULT_KINDS or not _HEXKEY.fullmatch(key):
            return None
        return os.path.join(self.root, VERSION, kind, key)

    def forget_hint(self, hint: str) -> None:
        self._discard(os.path.join(self._hints, hint))

    # --- housekeeping -----------------------------------------------------------------
    def info(self) -> CacheInfo:
        entries = 0
        results = 0
        total = 0
        for directory in (self._layers, self._hints, self._results, self._file_lists,
                          self._states):  # fmt: skip
            for entry in _scan(directory):
                total += entry.stat().st_size
                entries += directory == self._layers
                results += directory == self._results
        return CacheInfo(self.root, entries, total, self.max_bytes, results)

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

    @staticmethod
    def _write(
        path: str, parts: Iterable[bytes | memoryview], magic: bytes | None = RESULT_MAGIC
    ) -> None:
        """Write an entry atomically: `parts` sealed under `magic`, or as they are when
        `magic` is None (a hint)."""
        entry = _Entry(os.path.dirname(path), None if magic is None else Sealing(magic))
        try:
            for part in parts:
                entry.write(part)
        except BaseException:
            entry.abort()
            raise
        entry.commit(path)

    def _evict(self) -> None:
        files = [
            (e.stat().st_mtime, e.stat().st_size, e.path)
            for directory in (self._layers, self._results, self._file_lists, self._states)
            for e in _scan(directory)
        ]
        total = sum(size for _, size, _ in files)
        if total <= self.max_bytes:
            return
        for _, size, path in sorted(files):
            self._discard(path)
            total -= size
            if total <= self.max_bytes:
                break

    @staticmethod
    def _read(path: str) -> bytes | None:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError:
            return None

    @staticmethod
    def _touch(path: str) -> None:
        with contextlib.suppress(OSError):
            os.utime(path)  # least recently used goes first

    @staticmethod
    def _discard(path: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(path)


_CHUNK = 1 << 20


class _Entry:
    """An entry being written: a temporary file in its directory, its payload checksummed
    as it goes (`sealing`; the head is written last, at the start), renamed into place
    by `commit`. Not synced (see the module's docstring)."""

    def __init__(self, directory: str, sealing: Sealing | None) -> None:
        os.makedirs(directory, exist_ok=True)
        self.fd, self.temporary = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        self.sealing = sealing
        if sealing is not None:
            try:
                self._write_all(bytes(sealing.size))
            except BaseException:
                self.abort()
                raise

    def write(self, part: bytes | memoryview) -> None:
        if self.sealing is not None:
            self.sealing.update(part)
        self._write_all(part)

    def _write_all(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def commit(self, path: str) -> None:
        try:
            if self.sealing is not None:
                os.pwrite(self.fd, self.sealing.head(), 0)
            os.close(self.fd)
            self.fd = -1
            os.replace(self.temporary, path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1
        with contextlib.suppress(OSError):
            os.unlink(self.temporary)


def _pieces(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(_CHUNK):
            yield chunk


def _scan(directory: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as entries:
            return [e for e in entries if e.is_file() and not e.name.startswith(".tmp-")]
    except OSError:
        return []
