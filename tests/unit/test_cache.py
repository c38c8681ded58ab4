"""The layer index cache: round trips, damage detection, eviction, and skipped reads."""

from __future__ import annotations

import io
import os
import tarfile
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
