"""Decompression on a worker thread (`blobs.Inflater`): order, digests, errors, early stops.

Every test that could hang runs the work on a helper thread and fails after a deadline
instead of blocking the suite.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import TypeVar

import pytest
from hostile_corpus import zstd_zeros
from imagebuilder import File, Layer, compress, tar_header

import inspector.blobs as blobs
import inspector.indexer as indexer
from inspector.blobs import Inflater
from inspector.digest import Digest
from inspector.errors import CorruptStream
from inspector.indexer import index_blob
from inspector.progress import TerminalProgress
from inspector.source import LoadEvents

T = TypeVar("T")
DEADLINE = 20.0


def _within_deadline(work: Callable[[], T]) -> T:
    """`work()` on a helper thread; fail (instead of hanging) if it does not finish."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(work())
        except BaseException as exc:
            errors.append(exc)

    helper = threading.Thread(target=run, daemon=True)
    helper.start()
    helper.join(DEADLINE)
    assert not helper.is_alive(), "hung"
    if errors:
        raise errors[0]
    return results[0]


def _inflaters() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "inspector-inflate" and t.is_alive()]


@pytest.fixture(autouse=True)
def _no_worker_left() -> Iterator[None]:
    yield
    assert _inflaters() == [], "an inflate worker outlived its reader"


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Odd, tiny batches and queues of one, so every size crosses many boundaries."""
    monkeypatch.setattr(blobs, "_RAW_BATCH", 1001)
    monkeypatch.setattr(blobs, "INFLATE_CHUNK", 4099)
    monkeypatch.setattr(indexer, "INFLATE_CHUNK", 4099)
    monkeypatch.setattr(blobs, "_RAW_DEPTH", 1)
    monkeypatch.setattr(blobs, "_OUT_DEPTH", 1)
    monkeypatch.setattr(blobs, "_BACKLOG", 1)


def _mixed_tar(seed: int, files: int = 300) -> bytes:
    rnd = random.Random(seed)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for i in range(files):
            data = rnd.randbytes(rnd.choice([0, 1, 511, 512, 513, rnd.randint(0, 40_000)]))
            info = tarfile.TarInfo(f"d{i % 7}/f{i}" + "x" * rnd.choice([0, 120]))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _big_payload(size: int, seed: int = 0) -> bytes:
    """Compressible but not trivially so: random words."""
    rnd = random.Random(seed)
    words = [rnd.randbytes(rnd.randint(1, 12)) for _ in range(512)]
    parts: list[bytes] = []
    total = 0
    while total < size:
        word = rnd.choice(words)
        parts.append(word)
        total += len(word)
    return b"".join(parts)[:size]


# --- order and digests -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gzip", "zstd", "zstd-frames"])
def test_output_and_digests_across_tiny_batches(kind: str, small_chunks: None) -> None:
    tar = _mixed_tar(1)
    blob = compress(tar, kind)  # type: ignore[arg-type]
    source = io.BytesIO(blob)
    sizes = iter([7, 1, 3000, 512, 65_536] * 100_000)
    idx = _within_deadline(
        lambda: index_blob(lambda n: source.read(min(n, next(sizes))), "layer.tar")
    )
    plain = index_blob(io.BytesIO(tar).read, "layer.tar")
    assert idx.entries == plain.entries
    assert idx.digest == Digest("sha256", hashlib.sha256(blob).hexdigest())
    assert idx.diff_id == plain.diff_id == Digest("sha256", hashlib.sha256(tar).hexdigest())
    assert (idx.compressed_size, idx.uncompressed_size) == (len(blob), len(tar))
    assert idx.compression == kind.split("-")[0]


def test_reads_give_every_byte_in_order(small_chunks: None) -> None:
    payload = _big_payload(300_000)
    blob = gzip.compress(payload)
    seen: list[bytes] = []

    def work() -> str:
        with Inflater(io.BytesIO(blob).read, "x", "gzip") as stream:
            sizes = iter([1, 4099, 10_000, 3] * 100_000)
            while data := stream.read(next(sizes)):
                seen.append(data)
            return str(stream.finish().hexdigest())

    digest = _within_deadline(work)
    assert b"".join(seen) == payload
    assert digest == hashlib.sha256(payload).hexdigest()
    assert max(len(part) for part in seen) <= 10_000  # read(n) never returns more than n


def test_bytes_after_the_compressed_stream_are_read_and_counted() -> None:
    tar = Layer([File("a", b"hello")]).tar()
    blob = gzip.compress(tar) + gzip.compress(b"")  # an empty second member
    idx = index_blob(io.BytesIO(blob).read, "layer")
    assert idx.digest == Digest("sha256", hashlib.sha256(blob).hexdigest())
    assert idx.compressed_size == len(blob)


# --- the caller stops early or fails -----------------------------------------------------


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_caller_stopping_early_stops_the_worker(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker is blocked on a full queue when the caller gives up: close() returns."""
    monkeypatch.setattr(blobs, "_OUT_DEPTH", 1)
    # (several times the raw batches the caller may have handed over when it stops)
    blob = compress(_big_payload(8 * blobs.INFLATE_CHUNK), kind)  # type: ignore[arg-type]
    raw = io.BytesIO(blob)

    def work() -> int:
        with Inflater(raw.read, "x", kind) as stream:
            first = stream.read(blobs.INFLATE_CHUNK)
            for _ in range(500):  # the worker fills the queue and waits; on a loaded
                if stream._output:  # machine it may take a while to run (up to 5 s here)
                    break
                threading.Event().wait(0.01)
            assert stream._output  # it is mid-stream
        return len(first)

    assert _within_deadline(work) == blobs.INFLATE_CHUNK
    assert raw.tell() < len(blob)  # stopped reading the raw stream too


def test_tar_error_mid_stream_stops_the_worker() -> None:
    """The parser (the caller) fails with several chunks still to come."""
    payload = _big_payload(3 * blobs.INFLATE_CHUNK)
    tar = Layer([File("a", b"x" * 700), File("b", payload)]).tar()
    broken = tar[:1536] + b"\x01" * 512 + tar[2048:]  # garbage for b's header
    blob = gzip.compress(broken, compresslevel=1)
    with pytest.raises(CorruptStream, match=r"^layer: invalid tar header"):
        _within_deadline(lambda: index_blob(io.BytesIO(blob).read, "layer"))


def test_raw_read_error_reaches_the_caller_and_stops_the_worker() -> None:
    """A download that fails (or is cancelled) mid-blob: its own exception, no hang."""
    blob = gzip.compress(_big_payload(3 * blobs.INFLATE_CHUNK), compresslevel=1)
    source = io.BytesIO(blob)

    class Broken(Exception):
        pass

    def read(n: int) -> bytes:
        if source.tell() > len(blob) // 2:
            raise Broken("connection lost")
        return source.read(min(n, 100_000))

    with pytest.raises(Broken, match="connection lost"):
        _within_deadline(lambda: index_blob(read, "layer"))


# --- the worker fails ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_corrupt_data_after_several_chunks_is_one_clear_error(kind: str) -> None:
    payload = _big_payload(3 * blobs.INFLATE_CHUNK, seed=2)
    tar = Layer([File("big", payload)]).tar()
    blob = bytearray(compress(tar, kind))  # type: ignore[arg-type]
    at = len(blob) * 3 // 4
    blob[at : at + 64] = bytes(b ^ 0x5A for b in blob[at : at + 64])
    seen: list[int] = []
    with pytest.raises(CorruptStream) as info:
        _within_deadline(
            lambda: index_blob(io.BytesIO(bytes(blob)).read, "L", progress=seen.append)
        )
    message = str(info.value)
    assert message.startswith(f"L: corrupt {kind} data")
    assert "\n" not in message
    assert sum(seen) > len(blob) // 2  # it failed mid-stream, not up front


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_truncated_after_several_chunks_is_corrupt(kind: str) -> None:
    tar = Layer([File("big", _big_payload(2 * blobs.INFLATE_CHUNK, seed=3))]).tar()
    blob = compress(tar, kind)  # type: ignore[arg-type]
    with pytest.raises(CorruptStream, match=r"^L: "):
        _within_deadline(lambda: index_blob(io.BytesIO(blob[: len(blob) * 2 // 3]).read, "L"))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_worker_that_dies_without_answering_does_not_hang_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Even a worker that cannot hand anything over (not even its error) lets go."""

    def fail(self: Inflater, item: object) -> bool:
        raise MemoryError

    monkeypatch.setattr(Inflater, "_put", fail)
    blob = gzip.compress(Layer([File("a", b"x")]).tar())
    with pytest.raises(RuntimeError, match="decompression stopped"):
        _within_deadline(lambda: index_blob(io.BytesIO(blob).read, "L"))


# --- decompression bombs: progress all along, and a stop at the next chunk ----------------------


def _bomb(gibibytes: int) -> bytes:
    return zstd_zeros(tar_header("zeros", size=(gibibytes << 30) - 1024), gibibytes)


def test_progress_advances_while_a_compressed_layer_decompresses() -> None:
    blob = compress(Layer([File("zeros", bytes(96 << 20))]).tar(), "gzip")
    read: list[int] = []
    inflated: list[int] = []
    index = _within_deadline(
        lambda: index_blob(
            io.BytesIO(blob).read, "bomb", progress=read.append, inflated=inflated.append
        )
    )
    assert sum(read) == len(blob) == index.compressed_size
    assert sum(inflated) == index.uncompressed_size > 96 << 20
    assert len([n for n in inflated if n]) >= 96 >> 2  # at least one call per 4 MiB chunk


def test_a_stop_asked_for_while_a_bomb_decompresses_ends_it_at_the_next_chunk() -> None:
    """64 GiB from 2 MB of zstd: one stored batch decompresses to 32 GiB, so waiting for
    the next stored read would take minutes; `inflated` comes every chunk."""
    blob = _bomb(64)
    raw = io.BytesIO(blob)
    seen: list[int] = []

    class Stop(Exception):
        pass

    def inflated(n: int) -> None:
        seen.append(n)
        if sum(seen) > 256 << 20:
            raise Stop

    def run() -> None:
        with pytest.raises(Stop):
            index_blob(raw.read, "bomb", inflated=inflated)

    start = time.monotonic()
    _within_deadline(run)
    assert time.monotonic() - start < 5  # (the whole bomb takes a minute or more)
    assert sum(seen) < 1 << 30
    assert not [t for t in threading.enumerate() if t.name == "inspector-inflate"]


def test_terminal_progress_shows_the_bytes_decompressed() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream)
    progress.layer_started("sha256:" + "a" * 64, 21_000_000)
    progress.layer_progress(1_000_000)
    for _ in range(3):
        time.sleep(0.11)  # (it redraws at most ten times a second)
        progress.layer_inflated(2_000_000_000)
    text = stream.getvalue()
    assert "1 MB / 21 MB  → 2 GB" in text
    assert "1 MB / 21 MB  → 6 GB" in text


def test_a_listener_without_layer_inflated_is_called_at_every_chunk() -> None:
    calls: list[int] = []

    class Listener(LoadEvents):
        def layer_progress(self, nbytes: int) -> None:
            calls.append(nbytes)

    Listener().layer_inflated(123)
    assert calls == [0]  # a point to check for cancellation, nothing read


def test_hashing_reader_hands_a_whole_batch_over_uncopied(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small reads are joined into batches; a read of a batch or more is hashed as it is
    (the indexer reads plain layers that way), and the digest covers every byte in order."""
    monkeypatch.setattr(blobs, "HASH_BATCH", 1000)
    rng = random.Random(5)
    pieces = [rng.randbytes(n) for n in (10, 300, 2500, 700, 400, 1000, 5, 3000, 20)]
    big = {id(piece) for piece in pieces if len(piece) >= 1000}
    handed: list[bytes] = []

    class Pool:  # the hash thread's seam: records what it is given, runs it at once
        def submit(self, function: Callable[[bytes], None], data: bytes) -> object:
            handed.append(data)
            function(data)
            done: Future[None] = Future()
            done.set_result(None)
            return done

    monkeypatch.setattr(blobs, "_hash_pool", Pool)
    source = iter(pieces)
    reader = blobs.HashingReader(lambda n: next(source, b""))
    assert b"".join(iter(lambda: reader.read(1 << 20), b"")) == b"".join(pieces)
    assert reader.hexdigest() == hashlib.sha256(b"".join(pieces)).hexdigest()
    assert reader.count == sum(map(len, pieces))
    assert b"".join(handed) == b"".join(pieces)
    assert big <= {id(data) for data in handed}  # each big read handed over as it is


def test_a_large_network_chunk_is_a_raw_batch_as_it_is() -> None:
    """A read of a quarter of a batch or more goes to the worker uncopied; smaller ones
    are joined up to that, never past `_RAW_BATCH`."""
    quarter = blobs._RAW_BATCH // 4
    pieces = [bytes(quarter), bytes(100), bytes(quarter - 50), bytes(quarter), b""]
    source = iter(pieces)
    with Inflater(lambda n: next(source)[:n], "x", "gzip") as stream:
        first = stream._batch()
        assert first is pieces[0]
        assert stream._batch() == pieces[1] + pieces[2]
        assert stream._batch() is pieces[3]
        assert stream._batch() == b""
