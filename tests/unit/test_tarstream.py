"""The streaming tar reader against hand-made headers and against Python's tarfile."""

from __future__ import annotations

import io
import random
import tarfile
from collections.abc import Callable

import pytest
from imagebuilder import (
    END_OF_ARCHIVE,
    MTIME,
    base256,
    pax_records,
    tar_entry,
    tar_header,
)

from inspector.errors import CorruptStream, InspectorError
from inspector.tarstream import TarHeader, TarReader, looks_like_tar

Row = tuple[str, str, int, int, int, int, int, str, int, int, bytes]


def reader(data: bytes, label: str = "t.tar", max_entry_size: int = 1 << 44) -> TarReader:
    return TarReader(io.BytesIO(data).read, label, max_entry_size=max_entry_size)


def tarfile_members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return archive.getmembers()


def rows(data: bytes, read: Callable[[int], bytes] | None = None) -> list[Row]:
    """Every entry with its content, as a comparable tuple."""
    r = TarReader(read or io.BytesIO(data).read, "t.tar")
    out: list[Row] = []
    for h in r:
        body = b"".join(bytes(c) for c in r.chunks())
        out.append(_row(h, body))
    return out


def _row(h: TarHeader, body: bytes) -> Row:
    return (
        h.name, h.type, h.size, h.mode, h.uid, h.gid, h.mtime, h.linkname,
        h.devmajor, h.devminor, body,
    )  # fmt: skip


def headers(data: bytes) -> list[TarHeader]:
    return list(reader(data))


# --- ustar ---------------------------------------------------------------------------------


def test_ustar_prefix_field_is_joined_to_the_name() -> None:
    data = tar_entry("file.txt", b"abc", prefix="some/deep/dir") + END_OF_ARCHIVE
    (h,) = headers(data)
    assert h.name == "some/deep/dir/file.txt"
    assert h.size == 3


def test_gnu_magic_ignores_the_prefix_area() -> None:
    # GNU headers keep atime/ctime where ustar has the prefix; it must not become a path.
    data = tar_entry("file.txt", b"abc", prefix="00000000000", magic=b"ustar  \0")
    (h,) = headers(data + END_OF_ARCHIVE)
    assert h.name == "file.txt"


def test_plain_fields_are_decoded() -> None:
    data = tar_entry(
        "bin/tool", b"x" * 700, mode=0o4755, uid=1000, gid=2000, mtime=1234567890
    ) + tar_entry("dev/null", typeflag=b"3", devmajor=1, devminor=3, mode=0o666)
    r = reader(data + END_OF_ARCHIVE)
    found = []
    for h in r:
        found.append(_row(h, r.read_content()))
    assert found == [
        ("bin/tool", "0", 700, 0o4755, 1000, 2000, 1234567890, "", 0, 0, b"x" * 700),
        ("dev/null", "3", 0, 0o666, 0, 0, MTIME, "", 1, 3, b""),
    ]
    assert r.ended_cleanly


@pytest.mark.parametrize("flag", [b"\0", b"7"])
def test_old_and_contiguous_regular_types_are_regular(flag: bytes) -> None:
    (h,) = headers(tar_entry("f", b"12", typeflag=flag) + END_OF_ARCHIVE)
    assert h.type == "0"
    assert h.is_regular
    assert h.size == 2


def test_old_style_directory_by_trailing_slash() -> None:
    data = tar_entry("olddir/", typeflag=b"\0", magic=b"") + END_OF_ARCHIVE
    (info,) = tarfile_members(data)
    assert info.isdir()
    (h,) = headers(data)
    assert h.type == "5"


def test_links_have_no_content_even_with_a_size() -> None:
    # Some writers put the target's size on a hard link; it carries no data blocks.
    data = (
        tar_entry("a", b"hello")
        + tar_header("b", typeflag=b"1", linkname="a", size=5)
        + tar_entry("c", b"next")
        + END_OF_ARCHIVE
    )
    assert [(h.name, h.type, h.size, h.linkname) for h in headers(data)] == [
        ("a", "0", 5, ""),
        ("b", "1", 0, "a"),
        ("c", "0", 4, ""),
    ]


# --- PAX -------------------------------------------------------------------------------------


def test_pax_overrides_path_size_uid_gid_mtime_and_linkpath() -> None:
    long_path = "usr/" + "x" * 150 + "/file"
    records = pax_records(
        {
            "path": long_path,
            "size": "11",
            "uid": "4000000000",
            "gid": "3000000000",
            "mtime": "1700000123.75",
            "linkpath": "ignored-for-regular",
            "SCHILY.xattr.user.note": "hi",
        }
    )
    data = (
        tar_entry("PaxHeader/file", records, typeflag=b"x")
        + tar_header("short", size=0, uid=1, gid=2, mtime=3)
        + b"hello world".ljust(512, b"\0")
        + tar_entry("after", b"zz")
        + END_OF_ARCHIVE
    )
    r = reader(data)
    got = [(h, r.read_content()) for h in r]
    (first, body), (second, body2) = got
    assert first.name == long_path
    assert (first.size, first.uid, first.gid, first.mtime) == (
        11,
        4000000000,
        3000000000,
        1700000123,
    )
    assert body == b"hello world"
    assert first.xattrs == {"SCHILY.xattr.user.note": "hi"}
    # a local header applies to one entry only
    assert (second.name, second.size, second.uid, second.xattrs, body2) == (
        "after",
        2,
        0,
        None,
        b"zz",
    )


def test_pax_linkpath_for_symlink() -> None:
    target = "/opt/" + "t" * 200
    data = (
        tar_entry("PaxHeader", pax_records({"linkpath": target}), typeflag=b"x")
        + tar_header("lnk", typeflag=b"2", linkname="short")
        + END_OF_ARCHIVE
    )
    (h,) = headers(data)
    assert (h.type, h.linkname) == ("2", target)


def test_pax_global_header_applies_to_every_later_entry() -> None:
    data = (
        tar_entry("GlobalHead", pax_records({"uid": "42", "comment": "x"}), typeflag=b"g")
        + tar_entry("a", b"1")
        + tar_entry("PaxHeader", pax_records({"uid": "7"}), typeflag=b"x")
        + tar_entry("b", b"2")
        + tar_entry("c", b"3")
        + END_OF_ARCHIVE
    )
    assert [(h.name, h.uid) for h in headers(data)] == [("a", 42), ("b", 7), ("c", 42)]


def test_pax_record_with_multibyte_value_and_length_prefix() -> None:
    name = "données/" + "é" * 60 + ".txt"
    data = (
        tar_entry("PaxHeader", pax_records({"path": name}), typeflag=b"x")
        + tar_entry("ascii-fallback", b"q")
        + END_OF_ARCHIVE
    )
    (h,) = headers(data)
    assert h.name == name


@pytest.mark.parametrize(
    "body",
    [b"abc", b"30 path=too-short\n", b"5 p\n", b"xx path=a\n"],
    ids=["no-space", "length-past-end", "no-equals", "bad-length"],
)
def test_malformed_pax_records_are_corrupt(body: bytes) -> None:
    data = tar_entry("PaxHeader", body, typeflag=b"x") + tar_entry("f") + END_OF_ARCHIVE
    with pytest.raises(CorruptStream, match=r"^t\.tar: malformed PAX"):
        headers(data)


def test_invalid_pax_number_is_corrupt() -> None:
    data = (
        tar_entry("PaxHeader", pax_records({"uid": "lots"}), typeflag=b"x")
        + tar_entry("f")
        + END_OF_ARCHIVE
    )
    with pytest.raises(CorruptStream, match="invalid PAX uid"):
        headers(data)


# --- GNU -------------------------------------------------------------------------------------


def test_gnu_long_name_and_long_link() -> None:
    name = "a/" * 80 + "leaf"
    link = "/target/" + "b" * 130
    data = (
        tar_entry("././@LongLink", name.encode() + b"\0", typeflag=b"L", magic=b"ustar  \0")
        + tar_entry("././@LongLink", link.encode() + b"\0", typeflag=b"K", magic=b"ustar  \0")
        + tar_header("truncated-name", typeflag=b"2", linkname="truncated", magic=b"ustar  \0")
        + tar_entry("next", b"n", magic=b"ustar  \0")
        + END_OF_ARCHIVE
    )
    assert [(h.name, h.type, h.linkname) for h in headers(data)] == [
        (name, "2", link),
        ("next", "0", ""),
    ]


def test_pax_header_followed_by_gnu_long_name() -> None:
    name = "n" * 150
    data = (
        tar_entry("PaxHeader", pax_records({"size": "3"}), typeflag=b"x")
        + tar_entry("././@LongLink", name.encode() + b"\0", typeflag=b"L", magic=b"ustar  \0")
        + tar_header("short", size=0, magic=b"ustar  \0")
        + b"abc".ljust(512, b"\0")
        + END_OF_ARCHIVE
    )
    (info,) = tarfile_members(data)
    assert (info.name, info.size) == (name, 3)
    assert rows(data) == [(name, "0", 3, 0o644, 0, 0, MTIME, "", 0, 0, b"abc")]


def test_base256_size_uid_gid_and_negative_mtime() -> None:
    data = (
        tar_header(
            "big",
            size=base256(5, 12),
            uid=base256(2**40, 8),
            gid=base256(70_000_000, 8),
            mtime=base256(-1, 12),
            magic=b"ustar  \0",
        )
        + b"12345".ljust(512, b"\0")
        + END_OF_ARCHIVE
    )
    r = reader(data)
    (h,) = list(r)
    assert (h.size, h.uid, h.gid, h.mtime) == (5, 2**40, 70_000_000, -1)
    (info,) = tarfile_members(data)
    assert (info.size, info.uid, info.gid, info.mtime) == (h.size, h.uid, h.gid, h.mtime)


def test_metadata_only_entries_are_skipped() -> None:
    # GNU volume headers and multi-volume records are not files
    data = tar_entry("vol", typeflag=b"V") + tar_entry("f", b"x") + END_OF_ARCHIVE
    assert [h.name for h in headers(data)] == ["f"]


# --- damage ----------------------------------------------------------------------------------


def test_truncated_header() -> None:
    data = tar_entry("a", b"x") + tar_header("b")[:300]
    with pytest.raises(CorruptStream, match=r"^t\.tar: truncated tar header$"):
        headers(data)


@pytest.mark.parametrize("keep", [0, 1, 700, 1023])
def test_truncated_content(keep: int) -> None:
    data = (tar_header("a", size=2048) + b"y" * 2048)[: 512 + keep]
    with pytest.raises(CorruptStream, match=r"^t\.tar: truncated \(stream ended inside an entry\)"):
        headers(data)
    r = reader(data)
    next(iter(r))
    with pytest.raises(CorruptStream, match="truncated"):
        b"".join(bytes(c) for c in r.chunks())


def test_truncated_metadata_record() -> None:
    data = tar_header("././@LongLink", typeflag=b"L", size=300) + b"x" * 100
    with pytest.raises(CorruptStream, match="truncated"):
        headers(data)


@pytest.mark.parametrize("delta", [1, -1, 255])
def test_bad_checksum(delta: int) -> None:
    data = tar_entry("a", b"x") + tar_entry("b", checksum_delta=delta) + END_OF_ARCHIVE
    r = reader(data)
    it = iter(r)
    assert next(it).name == "a"
    with pytest.raises(CorruptStream, match=r"^t\.tar: invalid tar header \(bad checksum\)$"):
        next(it)


def test_signed_checksum_is_accepted() -> None:
    # Old Sun tar summed header bytes as signed chars; a byte >127 makes the sums differ.
    header = bytearray(tar_header("caf\xe9".encode("latin-1")))
    signed = sum(b - 256 if b > 127 else b for b in header[:148] + header[156:]) + 8 * 32
    header[148:156] = b"%06o\0 " % signed
    (h,) = headers(bytes(header) + END_OF_ARCHIVE)
    assert h.name == "caf\udce9"


def test_invalid_octal_number() -> None:
    data = tar_header("a", uid=b"12x4567\0") + END_OF_ARCHIVE
    with pytest.raises(CorruptStream, match=r"^t\.tar: entry 'a': invalid uid field b'12x4567'"):
        headers(data)


@pytest.mark.parametrize("size", [base256(1 << 60, 12), base256(-5, 12)], ids=["huge", "negative"])
def test_absurd_size(size: bytes) -> None:
    data = tar_header("a", size=size, magic=b"ustar  \0") + bytes(4096)
    with pytest.raises(CorruptStream, match=r"^t\.tar: entry 'a': absurd entry size"):
        headers(data)


def test_max_entry_size_is_configurable() -> None:
    data = tar_entry("a", b"z" * 2000) + END_OF_ARCHIVE
    assert [h.size for h in reader(data)] == [2000]
    with pytest.raises(CorruptStream, match="absurd entry size 2000"):
        list(reader(data, max_entry_size=1999))


def test_absurd_pax_size() -> None:
    data = (
        tar_entry("PaxHeader", pax_records({"size": str(1 << 50)}), typeflag=b"x")
        + tar_entry("a")
        + END_OF_ARCHIVE
    )
    with pytest.raises(CorruptStream, match="absurd entry size"):
        headers(data)


def test_missing_end_of_archive_marker_is_tolerated() -> None:
    data = tar_entry("a", b"1") + tar_entry("b", b"22")
    r = reader(data)
    assert [(h.name, h.size) for h in r] == [("a", 1), ("b", 2)]
    assert r.ended_cleanly is False
    r2 = reader(data + END_OF_ARCHIVE)
    assert [h.name for h in r2] == ["a", "b"]
    assert r2.ended_cleanly is True


def test_errors_are_inspector_errors_naming_the_stream() -> None:
    with pytest.raises(InspectorError) as info:
        list(TarReader(io.BytesIO(b"\x01" * 512).read, "layer 3 of img.tar"))
    assert str(info.value).startswith("layer 3 of img.tar: ")
    assert "\n" not in str(info.value)


# --- content access ----------------------------------------------------------------------------


def test_peek_read_content_and_drain() -> None:
    data = tar_entry("a", b"0123456789") + tar_entry("b", b"x" * 600) + END_OF_ARCHIVE
    r = reader(data + b"trailing")
    it = iter(r)
    assert next(it).name == "a"
    assert r.peek_content(4) == b"0123"
    assert r.read_content(3) == b"012"
    assert r.remaining == 7
    assert r.peek_content(100) == b"3456789"
    # the unread rest is skipped when the iteration moves on
    h = next(it)
    assert (h.name, r.remaining) == ("b", 600)
    assert r.read_content() == b"x" * 600
    assert r.read_content() == b""
    assert list(it) == []
    # iteration stops at the first zero block; the second one and the rest are drained
    assert r.drain() == 512 + len(b"trailing")


def test_drain_counts_everything_after_the_current_entry() -> None:
    data = tar_entry("a", b"x" * 100) + END_OF_ARCHIVE + bytes(9000)
    r = reader(data)
    next(iter(r))
    # the rest of the entry and its padding are skipped, everything after is counted
    assert r.drain() == len(END_OF_ARCHIVE) + 9000


def test_looks_like_tar() -> None:
    tar = tar_entry("a", b"x") + END_OF_ARCHIVE
    assert looks_like_tar(tar)
    assert looks_like_tar(END_OF_ARCHIVE)
    assert not looks_like_tar(bytes(512))  # one zero block alone is not enough
    assert not looks_like_tar(b'{"schemaVersion": 2}'.ljust(1024))
    assert not looks_like_tar(tar[:511])
    assert not looks_like_tar(tar_entry("a", checksum_delta=3))


# --- against tarfile -----------------------------------------------------------------------


def _tarfile_archive(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:

        def add(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **kw: object) -> None:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.size = len(data)
            info.mtime = MTIME
            for key, value in kw.items():
                setattr(info, key, value)
            tf.addfile(info, io.BytesIO(data) if data else None)

        long_dir = "etc/" + "d" * 120
        add("etc", tarfile.DIRTYPE, mode=0o755)
        add(long_dir, tarfile.DIRTYPE, mode=0o700)
        add(long_dir + "/file.txt", data=b"hello" * 300, mode=0o600, uid=1000, gid=1000)
        add("etc/empty", mode=0o644)
        add("etc/link", tarfile.SYMTYPE, linkname="../target")
        add("etc/hard", tarfile.LNKTYPE, linkname="etc/empty")
        add("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)
        add("dev/sda", tarfile.BLKTYPE, devmajor=8, devminor=0, mode=0o660)
        add("run/fifo", tarfile.FIFOTYPE, mode=0o600)
        add("ünïcödé.txt", data=b"x")
        add("block-exact", data=b"b" * 512)
        if fmt != tarfile.USTAR_FORMAT:
            add("etc/long-link", tarfile.SYMTYPE, linkname="/" + "t" * 150)
            add("etc/" + "h" * 120, tarfile.LNKTYPE, linkname=long_dir + "/file.txt")
            add("big-ids", data=b"y", uid=9_000_000_000, gid=3_000_000_000)
            add("future", data=b"z", mtime=99_999_999_999)
        if fmt == tarfile.PAX_FORMAT:
            add("fraction", data=b"f", mtime=1_700_000_000.5)
    return buf.getvalue()


def _tarfile_rows(data: bytes) -> list[Row]:
    out: list[Row] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        for info in tf:
            body = b""
            if info.isreg():
                stream = tf.extractfile(info)
                assert stream is not None
                body = stream.read()
            out.append(
                (
                    info.name,
                    info.type.decode(),
                    info.size if info.isreg() else 0,
                    info.mode,
                    info.uid,
                    info.gid,
                    int(info.mtime),
                    info.linkname,
                    info.devmajor,
                    info.devminor,
                    body,
                )
            )
    return out


FORMATS = [
    pytest.param(tarfile.USTAR_FORMAT, id="ustar"),
    pytest.param(tarfile.GNU_FORMAT, id="gnu"),
    pytest.param(tarfile.PAX_FORMAT, id="pax"),
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_entries_as_tarfile(fmt: int) -> None:
    data = _tarfile_archive(fmt)
    ours = rows(data)
    # tarfile drops the trailing slash of directory names; the indexer does the same later
    ours = [(r[0].rstrip("/") if r[1] == "5" else r[0], *r[1:]) for r in ours]
    theirs = _tarfile_rows(data)
    assert ours == theirs
    assert len(ours) >= 11


@pytest.mark.parametrize("fmt", FORMATS)
def test_tiny_reads_give_the_same_entries(fmt: int) -> None:
    data = _tarfile_archive(fmt)
    rng = random.Random(fmt)
    stream = io.BytesIO(data)

    def trickle(n: int) -> bytes:
        return stream.read(min(n, rng.randint(1, 700)))

    assert rows(data, trickle) == rows(data)


def test_pax_global_header_written_by_tarfile() -> None:
    buf = io.BytesIO()
    with tarfile.open(
        fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "built"}
    ) as tf:
        info = tarfile.TarInfo("a")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"ok"))
    assert rows(buf.getvalue()) == _tarfile_rows(buf.getvalue())


def test_seek_skips_large_content_with_the_same_result() -> None:
    big = bytes(range(256)) * 12_000  # > 1 MiB: skipped by seeking
    data = (
        tar_entry("skip-me", big)
        + tar_entry("small", b"s")
        + tar_entry("also-big", big[:1_100_000])
        + tar_entry("last", b"L")
        + END_OF_ARCHIVE
    )
    plain = [(h.name, h.size) for h in reader(data)]
    stream = io.BytesIO(data)
    seeks: list[int] = []

    def seek(n: int) -> None:
        seeks.append(n)
        stream.seek(n, 1)

    seeking = TarReader(stream.read, "t.tar", seek=seek)
    found = []
    for h in seeking:
        found.append((h.name, h.size, seeking.read_content(1)))
    assert [(n, s) for n, s, _ in found] == plain
    assert [c for _, _, c in found] == [b"\x00", b"s", b"\x00", b"L"]
    assert seeks  # the large entries were really sought over
    assert seeking.ended_cleanly


# --- hostile numbers and records -----------------------------------------------------------


def _pax_then_file(records: dict[str, str], name: str = "etc/file") -> bytes:
    return (
        tar_entry("PaxHeader", pax_records(records), typeflag=b"x")
        + tar_entry(name, b"data")
        + END_OF_ARCHIVE
    )


@pytest.mark.parametrize("key", ["mtime", "size", "uid", "gid"])
@pytest.mark.parametrize(
    "value",
    ["9" * 4000, "9" * 20, str(1 << 63), "1e999", "inf", "nan", "0x10", " 12", "12 ", "", "+"],
)
def test_pax_numbers_must_be_digits_within_64_bits(key: str, value: str) -> None:
    with pytest.raises(CorruptStream) as caught:
        headers(_pax_then_file({key: value}))
    message = str(caught.value)
    assert message.startswith("t.tar: entry 'etc/file': ")
    assert f"PAX {key}" in message
    assert len(message) < 200


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1700000123", 1700000123), ("1700000123.987654321", 1700000123), ("-5.5", -5),
     (str((1 << 63) - 1), (1 << 63) - 1), ("12.", 12)],
)  # fmt: skip
def test_pax_mtime_keeps_whole_seconds(value: str, seconds: int) -> None:
    (h,) = headers(_pax_then_file({"mtime": value}))
    assert h.mtime == seconds


@pytest.mark.parametrize("value", [1 << 80, -(1 << 80)])
def test_base256_numbers_must_fit_in_64_bits(value: int) -> None:
    # (only the 12-byte fields, size and mtime, can hold more than 64 bits)
    data = tar_header("big", magic=b"ustar  \0", mtime=base256(value, 12)) + END_OF_ARCHIVE
    with pytest.raises(CorruptStream, match=r"^t\.tar: entry 'big': mtime -?\d+ does not fit"):
        headers(data)


def test_non_octal_size_names_the_entry_and_the_stream() -> None:
    data = tar_header("etc/odd", size=b"12345678x00\0") + bytes(1024)
    with pytest.raises(CorruptStream) as caught:
        headers(data)
    assert str(caught.value) == (
        "t.tar: entry 'etc/odd': invalid size field b'12345678x00' in tar header"
    )


def test_error_names_the_pax_path_of_the_entry() -> None:
    data = _pax_then_file({"path": "long/" + "p" * 300, "uid": "x"}, name="short")
    with pytest.raises(CorruptStream, match=r"entry 'long/ppp.*…: invalid PAX uid 'x'"):
        headers(data)


@pytest.mark.parametrize("typeflag", [b"x", b"g", b"L", b"K"])
def test_metadata_record_over_a_mebibyte_is_refused_unread(typeflag: bytes) -> None:
    stream = io.BytesIO(tar_header("././@LongLink", typeflag=typeflag, size=(1 << 20) + 1))
    stream.seek(0, io.SEEK_END)
    stream.write(bytes(2 << 20))
    stream.seek(0)
    with pytest.raises(CorruptStream, match=r"metadata record of 1048577 bytes"):
        list(TarReader(stream.read, "t.tar", chunk=4096))
    assert stream.tell() < 16384  # refused before reading the record


def test_a_mebibyte_metadata_record_is_read() -> None:
    name = "d/" * 200_000 + "f"
    data = tar_entry("././@LongLink", name.encode(), typeflag=b"L") + tar_entry("x", b"1")
    (h,) = headers(data + END_OF_ARCHIVE)
    assert h.name == name


def test_pax_global_records_are_capped() -> None:
    records = {f"comment{i}": "c" * 1000 for i in range(70)}
    data = tar_entry("GlobalHead", pax_records(records), typeflag=b"g") + END_OF_ARCHIVE
    with pytest.raises(CorruptStream, match=r"PAX global records of more than 64 KiB"):
        headers(data)


def test_global_xattrs_are_shared_not_copied_per_entry() -> None:
    data = (
        tar_entry("GlobalHead", pax_records({"SCHILY.xattr.user.a": "1"}), typeflag=b"g")
        + tar_entry("a", b"1")
        + tar_entry("PaxHeader", pax_records({"SCHILY.xattr.user.b": "2"}), typeflag=b"x")
        + tar_entry("b", b"2")
        + tar_entry("c", b"3")
        + END_OF_ARCHIVE
    )
    a, b, c = headers(data)
    assert a.xattrs == c.xattrs == {"SCHILY.xattr.user.a": "1"}
    assert a.xattrs is c.xattrs
    assert b.xattrs == {"SCHILY.xattr.user.a": "1", "SCHILY.xattr.user.b": "2"}


def test_empty_pax_path_overrides_the_header_name() -> None:
    (h,) = headers(_pax_then_file({"path": ""}, name="named"))
    assert h.name == ""
