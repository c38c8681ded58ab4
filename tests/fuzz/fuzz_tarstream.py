"""Fuzz the tar reader and the layer indexer on raw bytes (plain, gzip or zstd).

Reads every entry with `TarReader` (touching its content in small pieces), then indexes
the same bytes as a layer blob with `index_blob` (compression sniffing, the fast header
path, PAX and GNU records, path limits, digests). Only InspectorError may escape.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Iterable

import atheris

with atheris.instrument_imports():
    from inspector.errors import InspectorError
    from inspector.indexer import index_blob
    from inspector.tarstream import TarReader

import fuzzing
from imagebuilder import (
    END_OF_ARCHIVE,
    Dir,
    File,
    Hardlink,
    Layer,
    Op,
    Opaque,
    Raw,
    Symlink,
    Whiteout,
    compress,
    pax_records,
    tar_entry,
)


def test_one_input(data: bytes) -> None:
    reader = TarReader(io.BytesIO(data).read, "fuzz", chunk=4096)
    try:
        for header in reader:
            if header.size:
                reader.read_content(7)
            assert header.size >= 0
    except InspectorError:
        pass
    with contextlib.suppress(InspectorError):
        index_blob(io.BytesIO(data).read, "fuzz")


def seeds() -> Iterable[bytes]:
    ops: list[Op] = [
        Dir("etc"),
        File("etc/a", b"hello"),
        Symlink("etc/b", "a"),
        Hardlink("etc/c", "etc/a"),
        Whiteout("old"),
        Opaque("var"),
        Raw("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
        File("l" * 150 + "/long", b"x"),
    ]
    for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        layer = Layer(ops[:-1] if fmt == tarfile.USTAR_FORMAT else ops, format=fmt).tar()
        yield layer
        yield compress(layer, "gzip")
        yield compress(layer, "zstd")
    records = {"mtime": "1.5", "uid": "7", "gid": "8", "size": "1", "path": "p/q"}
    for kind in (b"x", b"g"):
        head = tar_entry("PaxHeader", pax_records(records), typeflag=kind)
        yield head + tar_entry("f", b"x") + END_OF_ARCHIVE
    yield tar_entry("././@LongLink", b"n" * 300, typeflag=b"L") + tar_entry("f") + END_OF_ARCHIVE


if __name__ == "__main__":
    fuzzing.run(test_one_input, seeds)
