"""Open a layer blob as an uncompressed tar stream, hashing both sides as it flows.

Compression is sniffed from the first bytes (gzip `1f 8b`, zstd `28 b5 2f fd`, else plain),
never trusted from the media type. The raw bytes hash to the blob digest, the
decompressed bytes to the diff_id; both are only final once the stream has been read
to its end. `Inflater` decompresses a layer on a worker thread while the caller parses
it (the indexer); `decompressed` is the same decompression on the caller's thread.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, Any, Protocol, cast

from inspector.errors import CorruptStream, DigestMismatch

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

Read = Callable[[int], bytes]


class Readable(Protocol):
    """Anything with a binary `read(n)`: a file, a socket stream, BytesIO."""

    def read(self, n: int = -1, /) -> bytes: ...


def compression_of(head: bytes) -> str:
    """`gzip`, `zstd` or `none` from a stream's first bytes."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    return "none"


def check_blob_size(what: str, expected: int, actual: int, *, known: bool = True) -> None:
    """A blob must be exactly as long as its descriptor says (as containerd checks it):
    DigestMismatch naming the blob (`what`) otherwise. `known` False: `actual` only says
    the blob got past `expected`, not how long it is."""
    if actual == expected:
        return
    relation = "longer" if actual > expected else "shorter"
    length = f" ({actual} bytes)" if known else ""
    raise DigestMismatch(
        f"{what}: is {relation} than the {expected} bytes its descriptor gives{length}"
    )


class ExactReader:
    """A `read(n)` stream of a blob that must be exactly `size` bytes long.

    It never asks the stream for more than one byte past `size`, so a longer blob fails
    at its first extra byte, not after it is read whole; a shorter one fails at its end.
    """

    def __init__(self, read: Read, size: int, what: str) -> None:
        self._read = read
        self._size = size
        self._what = what
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        left = self._size - self.count + 1
        data = self._read(left if n < 0 or n > left else n)
        self.count += len(data)
        if self.count > self._size:
            check_blob_size(self._what, self._size, self.count, known=False)
        if not data and n != 0:
            check_blob_size(self._what, self._size, self.count)
        return data

    def readable(self) -> bool:
        return True


class HashingReader:
    """A `read(n)` stream that hashes and counts everything that passes through it.

    sha256 runs on a background thread (hashlib releases the GIL), so on two cores the
    digest costs almost nothing next to tar parsing. Chunks are handed over in batches of
    about `HASH_BATCH` bytes: a thread that released the GIL waits up to the interpreter's
    switch interval (5 ms) to take it back while the parser holds it, so hashing 1 MiB
    (3 ms) per update left the worker idle most of the time. A read of `HASH_BATCH` bytes
    or more is a batch as it is (not copied into a joined one: a reader that asks for
    that much at a time, like the indexer's for a plain layer, is hashed without a copy).
    Updates stay in order: one worker thread, first in first out, at most `_BACKLOG`
    batches queued, so at most (`_BACKLOG` + 1) batches are held.
    """

    def __init__(self, read: Read, algorithm: str | None = "sha256") -> None:
        self._read = read
        self.hasher = hashlib.new(algorithm or "sha256")
        self._hashing = algorithm is not None
        self._pending: deque[Future[None]] = deque()
        self._batch: list[bytes] = []
        self._batched = 0
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._read(n)
        if data:
            if self._hashing:
                if len(data) >= HASH_BATCH:
                    if self._batch:
                        self._submit()
                    self._hand(data)
                else:
                    self._batch.append(data)
                    self._batched += len(data)
                    if self._batched >= HASH_BATCH:
                        self._submit()
            self.count += len(data)
        return data

    def _submit(self) -> None:
        batch = self._batch
        self._batch = []
        self._batched = 0
        self._hand(batch[0] if len(batch) == 1 else b"".join(batch))

    def _hand(self, data: bytes) -> None:
        if len(self._pending) >= _BACKLOG:
            self._pending.popleft().result()
        self._pending.append(_hash_pool().submit(self.hasher.update, data))

    def _wait(self, keep: int) -> None:
        while len(self._pending) > keep:
            self._pending.popleft().result()

    def readable(self) -> bool:
        return True

    def hexdigest(self) -> str:
        if self._batch:
            self._submit()
        self._wait(0)
        return self.hasher.hexdigest()


HASH_BATCH = 8 << 20
"""Bytes hashed per hand-over to the hash thread (see `HashingReader`)."""
_BACKLOG = 3
_POOL: ThreadPoolExecutor | None = None


def _hash_pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inspector-hash")
    return _POOL


class PeekReader:
    """A `read(n)` stream whose first bytes can be looked at without consuming them."""

    def __init__(self, read: Read) -> None:
        self._read = read
        self._head = b""

    def peek(self, n: int) -> bytes:
        while len(self._head) < n:
            data = self._read(n - len(self._head))
            if not data:
                break
            self._head += data
        return self._head[:n]

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                data = self._head + self._read_all()
                self._head = b""
                return data
            data = self._head[:n]
            self._head = self._head[n:]
            return data
        if n < 0:
            return self._read_all()
        return self._read(n)

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read_all(self) -> bytes:
        parts = []
        while chunk := self._read(1 << 20):
            parts.append(chunk)
        return b"".join(parts)

    def readable(self) -> bool:
        return True


class _GuardedReader:
    """Turns a decompressor's exceptions into CorruptStream naming the input."""

    def __init__(self, inner: Any, label: str, kind: str) -> None:
        self._inner = inner
        self._label = label
        self._kind = kind

    def read(self, n: int = -1) -> bytes:
        try:
            return cast(bytes, self._inner.read(n))
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            raise CorruptStream(f"{self._label}: corrupt {self._kind} data ({exc})") from None
        except Exception as exc:  # zstandard.ZstdError and isal errors have no common base
            if type(exc).__name__ in ("ZstdError", "IsalError", "error"):
                raise CorruptStream(f"{self._label}: corrupt {self._kind} data ({exc})") from None
            raise


def decompressed(raw: Read, label: str) -> tuple[Read, str]:
    """Wrap a raw blob stream in the decompressor its magic bytes call for."""
    peek = PeekReader(raw)
    kind = compression_of(peek.peek(4))
    if kind == "gzip":
        from isal import igzip

        stream: Any = igzip.IGzipFile(fileobj=cast(IO[bytes], peek), mode="rb")  # type: ignore[no-untyped-call]
        return _GuardedReader(stream, label, "gzip").read, kind
    if kind == "zstd":
        import zstandard

        stream = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], peek), read_across_frames=True, closefd=False, read_size=1 << 20
        )
        return _GuardedReader(stream, label, "zstd").read, kind
    return peek.read, kind


class Inflater:
    """Decompress a gzip or zstd stream on a worker thread; `read(n)` on the caller's.

    The caller's thread reads the raw stream (so a download's errors, cancellation and
    progress stay where they were) in batches of `_RAW_BATCH` bytes and hands them to a
    worker thread, which decompresses them, submits the output to the hash thread (the
    diff_id) and hands it back in chunks of `INFLATE_CHUNK` bytes. Decompression and
    sha256 release the GIL, so they overlap the caller's Python work (tar parsing); each
    raw read of the caller releases the GIL too, so the worker gets it back at once rather
    than after the interpreter's switch interval.

    Memory is bounded: at most `_RAW_DEPTH` raw batches and `_OUT_DEPTH` output chunks
    wait, and `_BACKLOG` chunks are being hashed. A corrupt stream raises CorruptStream
    from `read`, on the caller's thread. The caller must `close()` the inflater (a `with`
    block), also after an error or when it stops reading early: that stops the worker and
    waits for it. `finish()` reads the raw stream to its end and returns the diff_id
    hasher once every byte is hashed.
    """

    def __init__(self, raw: Read, label: str, kind: str, algorithm: str = "sha256") -> None:
        self._raw = raw
        self._label = label
        self._kind = kind
        self.hasher = hashlib.new(algorithm)
        self.count = 0  # decompressed bytes handed to the caller
        # Both hand-overs are guarded by one condition: the caller waits for "output, or
        # room for input", the worker for "input" or "room for output".
        self._lock = threading.Condition()
        self._input: deque[bytes] = deque()  # b"" marks the end of the raw stream
        self._output: deque[bytes | BaseException] = deque()  # b"" marks the end
        self._raw_done = False  # the caller has read the raw stream to its end
        self._stopped = False  # set by close(): the worker ends at its next hand-over
        self._finished = False  # the worker has ended
        self._eof = False
        self._pending = b""
        self._thread = threading.Thread(target=self._work, name="inspector-inflate", daemon=True)
        self._thread.start()

    # --- the caller's thread --------------------------------------------------------
    def _batch(self) -> bytes:
        """The next raw batch (b"" at the end of the raw stream): reads of at most
        `_RAW_BATCH` bytes in all, at least a quarter of that (a network chunk that
        large is a batch as it is, neither joined to another nor cut)."""
        first = self._raw(_RAW_BATCH)
        if not first or 4 * len(first) >= _RAW_BATCH:
            return first
        parts = [first]
        got = len(first)
        while 4 * got < _RAW_BATCH and (data := self._raw(_RAW_BATCH - got)):
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def _feed(self) -> None:
        batch = self._batch()
        self._raw_done = not batch
        with self._lock:
            self._input.append(batch)
            self._lock.notify_all()

    def _next(self) -> bytes | BaseException:
        lock = self._lock
        while True:
            with lock:
                # keep the worker supplied first, then take its output
                room = not self._raw_done and len(self._input) < _RAW_DEPTH
                if not room:
                    while (
                        not self._output
                        and not self._finished
                        and (self._raw_done or len(self._input) >= _RAW_DEPTH)
                    ):
                        lock.wait()
                    if self._output:
                        item = self._output.popleft()
                        lock.notify_all()
                        return item
                    if self._finished:
                        return RuntimeError(f"{self._label}: decompression stopped")
            self._feed()

    def read(self, n: int = -1) -> bytes:
        pending = self._pending
        if not pending:
            if self._eof:
                return b""
            item = self._next()
            if isinstance(item, BaseException):
                self._eof = True
                raise item
            if not item:
                self._eof = True
                return b""
            self.count += len(item)
            pending = item
        if n < 0 or n >= len(pending):
            self._pending = b""
            return pending
        self._pending = pending[n:]
        return pending[:n]

    def finish(self) -> Any:
        """Read the raw stream to its end; the diff_id hasher, complete."""
        while self.read(INFLATE_CHUNK):
            pass
        self.close()
        while not self._raw_done:  # bytes after the compressed data count for the digest
            self._raw_done = not self._raw(_RAW_BATCH)
        return self.hasher

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Stop the worker (if it still runs) and wait for it."""
        with self._lock:
            self._stopped = True
            self._output.clear()
            self._lock.notify_all()
        self._thread.join()

    def __enter__(self) -> Inflater:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the worker thread ----------------------------------------------------------
    def _take(self) -> bytes:
        """The next raw batch, for the decompressor (b"" at the end)."""
        with self._lock:
            while not self._input and not self._stopped:
                self._lock.wait()
            if self._stopped:
                raise _Stopped
            batch = self._input.popleft()
            self._lock.notify_all()
            return batch

    def _put(self, item: bytes | BaseException) -> bool:
        with self._lock:
            while len(self._output) >= _OUT_DEPTH and not self._stopped:
                self._lock.wait()
            if self._stopped:
                return False
            self._output.append(item)
            self._lock.notify_all()
            return True

    def _work(self) -> None:
        hashing: deque[Future[None]] = deque()
        try:
            read = self._open()
            update = self.hasher.update
            submit = _hash_pool().submit
            while True:
                data = read(INFLATE_CHUNK)
                if not data:
                    break
                if len(hashing) >= _BACKLOG:
                    hashing.popleft().result()
                hashing.append(submit(update, data))
                if not self._put(data):
                    return
            while hashing:
                hashing.popleft().result()
            self._put(b"")
        except _Stopped:
            pass
        except BaseException as exc:  # raised again on the caller's thread
            self._put(exc)
        finally:
            for future in hashing:
                future.cancel()
            with self._lock:
                self._finished = True
                self._lock.notify_all()

    def _open(self) -> Read:
        source = _BatchReader(self._take)
        if self._kind == "gzip":
            from isal import igzip

            reader = getattr(igzip, "_IGzipReader", None)
            if reader is not None:  # the C reader: one call inflates a whole chunk
                stream: Any = reader(source, _RAW_BATCH)
            else:  # pragma: no cover - isal before 1.6
                stream = igzip.IGzipFile(fileobj=cast(IO[bytes], source), mode="rb")  # type: ignore[no-untyped-call]
        else:
            import zstandard

            stream = zstandard.ZstdDecompressor().stream_reader(
                cast(IO[bytes], source),
                read_across_frames=True,
                closefd=False,
                read_size=_RAW_BATCH,
            )
        return _GuardedReader(stream, self._label, self._kind).read


class _BatchReader:
    """The worker's view of the raw stream: the batches the caller's thread hands over."""

    def __init__(self, take: Callable[[], bytes]) -> None:
        self._take = take
        self._pending = b""
        self._pos = 0
        self._eof = False

    def read(self, n: int = -1) -> bytes:
        if self._pos >= len(self._pending):
            if self._eof:
                return b""
            batch = self._take()
            if not batch:
                self._eof = True
                return b""
            self._pending, self._pos = batch, 0
        pending, pos = self._pending, self._pos
        if pos == 0 and (n < 0 or n >= len(pending)):
            self._pos = len(pending)
            return pending
        end = len(pending) if n < 0 else min(len(pending), pos + n)
        self._pos = end
        return pending[pos:end]

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


class _Stopped(Exception):
    """The caller closed the inflater: the worker ends quietly."""


INFLATE_CHUNK = 4 << 20  # decompressed bytes per hand-over (and per tar reader read)
_RAW_BATCH = 2 << 20  # (twice a socket read: a network chunk comes whole)
_RAW_DEPTH = 2
_OUT_DEPTH = 3
