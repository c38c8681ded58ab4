"""Indexing one layer blob: paths, whiteouts, duplicates, links, compression, digests."""

from __future__ import annotations

import hashlib
import io
import tarfile
import tracemalloc

import pytest
import xxhash
from imagebuilder import (
    END_OF_ARCHIVE,
    Compression,
    Dir,
    File,
    Hardlink,
    Layer,
    Op,
    Opaque,
    Raw,
    RawBytes,
    Symlink,
    Whiteout,
    compress,
    pax_records,
    tar_entry,
    tar_header,
)

from inspector.analysis import analyse
from inspector.changes import EntryType, FileEntry
from inspector.digest import Digest
from inspector.dive import dive_numbers
from inspector.errors import MAX_WARNINGS, CorruptStream, InspectorError, LayerFormatError
from inspector.headerwalk import EMPTY_DIGEST
from inspector.indexer import MAX_PATH_DEPTH, LayerIndex, index_blob, normalize
from inspector.model import Image, LayerInfo


def index(data: bytes | Layer, label: str = "layer.tar") -> LayerIndex:
    raw = data.tar() if isinstance(data, Layer) else data
    return index_blob(io.BytesIO(raw).read, label)


def summary(idx: LayerIndex) -> dict[str, tuple[EntryType, int, str]]:
    return {p: (e.type, e.size, e.link) for p, e in idx.entries.items()}


# --- entries ---------------------------------------------------------------------------------


def test_entries_carry_type_size_mode_owner_and_link() -> None:
    idx = index(
        Layer(
            [
                Dir("usr", mode=0o755),
                Dir("usr/bin", mode=0o711, uid=3, gid=4),
                File("usr/bin/tool", 1234, mode=0o4755, uid=10, gid=20),
                Symlink("usr/bin/alias", "tool"),
                Hardlink("usr/bin/same", "usr/bin/tool"),
                Raw("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
                Raw("run/pipe", tarfile.FIFOTYPE, mode=0o600),
            ]
        )
    )
    assert summary(idx) == {
        "usr": (EntryType.DIR, 0, ""),
        "usr/bin": (EntryType.DIR, 0, ""),
        "usr/bin/tool": (EntryType.FILE, 1234, ""),
        "usr/bin/alias": (EntryType.SYMLINK, 0, "tool"),
        "usr/bin/same": (EntryType.HARDLINK, 0, "usr/bin/tool"),
        "dev/null": (EntryType.CHARDEV, 0, ""),
        "run/pipe": (EntryType.FIFO, 0, ""),
    }
    tool = idx.entries["usr/bin/tool"]
    assert (tool.mode, tool.uid, tool.gid) == (0o4755, 10, 20)
    assert (idx.entries["usr/bin"].mode, idx.entries["usr/bin"].uid) == (0o711, 3)
    assert idx.tar_bytes == 1234
    assert idx.whiteouts == {}
    assert idx.opaque == []
    assert idx.warnings == []


def test_file_digest_tells_content_apart() -> None:
    idx = index(
        Layer(
            [
                File("a", b"same bytes"),
                File("b", b"same bytes", mode=0o600),
                File("c", b"other bytes"),
                File("empty", b""),
            ]
        )
    )
    e = idx.entries
    assert e["a"].digest == e["b"].digest == xxhash.xxh3_128_intdigest(b"same bytes")
    assert e["c"].digest != e["a"].digest
    assert e["empty"].digest == EMPTY_DIGEST
    assert e["a"].same_content(e["b"])
    assert not e["a"].same_content(e["c"])


def test_large_file_hashed_across_chunks() -> None:
    data = bytes(range(256)) * 9000  # > 2 MiB crosses the reader's 1 MiB chunks
    idx = index(Layer([File("big", data)]))
    assert idx.entries["big"].size == len(data)
    assert idx.entries["big"].digest == xxhash.xxh3_128_intdigest(data)


# --- whiteouts -------------------------------------------------------------------------------


def test_whiteouts_and_opaque_markers_are_not_files() -> None:
    idx = index(
        Layer(
            [
                Dir("etc"),
                Whiteout("etc/old.conf"),
                Whiteout("toplevel"),
                Dir("data"),
                Opaque("data"),
                File("data/new", b"n"),
                Opaque(""),
            ]
        )
    )
    assert sorted(idx.entries) == ["data", "data/new", "etc"]
    assert sorted(idx.whiteouts) == ["etc/old.conf", "toplevel"]
    marker = idx.whiteouts["etc/old.conf"]
    assert marker.path == "etc/.wh.old.conf"
    assert (marker.type, marker.size) == (EntryType.FILE, 0)
    assert idx.opaque == ["data", ""]
    assert idx.tar_bytes == 1


def test_aufs_metadata_and_bare_whiteout() -> None:
    idx = index(
        Layer(
            [
                Dir(".wh..wh.plnk"),
                File(".wh..wh.plnk/123.456", b"pooled"),
                File(".wh..wh.aufs", b""),
                File("dir/.wh.", b""),
                File("kept", b"k"),
            ]
        )
    )
    assert sorted(idx.entries) == [".wh..wh.plnk/123.456", "kept"]
    assert idx.whiteouts == {}
    assert idx.opaque == []
    assert any(".wh." in w and "names nothing" in w for w in idx.warnings)


def test_estargz_bookkeeping_entries_are_hidden() -> None:
    idx = index(
        Layer(
            [
                File(".prefetch.landmark", b"\xf0" * 4),
                File("app/run", b"r"),
                File(".no.prefetch.landmark", b"\xf0" * 4),
                File("stargz.index.json", b'{"version":1}'),
                File("sub/stargz.index.json", b"{}"),
            ]
        )
    )
    assert sorted(idx.entries) == ["app/run", "sub/stargz.index.json"]


def test_overlayfs_char_device_whiteout_is_kept_with_a_warning() -> None:
    idx = index(Layer([Raw("gone", tarfile.CHRTYPE, mode=0)]))
    assert idx.entries["gone"].type is EntryType.CHARDEV
    assert idx.whiteouts == {}
    assert any("0/0 character device" in w for w in idx.warnings)


# --- paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("etc/x", ("etc/x", False)),
        ("./etc/x", ("etc/x", False)),
        ("etc/dir/", ("etc/dir", False)),
        ("./etc//x/./y/", ("etc/x/y", False)),
        ("/etc/x", ("etc/x", True)),
        ("../../etc/passwd", ("etc/passwd", True)),
        ("a/../../b", ("b", True)),
        ("a/b/../c", ("a/c", True)),
        ("./", ("", False)),
        ("a..b/c..", ("a..b/c..", False)),
    ],
)
def test_normalize(name: str, expected: tuple[str, bool]) -> None:
    assert normalize(name) == expected


@pytest.mark.parametrize("prefix", ["./", "/"])
def test_prefixes_give_the_same_entries(prefix: str) -> None:
    ops: list[Op] = [
        Dir("etc"),
        File("etc/a", b"1"),
        Hardlink("etc/b", "etc/a"),
        Whiteout("etc/c"),
        Opaque("etc"),
    ]
    plain = index(Layer(ops))
    other = index(Layer(ops, prefix=prefix))
    assert other.entries == plain.entries
    assert other.opaque == plain.opaque == ["etc"]
    assert sorted(other.whiteouts) == ["etc/c"]
    assert other.entries["etc/b"].link == "etc/a"


def test_root_dot_slash_entry_is_skipped() -> None:
    idx = index(Layer([Raw("./", tarfile.DIRTYPE, mode=0o755), Dir("etc")]))
    assert sorted(idx.entries) == ["etc"]
    assert idx.warnings == []


def test_bare_dot_root_entry_is_skipped() -> None:
    idx = index(Layer([RawBytes(tar_entry(".", typeflag=b"5", mode=0o755)), Dir("etc")]))
    assert sorted(idx.entries) == ["etc"]


def test_dotdot_is_clamped_with_a_warning() -> None:
    idx = index(
        Layer(
            [
                Raw("../../etc/passwd", data=b"root"),
                Raw("safe/../../escape", data=b"e"),
                Raw("/abs/file", data=b"a"),
            ]
        ),
        label="evil.tar",
    )
    assert sorted(idx.entries) == ["abs/file", "escape", "etc/passwd"]
    assert idx.entries["etc/passwd"].size == 4
    joined = "\n".join(idx.warnings)
    assert "evil.tar: entry '../../etc/passwd' escapes the root; read as /etc/passwd" in joined
    assert "'safe/../../escape'" in joined


def test_hardlink_target_is_normalised_and_dotdot_warned() -> None:
    idx = index(
        Layer(
            [
                File("a", b"x"),
                Raw("b", tarfile.LNKTYPE, linkname="./a"),
                Raw("c", tarfile.LNKTYPE, linkname="/a"),
                Raw("d", tarfile.LNKTYPE, linkname="../../a"),
            ]
        )
    )
    assert [idx.entries[p].link for p in "bcd"] == ["a", "a", "a"]
    assert all(idx.entries[p].size == 0 for p in "bcd")
    assert any("hardlink 'd' names '../../a'" in w for w in idx.warnings)


def test_long_names_in_every_format() -> None:
    long_file = "srv/" + "n" * 130 + "/" + "f" * 90
    long_target = "/opt/" + "t" * 160
    expected = {
        "srv": (EntryType.DIR, 0, ""),
        long_file: (EntryType.FILE, 3, ""),
        "lnk": (EntryType.SYMLINK, 0, long_target),
    }
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        ops: list[Op] = [Dir("srv"), File(long_file, b"abc"), Symlink("lnk", long_target)]
        idx = index(Layer(ops, format=fmt))
        assert summary(idx) == expected, fmt
    ustar = index(Layer([Dir("srv"), File(long_file, b"abc")], format=tarfile.USTAR_FORMAT))
    assert list(ustar.entries) == ["srv", long_file]


# --- duplicates ------------------------------------------------------------------------------


def test_duplicate_entries_last_wins_and_earlier_copies_are_shadowed() -> None:
    idx = index(
        Layer(
            [
                File("app/x", 100, seed="first"),
                File("app/y", b"y"),
                File("app/x", 40, seed="second", mode=0o600),
                File("app/x", 7, seed="third"),
            ]
        )
    )
    assert list(idx.entries) == ["app/x", "app/y"]  # a path keeps its first place
    assert idx.sequence is not None  # the tar order, repeats included, for the analysis
    assert [(e.path, e.size) for e in idx.sequence] == [
        ("app/x", 100),
        ("app/y", 1),
        ("app/x", 40),
        ("app/x", 7),
    ]
    assert idx.entries["app/x"].size == 7
    assert [(s.path, s.size, s.mode) for s in idx.shadowed] == [
        ("app/x", 100, 0o644),
        ("app/x", 40, 0o600),
    ]
    assert idx.tar_bytes == 100 + 1 + 40 + 7


def test_duplicate_with_different_type() -> None:
    idx = index(Layer([File("p", b"12345"), Dir("p")]))
    assert idx.entries["p"].type is EntryType.DIR
    assert [s.type for s in idx.shadowed] == [EntryType.FILE]


# --- compression and digests -------------------------------------------------------------------


SAMPLE = Layer(
    [
        Dir("etc"),
        File("etc/config", 70_000),
        Symlink("etc/link", "config"),
        Whiteout("etc/old"),
        File("bin/tool", b"\x7fELF" * 1000, mode=0o755),
    ]
)


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd", "zstd-frames"])
def test_every_compression_gives_the_same_diff_id(compression: Compression) -> None:
    tar = SAMPLE.tar()
    blob = compress(tar, compression)
    idx = index(blob)
    assert idx.diff_id == Digest("sha256", hashlib.sha256(tar).hexdigest())
    assert idx.digest == Digest("sha256", hashlib.sha256(blob).hexdigest())
    assert (idx.compressed_size, idx.uncompressed_size) == (len(blob), len(tar))
    assert idx.compression == {"zstd-frames": "zstd"}.get(compression, compression)
    assert idx.entries == index(tar).entries
    assert sorted(idx.whiteouts) == ["etc/old"]


def test_multi_frame_zstd_really_has_several_frames() -> None:
    blob = compress(SAMPLE.tar(), "zstd-frames")
    assert blob.count(b"\x28\xb5\x2f\xfd") >= 3
    assert index(blob).diff_id == index(SAMPLE.tar()).diff_id


def test_multi_member_gzip_reads_every_member() -> None:
    tar = SAMPLE.tar()
    half = len(tar) // 2
    blob = compress(tar[:half], "gzip") + compress(tar[half:], "gzip")
    idx = index(blob)
    assert idx.diff_id == Digest.sha256_of(tar)
    assert "bin/tool" in idx.entries


def test_diff_id_covers_padding_after_the_end_marker() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("a")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"abc"))
    tar = buf.getvalue()
    assert len(tar) == tarfile.RECORDSIZE  # tarfile pads to a full record
    idx = index(compress(tar, "gzip"))
    assert idx.diff_id == Digest.sha256_of(tar)
    assert idx.uncompressed_size == tarfile.RECORDSIZE


def test_layer_without_end_marker() -> None:
    tar = Layer([File("a", b"1"), File("b", b"2")], end_marker=False).tar()
    idx = index(tar)
    assert sorted(idx.entries) == ["a", "b"]
    assert idx.diff_id == Digest.sha256_of(tar)


def test_empty_tar_layer() -> None:
    idx = index(END_OF_ARCHIVE)
    assert idx.entries == {}
    assert idx.diff_id == Digest(
        "sha256", "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    )


def test_progress_reports_every_raw_byte() -> None:
    blob = compress(SAMPLE.tar(), "gzip")
    seen: list[int] = []
    index_blob(io.BytesIO(blob).read, "p", progress=seen.append)
    assert sum(seen) == len(blob)


# --- corrupt input -----------------------------------------------------------------------------


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


GZ = compress(SAMPLE.tar(), "gzip")
ZS = compress(SAMPLE.tar(), "zstd")
ZF = compress(SAMPLE.tar(), "zstd-frames")


@pytest.mark.parametrize(
    ("blob", "kind"),
    [
        pytest.param(GZ[: len(GZ) // 2], "gzip", id="gzip-truncated"),
        pytest.param(_flip(GZ, len(GZ) // 2), "gzip", id="gzip-flipped"),
        pytest.param(GZ[:-8] + bytes(8), "gzip", id="gzip-bad-crc"),
        pytest.param(GZ[:12], "gzip", id="gzip-header-only"),
        pytest.param(ZS[:4] + b"\xff\xff" + ZS[6:], "zstd", id="zstd-bad-frame-header"),
        pytest.param(ZS[:-4] + bytes(4), "zstd", id="zstd-damaged-end"),
        pytest.param(_flip(ZF, len(ZF) // 2), "zstd", id="zstd-frames-flipped"),
    ],
)
def test_corrupt_compressed_layer(blob: bytes, kind: str) -> None:
    with pytest.raises(CorruptStream) as info:
        index(blob, label="img.tar: layer 2")
    message = str(info.value)
    assert message.startswith("img.tar: layer 2: ")
    assert "\n" not in message
    assert isinstance(info.value, LayerFormatError)
    assert isinstance(info.value, InspectorError)


def test_corrupt_compressed_layer_names_the_compression() -> None:
    with pytest.raises(CorruptStream, match="corrupt gzip data"):
        index(GZ[: len(GZ) // 2])
    with pytest.raises(CorruptStream, match="corrupt zstd data"):
        index(ZS[:4] + b"\xff\xff" + ZS[6:])


def test_truncated_zstd_layer_is_corrupt() -> None:
    with pytest.raises(CorruptStream):
        index(ZF[: len(ZF) // 2])
    with pytest.raises(CorruptStream):
        index(ZS[: len(ZS) // 2])


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b'{"schemaVersion": 2, "layers": []}', id="json"),
        pytest.param(b"hello world\n" * 200, id="text"),
        pytest.param(bytes(100), id="short-zeros"),
        pytest.param(compress(b"not a tar at all" * 100, "gzip"), id="gzip-of-text"),
        pytest.param(compress(b"{}" * 400, "zstd"), id="zstd-of-json"),
        pytest.param(SAMPLE.tar()[:700], id="truncated-tar"),
        pytest.param(SAMPLE.tar()[:1300], id="truncated-in-content"),
    ],
)
def test_not_a_tar(blob: bytes) -> None:
    with pytest.raises(CorruptStream, match=r"^blob-x: "):
        index(blob, label="blob-x")


def test_absurd_size_inside_a_layer() -> None:
    from imagebuilder import base256

    blob = tar_header("huge", size=base256(1 << 62, 12), magic=b"ustar  \0") + bytes(2048)
    with pytest.raises(CorruptStream, match="absurd entry size"):
        index(blob)


def test_pax_headers_inside_a_layer() -> None:
    blob = (
        tar_entry("PaxHeaders/x", pax_records({"path": "real/name", "uid": "77"}), typeflag=b"x")
        + tar_entry("placeholder", b"data")
        + END_OF_ARCHIVE
    )
    idx = index(blob)
    assert idx.entries == {
        "real/name": FileEntry(
            "real/name",
            EntryType.FILE,
            4,
            0o644,
            77,
            0,
            idx.entries["real/name"].mtime,
            "",
            xxhash.xxh3_128_intdigest(b"data"),
        )
    }


def _mixed_layer_tar(seed: int) -> bytes:
    """A tar mixing every path of the indexer: plain entries, PAX and GNU records,
    whiteouts, odd names, hard links, devices and duplicates, small and large files."""
    import random

    rnd = random.Random(seed)
    names = ["a", "b/c", "./d/e", "/abs/x", "x/../y", "f/.wh.g", "h/.wh..wh..opq",
             "stargz.index.json", "dir/", "k" * 120 + "/z", "a//b", "\u00fc/n", "p/q"]  # fmt: skip
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for i in range(300):
            info = tarfile.TarInfo(rnd.choice(names) + ("" if rnd.random() < 0.3 else f"/{i}"))
            info.type = rnd.choice(
                [tarfile.REGTYPE] * 4
                + [tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE]
            )
            info.mode, info.uid, info.mtime = rnd.randint(0, 0o7777), rnd.randint(0, 9), i
            data = b""
            if info.type == tarfile.REGTYPE:
                data = rnd.randbytes(rnd.choice([0, 1, 512, 700, rnd.randint(0, 3 << 20)]))
                info.size = len(data)
            if info.type in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = rnd.choice(["a", "../up", "l" * 150])
            tar.addfile(info, io.BytesIO(data) if data else None)
    return out.getvalue()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_buffered_fast_path_and_header_path_agree(seed: int) -> None:
    """Reads of odd sizes split entries across buffer boundaries, so the same tar is
    indexed by the in-buffer fast path and by `TarReader.next_header` in different
    proportions; the index must not depend on it."""
    data = _mixed_layer_tar(seed)
    whole = index(data)
    source = io.BytesIO(data)
    sizes = iter([513, 1, 700, 511, 4096, 3] * 100_000)
    split = index_blob(lambda n: source.read(min(n, next(sizes))), "layer.tar")
    for field in ("entries", "whiteouts", "opaque", "shadowed", "sequence", "warnings"):
        assert getattr(split, field) == getattr(whole, field), field
    assert (split.tar_bytes, split.diff_id) == (whole.tar_bytes, whole.diff_id)
    assert whole.shadowed
    assert whole.whiteouts
    assert whole.warnings


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_digests_of_a_blob_larger_than_several_hash_batches(compression: str) -> None:
    """Hashing is batched (8 MiB) on a worker thread: odd read sizes, several batches and
    a partial last batch must still give exactly hashlib's digests."""
    import gzip

    payload = b"".join(i.to_bytes(4, "big") * 8 for i in range(700_000))  # 22.4 MB
    tar = Layer([File("a", payload[:9_000_001]), File("b", payload[9_000_001:])]).tar()
    blob = gzip.compress(tar, compresslevel=1) if compression == "gzip" else tar
    source = io.BytesIO(blob)
    sizes = iter([70_001, 1, 3 << 20, 512] * 1000)
    idx = index_blob(lambda n: source.read(min(n, next(sizes))), "layer.tar")
    assert idx.digest == Digest("sha256", hashlib.sha256(blob).hexdigest())
    assert idx.diff_id == Digest("sha256", hashlib.sha256(tar).hexdigest())
    assert (idx.compressed_size, idx.uncompressed_size) == (len(blob), len(tar))


# --- hostile paths: the limits, and a cost linear in the components --------------------------


def _deep(depth: int, name: str = "d") -> str:
    return "/".join([name] * depth)


@pytest.mark.parametrize(
    ("path", "kept"),
    [
        pytest.param("a" * 4096, True, id="4096-bytes"),
        pytest.param("a" * 4097, False, id="4097-bytes"),
        pytest.param("é" * 2048, True, id="4096-bytes-of-utf8"),
        pytest.param("é" * 2048 + "a", False, id="4097-bytes-of-utf8"),
        pytest.param(_deep(MAX_PATH_DEPTH), True, id="256-components"),
        pytest.param(_deep(MAX_PATH_DEPTH + 1), False, id="257-components"),
        pytest.param("./" + _deep(MAX_PATH_DEPTH) + "/", True, id="256-after-normalising"),
    ],
)
def test_path_limits(path: str, kept: bool) -> None:
    idx = index(Layer([File("ok", b"1"), Raw(path, data=b"content")]))
    assert (path.strip("./") in idx.entries) is kept
    assert "ok" in idx.entries
    if kept:
        assert idx.warnings == []
    else:
        (warning,) = idx.warnings
        assert warning.startswith("layer.tar: entry ")
        assert "skipped: its path is longer than 4096 bytes or deeper than 256" in warning
        assert len(warning) < 300
    assert idx.tar_bytes == 1 + len(b"content")  # the skipped entry's bytes still count


def test_a_deep_whiteout_is_skipped_too() -> None:
    idx = index(Layer([Whiteout(_deep(MAX_PATH_DEPTH + 5) + "/x")]))
    assert idx.whiteouts == {}
    assert len(idx.warnings) == 1


def test_warnings_are_capped_per_layer() -> None:
    ops = [Raw(f"{i}/" + "n" * 5000, data=b"") for i in range(MAX_WARNINGS + 30)]
    idx = index(Layer(ops))
    assert len(idx.warnings) == MAX_WARNINGS + 1
    assert idx.warnings[-1] == "… and 30 more warnings like these"


def test_deep_paths_cost_their_directories_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every directory a path implies is one string in each structure (not one per copy
    made while walking up): 40 distinct paths at the limits, analysed and counted the way
    dive does, stay within a few times the bytes of their directories' names."""
    ops = [
        Raw(f"t{i:02d}/" + _deep(MAX_PATH_DEPTH - 2, "d" * 14) + "/f", data=b"x") for i in range(40)
    ]
    idx = index(Layer(ops))
    assert len(idx.entries) == 40
    names = sum(len(p[:i]) for p in idx.entries for i in range(len(p)) if p[i] == "/")
    image = Image(
        label="deep",
        tags=(),
        config_digest=Digest.sha256_of(b"c"),
        platform=None,
        layers=(LayerInfo(0, idx.diff_id or Digest.sha256_of(b""), idx.digest, "", 0, None),),
        history=(),
    )
    tracemalloc.start()
    try:
        analysis = analyse(image, [idx])
        dive = dive_numbers([idx])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert analysis.exact.visible_bytes == 40
    assert dive.size_bytes == idx.tar_bytes
    assert names > 15 << 20  # what one copy of every directory's path costs
    assert peak < 3 * names  # about one copy each for the analysis and dive's numbers
