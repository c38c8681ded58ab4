"""File contents: one file read back from the one layer that stores it, and extraction.

Every image is built byte for byte by `imagebuilder` and read through the real sources
(archive shapes, OCI layouts, gzip/zstd/plain layers, outer gzip, the layer cache), so a
read goes through the same re-open path as the UI and `inspector extract`.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from imagebuilder import (
    BuiltImage,
    Compression,
    Dir,
    File,
    Hardlink,
    Layer,
    Opaque,
    Raw,
    Symlink,
    Whiteout,
    build_image,
    containerd_save,
    content,
    docker25_save,
    docker_save_legacy,
    gzip_outer,
    oci_layout,
    pack,
    write_tree,
)

from inspector.cache import LayerCache
from inspector.contents import extract, locate, read_file, stream_file, visible_tree
from inspector.errors import ContentsError, DestinationExists
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.archive import ArchiveSource
from inspector.sources.oci_layout import OciLayoutSource

BIG = content(3 << 20, "big")  # larger than a read chunk: a reader can seek past it

IMAGE = build_image(
    Layer(
        [
            Dir("etc"),
            File("etc/os-release", b'NAME="Test"\n'),
            Dir("usr/bin"),
            File("usr/bin/tool", b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x02\x00\x3e\x00", 0o755),
            File("var/big.bin", BIG),
            Dir("opt/app"),
            File("opt/app/old.txt", b"old\n"),
            File("opt/app/keep.txt", b"keep\n"),
            Dir("srv"),
            File("srv/gone.txt", b"gone\n"),
            File("data/base.txt", b"base\n"),
        ],
        created_by="ADD base",
    ),
    Layer(
        [
            File("etc/os-release", b'NAME="First"\n'),
            File("etc/os-release", b'NAME="Second"\n'),  # repeated: the last copy wins
            File("etc/hosts", b"127.0.0.1 localhost\n"),
            Hardlink("etc/hosts.link", "etc/hosts"),  # same layer
            Hardlink("data/base.link", "data/base.txt"),  # target in the layer below
            Opaque("opt/app"),
            File("opt/app/new.txt", b"new\n", 0o600),
            Whiteout("srv"),
            Symlink("etc/alias", "os-release"),
        ],
        created_by="RUN change",
    ),
    Layer(
        [File("etc/late.txt", b"late\n"), Raw("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3)],
        created_by="RUN late",
    ),
    tags=("example/contents:latest",),
)

Shape = Callable[[BuiltImage], bytes]
SHAPES: dict[str, Shape] = {
    "legacy-plain": lambda image: docker_save_legacy(image),
    "docker25-plain": lambda image: pack(docker25_save(image)),
    "containerd-gzip": lambda image: pack(containerd_save(image, compression="gzip")),
    "containerd-zstd": lambda image: pack(containerd_save(image, compression="zstd")),
    "oci-archive-gzip": lambda image: pack(oci_layout(image, compression="gzip")),
    "outer-gzip": lambda image: gzip_outer(docker_save_legacy(image)),
}


def load_archive(tmp_path: Path, data: bytes, cache: LayerCache | None = None) -> LoadedImage:
    path = tmp_path / "image.tar"
    path.write_bytes(data)
    return ArchiveSource(str(path), "image.tar", cache=cache).load(LoadEvents())


def load_layout(tmp_path: Path, compression: Compression) -> LoadedImage:
    root = write_tree(tmp_path / "layout", oci_layout(IMAGE, compression=compression))
    return OciLayoutSource(str(root), "layout").load(LoadEvents())


def text(loaded: LoadedImage, path: str, layer: int = 2) -> bytes:
    return read_file(loaded, path, layer).data


# --- reading one file -------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_every_archive_shape_reads_files_back(shape: str, tmp_path: Path) -> None:
    loaded = load_archive(tmp_path, SHAPES[shape](IMAGE))
    assert text(loaded, "etc/os-release", 0) == b'NAME="Test"\n'
    assert text(loaded, "etc/os-release") == b'NAME="Second"\n'
    assert text(loaded, "/var/big.bin") == BIG
    assert text(loaded, "etc/late.txt") == b"late\n"


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_oci_layout_reads_each_compression(compression: Compression, tmp_path: Path) -> None:
    loaded = load_layout(tmp_path, compression)
    found = read_file(loaded, "var/big.bin", 2)
    assert (found.layer, found.size, found.data) == (0, len(BIG), BIG)
    assert text(loaded, "etc/hosts") == b"127.0.0.1 localhost\n"


def test_a_repeated_path_reads_the_last_copy(tmp_path: Path) -> None:
    loaded = load_archive(tmp_path, docker_save_legacy(IMAGE))
    found = read_file(loaded, "etc/os-release", 1)
    assert found.data == b'NAME="Second"\n'
    assert found.copy == (1, "etc/os-release", 2)


def test_hard_links_read_their_target(tmp_path: Path) -> None:
    loaded = load_archive(tmp_path, SHAPES["containerd-gzip"](IMAGE))
    same = read_file(loaded, "etc/hosts.link", 2)
    assert same.data == b"127.0.0.1 localhost\n"
    assert same.copy == (1, "etc/hosts", 1)
    lower = read_file(loaded, "data/base.link", 2)
    assert lower.data == b"base\n"
    assert lower.copy == (0, "data/base.txt", 1)


def test_paths_under_opaque_or_deleted_directories(tmp_path: Path) -> None:
    loaded = load_archive(tmp_path, docker_save_legacy(IMAGE))
    assert text(loaded, "opt/app/old.txt", 0) == b"old\n"
    assert text(loaded, "srv/gone.txt", 0) == b"gone\n"
    for path in ("opt/app/old.txt", "srv/gone.txt", "srv"):
        with pytest.raises(ContentsError, match="not in the file system at layer 1"):
            read_file(loaded, path, 1)
    assert locate(loaded.layers, "opt/app/new.txt", 2) is not None


def test_a_view_reads_only_the_first_bytes(tmp_path: Path) -> None:
    loaded = load_archive(tmp_path, docker_save_legacy(IMAGE))
    found = read_file(loaded, "var/big.bin", 2, limit=1000)
    assert found.data == BIG[:1000]
    assert found.truncated
    assert found.size == len(BIG)


def test_symlinks_and_devices_have_no_bytes(tmp_path: Path) -> None:
    loaded = load_archive(tmp_path, docker_save_legacy(IMAGE))
    alias = read_file(loaded, "etc/alias", 2)
    assert (alias.entry.link, alias.data) == ("os-release", b"")
    with pytest.raises(ContentsError, match="is a directory"):
        read_file(loaded, "etc", 2)
    with pytest.raises(ContentsError, match="not a regular file"):
        stream_file(loaded, "dev/null", 2, lambda data: None)


class CountingFile(io.BytesIO):
    """An archive in memory that counts the bytes read from it."""

    total = 0

    def read(self, n: int | None = -1) -> bytes:
        data = super().read(n)
        CountingFile.total += len(data)
        return data


def test_a_read_skips_the_other_layers_and_contents(tmp_path: Path) -> None:
    data = docker_save_legacy(IMAGE)
    loaded = ArchiveSource(
        None, "mem", stream=io.BytesIO(data), reopen_file=lambda: CountingFile(data)
    ).load(LoadEvents())
    CountingFile.total = 0
    assert text(loaded, "data/base.txt") == b"base\n"  # stored after the 3 MiB file
    assert CountingFile.total < len(BIG) // 2  # the big file was seeked over, not read
    CountingFile.total = 0
    assert text(loaded, "etc/late.txt") == b"late\n"
    assert CountingFile.total < 64 << 10  # layer 2 only: the base layer is never read


def test_cached_layers_are_read_from_the_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second load takes every layer from the cache unparsed; reading still works."""
    cache = LayerCache(str(tmp_path / "cache"))
    data = pack(containerd_save(IMAGE, compression="zstd"))
    load_archive(tmp_path, data, cache)

    def no_parsing(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached layer was parsed again")

    monkeypatch.setattr("inspector.sources.archive.index_blob", no_parsing)
    again = ArchiveSource(str(tmp_path / "image.tar"), "image.tar", cache=cache).load(LoadEvents())
    assert text(again, "var/big.bin") == BIG
    assert text(again, "etc/hosts.link") == b"127.0.0.1 localhost\n"
    assert text(again, "etc/os-release", 0) == b'NAME="Test"\n'


def test_a_stream_cannot_be_read_again() -> None:
    loaded = ArchiveSource(None, "-", stream=io.BytesIO(docker_save_legacy(IMAGE))).load(
        LoadEvents()
    )
    assert loaded.reopen is None
    with pytest.raises(ContentsError, match="save it to a file"):
        read_file(loaded, "etc/hosts", 2)


# --- the file system at a layer -----------------------------------------------------------


def test_visible_tree_applies_whiteouts_and_opaque_directories(tmp_path: Path) -> None:
    loaded = load_archive(tmp_path, docker_save_legacy(IMAGE))
    at0 = visible_tree(loaded.layers, "opt", 0)
    at1 = visible_tree(loaded.layers, "opt", 1)
    assert sorted(at0) == ["opt/app", "opt/app/keep.txt", "opt/app/old.txt"]
    assert sorted(at1) == ["opt/app", "opt/app/new.txt"]
    assert at1["opt/app/new.txt"][0] == 1
    everything = visible_tree(loaded.layers, "", 2)
    assert "srv/gone.txt" not in everything
    assert "srv" not in everything
    assert everything["etc/os-release"][0] == 1
    assert everything["var/big.bin"][0] == 0


# --- extraction -------------------------------------------------------------------------------


def test_extract_a_directory_as_a_layer_shows_it(tmp_path: Path) -> None:
    loaded = load_archive(tmp_path, SHAPES["containerd-gzip"](IMAGE))
    out = tmp_path / "etc"
    result = extract(loaded, "etc", 2, str(out))
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*"))
    assert names == ["alias", "hosts", "hosts.link", "late.txt", "os-release"]
    assert (out / "os-release").read_bytes() == b'NAME="Second"\n'  # from layer 1
    assert (out / "late.txt").read_bytes() == b"late\n"  # from layer 2
    assert os.readlink(out / "alias") == "os-release"
    assert os.stat(out / "hosts").st_ino == os.stat(out / "hosts.link").st_ino
    assert (result.files, result.symlinks, result.hardlinks) == (3, 1, 1)
    # the same directory one layer down
    lower = extract(loaded, "etc", 0, str(tmp_path / "etc0"))
    assert sorted(os.listdir(tmp_path / "etc0")) == ["os-release"]
    assert (tmp_path / "etc0" / "os-release").read_bytes() == b'NAME="Test"\n'
    assert lower.files == 1


def test_extract_keeps_modes_and_times(tmp_path: Path) -> None:
    loaded = load_archive(tmp_path, docker_save_legacy(IMAGE))
    extract(loaded, "/", 2, str(tmp_path / "root"))
    root = tmp_path / "root"
    assert stat.S_IMODE(os.stat(root / "usr/bin/tool").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(root / "opt/app/new.txt").st_mode) == 0o600
    assert int(os.stat(root / "etc/late.txt").st_mtime) == 1_700_000_000
    assert (root / "data/base.link").read_bytes() == b"base\n"
    assert not (root / "srv").exists()
    assert not (root / "dev/null").exists()  # a device node is skipped, with a note


def test_extract_notes_devices_and_refuses_to_overwrite(tmp_path: Path) -> None:
    loaded = load_archive(tmp_path, docker_save_legacy(IMAGE))
    result = extract(loaded, "dev", 2, str(tmp_path / "dev"))
    assert result.notes == ["/dev/null: chardev skipped (only files, directories and links)"]
    target = tmp_path / "hosts"
    target.write_bytes(b"mine")
    with pytest.raises(DestinationExists):
        extract(loaded, "etc/hosts", 2, str(target))
    assert target.read_bytes() == b"mine"
    extract(loaded, "etc/hosts", 2, str(target), overwrite=True)
    assert target.read_bytes() == b"127.0.0.1 localhost\n"


def test_extract_never_writes_outside_the_destination(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    evil = build_image(
        Layer(
            [
                Raw("../../escape.txt", data=b"dotdot\n"),
                Raw("/abs.txt", data=b"absolute\n"),
                Symlink("link", str(outside)),
                File("link/through.txt", b"through\n"),  # would land in `outside` via the link
            ]
        )
    )
    loaded = load_archive(tmp_path, docker_save_legacy(evil))
    out = tmp_path / "work" / "out"
    out.parent.mkdir()
    result = extract(loaded, "/", 0, str(out))
    assert os.listdir(outside) == []
    assert not (tmp_path / "escape.txt").exists()
    assert not (tmp_path / "work/escape.txt").exists()
    assert (out / "escape.txt").read_bytes() == b"dotdot\n"  # clamped at the root
    assert (out / "abs.txt").read_bytes() == b"absolute\n"
    assert (out / "link" / "through.txt").read_bytes() == b"through\n"  # a real directory
    assert not (out / "link").is_symlink()
    assert any("symlink skipped" in note for note in result.notes)


def test_extract_does_not_follow_an_existing_symlink(tmp_path: Path) -> None:
    loaded = load_archive(tmp_path, docker_save_legacy(IMAGE))
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "etc").symlink_to(outside)
    with pytest.raises(ContentsError, match="not a directory"):
        extract(loaded, "/", 2, str(out), overwrite=True)
    assert os.listdir(outside) == []


def test_extract_an_implied_directory_and_a_missing_path(tmp_path: Path) -> None:
    loaded = load_archive(tmp_path, docker_save_legacy(IMAGE))
    extract(loaded, "data", 2, str(tmp_path / "data"))  # no tar entry names `data`
    assert sorted(os.listdir(tmp_path / "data")) == ["base.link", "base.txt"]
    with pytest.raises(ContentsError, match="not in the file system"):
        extract(loaded, "nope", 2, str(tmp_path / "nope"))
    with pytest.raises(ContentsError, match="does not exist"):
        extract(loaded, "etc", 2, str(tmp_path / "missing" / "etc"))


def test_stream_file_writes_the_whole_content(tmp_path: Path) -> None:
    loaded = load_layout(tmp_path, "zstd")
    out = io.BytesIO()
    assert stream_file(loaded, "var/big.bin", 2, out.write) == len(BIG)
    assert out.getvalue() == BIG
