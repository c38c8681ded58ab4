"""The header walk: index the plain tar entries already in the reader's buffer.

This is the indexer's inner loop, and the hottest loop of a cold run. It reads ustar
headers of regular files, directories, symlinks and hard links straight from the buffer,
for as long as each header and its content are there and nothing about the entry is
unusual, and stops at the first entry it does not handle: the tar reader's full parser
(`TarReader.next_header`) takes that one, with its PAX and GNU records, numbers in
base-256, a header across a buffer boundary, or the end of the archive.

Two implementations share this contract: `walk` below, and the compiled one in
`inspector/_headerwalk.pyx`, which `inspector.native` picks when it is built. The
compiled walk may stop earlier than this one (on any field it does not read in C), never
later, and both index each entry they take the same way; tests/unit/test_native.py
checks that on generated tar streams.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import cast
from zlib import adler32

import xxhash

from inspector.changes import EntryType, FileEntry
from inspector.secrets import CANDIDATE_INFIX, CANDIDATE_SUFFIXES

BLOCK = 512
_ADLER_MOD = 65521
HEADER = struct.Struct("100s8s8s8s12s12s8sc100s6s82x155s")
KINDS: dict[bytes, EntryType] = {
    b"0": EntryType.FILE,
    b"1": EntryType.HARDLINK,
    b"2": EntryType.SYMLINK,
    b"5": EntryType.DIR,
}
FLAGS = {kind: flag.decode() for flag, kind in KINDS.items()}
ESTARGZ_NAMES = frozenset({"stargz.index.json", ".prefetch.landmark", ".no.prefetch.landmark"})
EMPTY_DIGEST = xxhash.xxh3_128_intdigest(b"")

new_entry = cast(Callable[[type[FileEntry], tuple[object, ...]], FileEntry], tuple.__new__)

Wanted = Callable[[str, int], int]
"""How many leading bytes of a regular file (path, size) the content checks want; asked
only of a file that has content and a path `secrets.LayerScanner.wanted` can say yes to
(it ends with one of `CANDIDATE_SUFFIXES` or holds `CANDIDATE_INFIX`): a test both walks
make without a call back into Python."""
Check = Callable[[str, memoryview], None]
"""The content checks, given a file's path and leading bytes."""
Store = Callable[[FileEntry], None]
"""Record an entry whose path the layer already holds (or a layer that repeats paths)."""
Odd = Callable[[str, str, int, int, int, int, int, str, "memoryview | None"], bool]
"""Index an entry whose name needs the full rules (normalising, whiteouts, hard links):
name, tar type flag, size, mode, uid, gid, mtime, link name, content (regular files).
True when the layer now keeps its entries in tar order (it has repeated a path)."""


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def walk(
    buf: bytes,
    pos: int,
    max_size: int,
    entries: dict[str, FileEntry],
    ordered: bool,
    store: Store,
    odd: Odd,
    wanted: Wanted,
    check: Check,
) -> tuple[int, int]:
    """Index the entries of `buf` from `pos`; the position of the first entry not taken,
    and the content bytes of those taken (the sum of their header sizes).

    `entries` receives each new path; `store` an entry whose path is already in
    `entries`, and every entry once the layer keeps tar order (`ordered`: it has
    repeated a path); `odd` every entry whose name is not plain.
    """
    unpack = HEADER.unpack_from
    kinds = KINDS
    file_kind = EntryType.FILE
    hardlink = EntryType.HARDLINK
    estargz = ESTARGZ_NAMES
    xxh_once = xxhash.xxh3_128_intdigest
    suffixes = CANDIDATE_SUFFIXES
    infix = CANDIDATE_INFIX
    limit = len(buf)
    last = limit - BLOCK
    view = memoryview(buf)
    tar_bytes = 0
    while pos <= last:
        (raw_name, raw_mode, raw_uid, raw_gid, raw_size, raw_mtime, raw_sum, raw_type,
         raw_link, magic, raw_prefix) = unpack(buf, pos)  # fmt: skip
        kind = kinds.get(raw_type)
        if kind is None:
            break
        try:
            expected = int(raw_sum.rstrip(b"\0 ") or b"-1", 8)
            size = int(raw_size.rstrip(b"\0 ") or b"0", 8)
            mode = int(raw_mode.rstrip(b"\0 ") or b"0", 8)
            uid = int(raw_uid.rstrip(b"\0 ") or b"0", 8)
            gid = int(raw_gid.rstrip(b"\0 ") or b"0", 8)
            mtime = int(raw_mtime.rstrip(b"\0 ") or b"0", 8)
        except ValueError:
            break
        if (
            (adler32(view[pos : pos + BLOCK]) & 0xFFFF) - 1 - sum(raw_sum) + 256
            != expected % _ADLER_MOD
            or not 0 <= expected <= 130560
            or not 0 <= size <= max_size
        ):
            break
        start = pos + BLOCK
        if kind is file_kind:
            stop = start + size
            after = stop + (-size) % BLOCK
            if after > limit:
                break
        else:
            size = 0
            after = start
        name = raw_name.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        if raw_prefix[0] and magic == b"ustar\x00":
            name = f"{_text(raw_prefix)}/{name}"
        link = _text(raw_link) if raw_link[0] else ""
        mode &= 0o7777
        tar_bytes += size
        pos = after
        if (
            kind is not hardlink
            and name
            and ".wh." not in name
            and not name.startswith(("/", "./"))
            and "//" not in name
            and "/./" not in name
            and ".." not in name
            and not name.endswith("/.")
        ):
            path = name.rstrip("/")
            if path not in estargz:
                digest = 0
                if kind is file_kind:
                    digest = xxh_once(view[start:stop]) if size else EMPTY_DIGEST
                    if (
                        size
                        and (path.endswith(suffixes) or infix in path)
                        and (keep := wanted(path, size))
                    ):
                        check(path, view[start : start + keep])
                entry = new_entry(
                    FileEntry, (path, kind, size, mode, uid, gid, mtime, link, digest)
                )
                if ordered or path in entries:
                    store(entry)
                    ordered = True
                else:
                    entries[path] = entry
                continue
        content = view[start:stop] if kind is file_kind else None
        ordered = odd(name, FLAGS[kind], size, mode, uid, gid, mtime, link, content)
    return pos, tar_bytes
