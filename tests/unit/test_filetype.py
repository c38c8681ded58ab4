"""File types from magic bytes, as the contents viewer names them."""

from __future__ import annotations

import gzip
import io
import zipfile

import pytest
import zstandard

from inspector.filetype import describe, is_text

ELF_HEADER = b"\x7fELF\x02\x01\x01" + bytes(9) + b"\x03\x00\xb7\x00"  # 64-bit LE, DYN, AArch64


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "a")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (ELF_HEADER, "ELF 64-bit shared object AArch64"),
        (b"\x7fELF\x01\x02\x01" + bytes(9) + b"\x00\x02\x00\x03", "ELF 32-bit executable x86"),
        (gzip.compress(b"x", mtime=0), "gzip compressed data"),
        (zstandard.ZstdCompressor().compress(b"x"), "zstd compressed data"),
        (_zip(), "zip archive (also jar, wheel, apk)"),
        (b"\x89PNG\r\n\x1a\n" + bytes(8), "PNG image"),
        (b"#!/bin/sh\nexec x\n", "script (/bin/sh)"),
        (b"hello\n", "text"),
        (bytes(range(256)), "data"),
        (b"", "empty"),
    ],
)
def test_describe(data: bytes, expected: str) -> None:
    assert describe(data) == expected


def test_text_cut_inside_a_character_is_still_text() -> None:
    sample = ("é" * 5000).encode()[:8191]  # the 8 KiB sample ends inside a character
    assert is_text(sample)
    assert not is_text(b"abc\x00def")
    assert not is_text(b"\xff\xfe\xfd plain")
