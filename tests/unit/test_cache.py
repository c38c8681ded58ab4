"""The layer index cache: round trips, damage detection, eviction, and skipped reads."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from inspector import cache as cache_module
from inspector.cache import LayerCache, name_hint
from inspector.cachecodec import decode, encode
from inspector.indexer import LayerIndex, index_blob
from inspector.source import LoadEvents
from inspector.sources import archive as archive_module
from inspector.sources.archive import ArchiveSource


def _layer(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        marker = tarfile.TarInfo("gone/.wh.old")
        tar.addfile(marker, io.BytesIO(b""))
    return buffer.getvalue()


def _index(files: dict[str, bytes]) -> LayerIndex:
    return index_blob(io.BytesIO(_layer(files)).read, "test")


def test_round_trip_keeps_every_field() -> None:
    index = _index({"a/b": b"hello", "c": b"x" * 3000})
    again = decode(encode(index))
    assert again.entries == index.entries
    assert again.whiteouts == index.whiteouts
    assert (again.diff_id, again.digest, again.tar_bytes) == (
        index.diff_id,
        index.digest,
        index.tar_bytes,
    )


def test_damaged_entry_is_a_miss_and_is_removed(tmp_path: Path) -> None:
    store = LayerCache(str(tmp_path))
    index = _index({"f": b"data"})
    assert index.diff_id is not None
    store.put(index, "hint")
    assert store.get(index.diff_id) is not None
    entry = tmp_path / cache_module.VERSION / "layers" / index.diff_id.hex
    data = bytearray(entry.read_bytes())
    data[-3] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert store.get(index.diff_id) is None
    assert not entry.exists()


def test_truncated_entry_is_a_miss(tmp_path: Path) -> None:
    store = LayerCache(str(tmp_path))
    index = _index({"f": b"data"})
    assert index.diff_id is not None
    store.put(index)
    entry = tmp_path / cache_module.VERSION / "layers" / index.diff_id.hex
    entry.write_bytes(entry.read_bytes()[:20])
    assert store.get(index.diff_id) is None


def test_least_recently_used_entries_are_evicted(tmp_path: Path) -> None:
    first = _index({"one": b"1" * 10})
    second = _index({"two": b"2" * 10})
    size = len(encode(first))
    store = LayerCache(str(tmp_path), max_bytes=size + size // 2)
    store.put(first)
    assert first.diff_id is not None
    assert second.diff_id is not None
    old = os.path.getmtime(tmp_path / cache_module.VERSION / "layers" / first.diff_id.hex)
    os.utime(tmp_path / cache_module.VERSION / "layers" / first.diff_id.hex, (old - 100, old - 100))
    store.put(second)
    assert store.get(first.diff_id) is None
    assert store.get(second.diff_id) is not None


def test_name_hint_finds_the_hex_digest() -> None:
    hexa = "ab" * 32
    assert name_hint(f"{hexa}/layer.tar") == hexa
    assert name_hint(f"blobs/sha256/{hexa}") == hexa
    assert name_hint("layer.tar") is None


def _archive(path: Path, blob: bytes) -> None:
    import hashlib
    import json

    diff_id = "sha256:" + hashlib.sha256(blob).hexdigest()
    config = json.dumps(
        {
            "os": "linux",
            "architecture": "amd64",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    ).encode()
    layer_name = f"{diff_id[7:]}/layer.tar"
    manifest = json.dumps([{"Config": "config.json", "RepoTags": ["t:1"], "Layers": [layer_name]}])
    with tarfile.open(path, "w") as tar:
        for name, data in (
            (layer_name, blob),
            ("config.json", config),
            ("manifest.json", manifest.encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_second_open_parses_no_cached_layer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "img.tar"
    _archive(path, _layer({"big": b"z" * (3 << 20), "small": b"s"}))
    store = LayerCache(str(tmp_path / "cache"))
    first = ArchiveSource(str(path), "img", cache=store).load(LoadEvents())

    def refuse(*args: object, **kwargs: object) -> LayerIndex:
        raise AssertionError("a cached layer was parsed again")

    monkeypatch.setattr(archive_module, "index_blob", refuse)
    second = ArchiveSource(str(path), "img", cache=store).load(LoadEvents())
    assert second.layers[0].entries == first.layers[0].entries
    with path.open("rb") as handle:  # from a stream: hashed and checked, still not parsed
        third = ArchiveSource(None, "-", stream=handle, cache=store).load(LoadEvents())
    assert third.layers[0].entries == first.layers[0].entries


def _decoded(index: LayerIndex) -> bool:
    from inspector.cachecodec import LazyLayerIndex

    return not isinstance(index, LazyLayerIndex) or index.decoded


def test_a_cached_index_decodes_its_entries_on_first_read(tmp_path: Path) -> None:
    import dataclasses

    from inspector.cachecodec import LazyLayerIndex
    from inspector.digest import Digest

    index = _index({"a/b": b"hello", "c": b"x" * 3000})
    assert index.diff_id is not None
    store = LayerCache(str(tmp_path))
    store.put(index, "ab" * 32)
    cached = store.get(index.diff_id)
    assert isinstance(cached, LazyLayerIndex)
    assert not _decoded(cached)
    assert (cached.tar_bytes, cached.digest, cached.uncompressed_size) == (
        index.tar_bytes,
        index.digest,
        index.uncompressed_size,
    )
    assert not _decoded(cached)  # the header needs no entry
    other = Digest("sha256", "cd" * 32)
    moved = cached.with_blob(other, 7, "gzip")
    assert (moved.digest, moved.compressed_size, moved.compression) == (other, 7, "gzip")
    assert moved.entries == index.entries  # decoded from the shared payload
    assert cached == index  # equal to the index it came from (decodes it)
    assert _decoded(cached)
    assert cached.whiteouts == index.whiteouts
    assert cached.opaque == index.opaque
    copy = dataclasses.replace(cached, compression="zstd")
    assert copy.entries == index.entries
    assert copy.compression == "zstd"
    assert _decoded(copy)
    hinted = store.lookup("ab" * 32)
    assert hinted is not None
    assert hinted.entries == index.entries


def _tmp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".tmp-*")]


def test_a_streamed_result_is_stored_once_the_last_piece_has_passed(tmp_path: Path) -> None:
    store = LayerCache(str(tmp_path))
    key = "ab" * 32
    pieces = [bytes([i]) * (700_000 + i) for i in range(5)]
    passed = store.stream_result(key, iter(pieces), "filelists")
    assert next(passed) == pieces[0]
    assert store.get_result(key, "filelists") is None  # not before the last piece
    assert list(passed) == pieces[1:]
    assert store.get_result(key, "filelists") == b"".join(pieces)
    stored = store.result_chunks(key, "filelists")
    assert stored is not None
    read = list(stored)
    assert b"".join(read) == b"".join(pieces)
    assert max(map(len, read)) <= 1 << 20
    assert _tmp_files(tmp_path) == []


def test_a_stream_stopped_early_or_failing_stores_nothing(tmp_path: Path) -> None:
    store = LayerCache(str(tmp_path))
    stopped = store.stream_result("cd" * 32, iter([b"[1", b",2]"]), "filelists")
    assert next(stopped) == b"[1"
    stopped.close()  # the consumer stopped (an output error)

    def failing() -> Iterator[bytes]:
        yield b"[1"
        raise RuntimeError("renderer")

    with pytest.raises(RuntimeError):
        list(store.stream_result("ef" * 32, failing(), "filelists"))
    assert store.get_result("cd" * 32, "filelists") is None
    assert store.get_result("ef" * 32, "filelists") is None
    assert _tmp_files(tmp_path) == []


def test_a_damaged_streamed_entry_is_a_miss_and_is_removed(tmp_path: Path) -> None:
    store = LayerCache(str(tmp_path))
    key = "12" * 32
    list(store.stream_result(key, [b"[", b"x" * 3_000_000, b"]"], "filelists"))
    entry = tmp_path / cache_module.VERSION / "filelists" / key
    data = bytearray(entry.read_bytes())
    data[2_500_000] ^= 1
    entry.write_bytes(bytes(data))
    assert store.result_chunks(key, "filelists") is None
    assert not entry.exists()
    assert store.result_chunks(key, "filelists") is None  # a miss


def test_the_cache_never_syncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries are checked when read (a torn one is a miss), so none is synced."""

    def refuse(fd: int) -> None:
        raise AssertionError("fsync")

    monkeypatch.setattr(os, "fsync", refuse)
    monkeypatch.setattr(os, "fdatasync", refuse)
    store = LayerCache(str(tmp_path))
    index = _index({"a": b"1"})
    assert index.diff_id is not None
    store.put(index, "34" * 32)
    store.put_result("56" * 32, b"payload")
    list(store.stream_result("78" * 32, [b"[]"], "filelists"))
    assert store.get(index.diff_id) == index
    assert store.get_result("56" * 32) == b"payload"
    assert store.get_result("78" * 32, "filelists") == b"[]"


def test_every_part_of_an_index_survives_the_cache() -> None:
    """Repeated paths (shadowed copies, the tar order), numbers of 32, 64 and more bits,
    opaque directories and whiteouts."""
    from inspector.changes import EntryType, FileEntry

    big = FileEntry("big", EntryType.FILE, 1 << 70, 0o644, 1 << 65, 0, -(1 << 40), "", 7 << 100)
    index = _index({"a/b": b"hello", "c": b"x" * 3000})
    index.entries["big"] = big
    index.opaque.append("a")
    index.shadowed.append(index.entries["c"])
    index.sequence = [index.entries["c"], *index.entries.values()]
    again = decode(encode(index))
    assert again == index
    assert again.entries["big"] == big
    assert (again.sequence, again.shadowed, again.opaque) == (
        index.sequence,
        index.shadowed,
        index.opaque,
    )


def test_an_entry_of_the_previous_format_or_with_a_frame_cut_is_refused() -> None:
    import xxhash

    from inspector.cachecodec import MAGIC

    data = encode(_index({"a": b"1"}))
    with pytest.raises(ValueError, match="not a layer index entry"):
        decode(b"INSPIDX2" + data[len(MAGIC) :])
    payload = data[len(MAGIC) + 8 : -5]  # the last frame cut short, checksum made to fit
    cut = MAGIC + xxhash.xxh3_64_digest(payload) + payload
    with pytest.raises(ValueError, match="malformed"):
        decode(cut)


def test_a_cached_index_pickles_with_its_entries(tmp_path: Path) -> None:
    import pickle

    index = _index({"a/b": b"hello"})
    assert index.diff_id is not None
    store = LayerCache(str(tmp_path))
    store.put(index)
    cached = store.get(index.diff_id)
    assert cached is not None
    assert not _decoded(cached)
    again = pickle.loads(pickle.dumps(cached))
    assert again.entries == index.entries
    assert again == index
