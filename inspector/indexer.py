"""Stream one layer blob into a LayerIndex: every entry, whiteout and opaque marker.

The blob is read once: raw bytes are hashed to the blob digest, decompressed bytes to the
diff_id, and each regular file's content to a fast xxh3 digest. Nothing is kept but
metadata.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import xxhash

from inspector import native
from inspector.blobs import (
    HASH_BATCH,
    INFLATE_CHUNK,
    HashingReader,
    Inflater,
    PeekReader,
    Read,
    compression_of,
)
from inspector.changes import TAR_TYPES, EntryType, FileEntry
from inspector.digest import Digest
from inspector.errors import CorruptStream, add_warning, excerpt
from inspector.gcpause import gc_paused
from inspector.headerwalk import EMPTY_DIGEST, ESTARGZ_NAMES
from inspector.secrets import LayerScanner, SecretHit
from inspector.tarstream import TarReader

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_PATH_BYTES = 4096
"""The longest path indexed (Linux's PATH_MAX); a longer one is skipped with a warning."""
MAX_PATH_DEPTH = 256
"""The most components a path indexed may have; a deeper one is skipped with a warning."""

Progress = Callable[[int], None]


@dataclass(slots=True)
class LayerIndex:
    """Everything one layer's tar says, keyed by normalised path.

    `entries` holds the last entry for each path (a tar may repeat a path; the last one
    wins); `shadowed` keeps the earlier copies, whose bytes are stored but never seen.
    `whiteouts` maps each path this layer deletes from the layers below to its marker
    entry; `opaque` lists directories whose lower contents this layer hides.
    `tar_bytes` is the sum of every entry's header size (dive's layer size). `sequence`
    is every entry in tar order, duplicates included, kept only for a layer that repeats
    a path (rare), so the analysis can replay it exactly.
    """

    entries: dict[str, FileEntry] = field(default_factory=dict)
    whiteouts: dict[str, FileEntry] = field(default_factory=dict)
    opaque: list[str] = field(default_factory=list)
    shadowed: list[FileEntry] = field(default_factory=list)
    sequence: list[FileEntry] | None = None
    warnings: list[str] = field(default_factory=list)
    tar_bytes: int = 0
    digest: Digest | None = None
    diff_id: Digest | None = None
    compressed_size: int = 0
    uncompressed_size: int = 0
    compression: str = "none"
    secrets: list[SecretHit] = field(default_factory=list)


def normalize(name: str) -> tuple[str, bool]:
    """A tar name as a clean relative path, and whether it had to be clamped at the root.

    `./a/b/`, `/a/b` and `a//b` all become `a/b`; `..` components are resolved the way a
    runtime applies them (never above the root).
    """
    if name.startswith("./"):
        name = name[2:]
    if name in (".", ""):
        return "", False
    simple = (
        name
        and not name.startswith("/")
        and "//" not in name
        and "/./" not in name
        and ".." not in name
        and not name.endswith("/.")
    )
    if simple:
        return name.rstrip("/"), False
    clean = posixpath.normpath("/" + name).lstrip("/")
    if not clean or clean == ".":
        return "", False  # the root itself (`/`, `./`): nothing to warn about
    unsafe = name.startswith("/") or ".." in name.split("/")
    return clean, unsafe


def index_tar(reader: TarReader, label: str) -> LayerIndex:
    """Index an uncompressed layer tar stream.

    The common entries (ustar regular files, directories and symlinks, whose header and
    content are both in the reader's buffer) are indexed by the header walk
    (`inspector.headerwalk`, compiled when `inspector.native` has it) straight from the
    buffer, without a `TarHeader` or a copy of the content; anything else (PAX and GNU
    records, global headers, an entry across a buffer boundary, the end of the archive)
    goes through `TarReader.next_header`.
    """
    index = LayerIndex()
    entries = index.entries
    scanner = LayerScanner()
    walk = native.walk
    max_size = reader.max_entry_size
    tar_bytes = 0

    def store(entry: FileEntry) -> None:
        _store(index, entry)

    def odd(
        name: str, flag: str, size: int, mode: int, uid: int, gid: int, mtime: int, link: str,
        content: memoryview | None,
    ) -> bool:  # fmt: skip
        _record(
            index, label, name, flag, size, mode, uid, gid, mtime, link, 0, 0,
            None if content is None else partial(_view_digest, content), scanner,
        )  # fmt: skip
        return index.sequence is not None

    while True:
        if reader.remaining or reader.padding:
            reader.skip_content()
        if not reader.has_global_records:
            buf, pos = reader.buffer_state()
            pos, taken = walk(
                buf, pos, max_size, entries, index.sequence is not None, store, odd,
                scanner.wanted, scanner.check,
            )  # fmt: skip
            tar_bytes += taken
            reader.consume_to(pos)
        header = reader.next_header()
        if header is None:
            break
        tar_bytes += header.size
        _record(
            index, label, header.name, header.type, header.size, header.mode, header.uid,
            header.gid, header.mtime, header.linkname, header.devmajor, header.devminor,
            partial(_content_digest, reader), scanner,
        )  # fmt: skip
    index.tar_bytes = tar_bytes
    index.secrets = scanner.hits
    return index


Content = Callable[[int], tuple[int, bytes | memoryview]]
"""A regular file's content digest, and its first `keep` bytes (for the content checks)."""


def _view_digest(view: memoryview, keep: int) -> tuple[int, memoryview]:
    return xxhash.xxh3_128_intdigest(view), view[:keep]


def _content_digest(reader: TarReader, keep: int) -> tuple[int, bytes | memoryview]:
    view = reader.buffered_content()
    if view is not None:
        return xxhash.xxh3_128_intdigest(view), view[:keep]
    hasher = xxhash.xxh3_128()
    update = hasher.update
    head = bytearray()
    for chunk in reader.chunks():
        update(chunk)
        if len(head) < keep:
            head += chunk[: keep - len(head)]
    return hasher.intdigest(), bytes(head)


def _store(index: LayerIndex, entry: FileEntry) -> None:
    """Record an entry when the layer repeats a path (or already did)."""
    entries = index.entries
    sequence = index.sequence
    if sequence is not None:
        sequence.append(entry)
    previous = entries.get(entry.path)
    if previous is not None:
        index.shadowed.append(previous)
        if sequence is None:  # the first repeat: from now on keep the tar order
            index.sequence = [*entries.values(), entry]
    entries[entry.path] = entry


def _record(
    index: LayerIndex,
    label: str,
    name: str,
    tartype: str,
    size: int,
    mode: int,
    uid: int,
    gid: int,
    mtime: int,
    linkname: str,
    devmajor: int,
    devminor: int,
    content: Content | None,
    scanner: LayerScanner | None = None,
) -> None:
    """Index one entry of any kind; `content(keep)` digests a regular file's content and
    gives its first `keep` bytes to the content checks (`scanner`)."""
    warnings = index.warnings
    path, unsafe = normalize(name)
    if _too_long(path):
        add_warning(
            warnings,
            f"{label}: entry {excerpt(path, 80)} skipped: its path is longer than "
            f"{MAX_PATH_BYTES} bytes or deeper than {MAX_PATH_DEPTH} components",
        )
        return
    if unsafe:
        add_warning(warnings, f"{label}: entry {excerpt(name)} escapes the root; read as /{path}")
    if not path:
        return
    slash = path.rfind("/")
    base = path[slash + 1 :]
    if base.startswith(WHITEOUT):
        parent = path[:slash] if slash >= 0 else ""
        _whiteout(index, tartype, mode, uid, gid, path, parent, base)
        return
    kind = TAR_TYPES.get(tartype, EntryType.OTHER)
    if kind is EntryType.OTHER:
        add_warning(warnings, f"{label}: entry {path!r} has unsupported tar type {tartype!r}")
    if slash < 0 and base in ESTARGZ_NAMES:
        return
    link = linkname
    digest = 0
    if kind is EntryType.FILE:
        digest = EMPTY_DIGEST
        if size and content is not None:
            keep = scanner.wanted(path, size) if scanner is not None else 0
            digest, head = content(keep)
            if keep and scanner is not None:
                scanner.check(path, head)
    elif kind is EntryType.HARDLINK:
        link, unsafe_link = normalize(link)
        if unsafe_link:
            add_warning(warnings, f"{label}: hardlink {path!r} names {excerpt(linkname)}")
    elif kind is EntryType.CHARDEV and devmajor == 0 and devminor == 0:
        add_warning(
            warnings,
            f"{label}: {path!r} is a 0/0 character device (an overlayfs whiteout that "
            "was not converted); kept as a device",
        )
    _store(
        index,
        FileEntry(path, kind, size if kind is EntryType.FILE else 0, mode, uid, gid, mtime, link,
                  digest),
    )  # fmt: skip


def _too_long(path: str) -> bool:
    """Is a (normalised) path beyond MAX_PATH_BYTES or MAX_PATH_DEPTH?"""
    length = len(path)
    if length <= MAX_PATH_BYTES // 4 and length <= 2 * MAX_PATH_DEPTH:
        return False  # (a character is at most 4 bytes, a component at least 2 characters)
    if path.count("/") >= MAX_PATH_DEPTH:
        return True
    return len(path.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES


def _whiteout(
    index: LayerIndex,
    tartype: str,
    mode: int,
    uid: int,
    gid: int,
    path: str,
    parent: str,
    base: str,
) -> None:
    marker = FileEntry(path, TAR_TYPES.get(tartype, EntryType.OTHER), 0, mode, uid, gid, 0)
    if base == OPAQUE:
        index.opaque.append(parent)
        return
    if base.startswith(WHITEOUT + WHITEOUT):
        return  # AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): not part of the file system
    target = base[len(WHITEOUT) :]
    if not target:
        add_warning(index.warnings, f"whiteout {path!r} names nothing; ignored")
        return
    index.whiteouts[f"{parent}/{target}" if parent else target] = marker


@gc_paused  # (a layer is hundreds of thousands of tuples and strings, and no cycles)
def index_blob(
    raw: Read,
    label: str,
    *,
    progress: Progress | None = None,
    inflated: Progress | None = None,
) -> LayerIndex:
    """Index a layer blob (plain, gzip or zstd tar), computing its digest and diff_id.

    `progress` is told the stored bytes read, `inflated` the bytes decompressed (for a
    compressed layer, every chunk the tar reader takes: also a point to stop at).
    """
    peek = PeekReader(raw)
    compression = compression_of(peek.peek(4))
    if compression != "none":
        return _index_compressed(peek.read, label, compression, progress, inflated)
    raw_hash = HashingReader(peek.read)
    # reads of a whole hash batch: the digest's thread hashes each one as it is, uncopied
    reader = TarReader(_reporting(raw_hash, progress), label, chunk=HASH_BATCH)
    try:
        index = index_tar(reader, label)
        reader.drain()
    except RecursionError:  # pragma: no cover - defensive
        raise CorruptStream(f"{label}: malformed layer") from None
    _check_end(reader, raw_hash.count, label)
    index.digest = index.diff_id = Digest("sha256", raw_hash.hexdigest())
    index.compressed_size = index.uncompressed_size = raw_hash.count
    index.compression = compression
    return index


def _reporting(raw_hash: HashingReader, progress: Progress | None) -> Read:
    """`raw_hash.read`, telling `progress` how many raw bytes each read returned."""
    return _telling(raw_hash.read, progress)


def _telling(read: Read, progress: Progress | None) -> Read:
    """`read`, telling `progress` how many bytes each call returned."""
    if progress is None:
        return read

    def told(n: int) -> bytes:
        data = read(n)
        progress(len(data))
        return data

    return told


def _index_compressed(
    raw: Read, label: str, compression: str, progress: Progress | None, inflated: Progress | None
) -> LayerIndex:
    """Index a gzip or zstd layer, decompressing and hashing on worker threads."""
    raw_hash = HashingReader(raw)
    with Inflater(_reporting(raw_hash, progress), label, compression) as stream:
        reader = TarReader(_telling(stream.read, inflated), label, chunk=INFLATE_CHUNK)
        try:
            index = index_tar(reader, label)
            reader.drain()
        except RecursionError:  # pragma: no cover - defensive
            raise CorruptStream(f"{label}: malformed layer") from None
        diff_hash = stream.finish()
    _check_end(reader, stream.count, label)
    index.digest = Digest("sha256", raw_hash.hexdigest())
    index.diff_id = Digest("sha256", diff_hash.hexdigest())
    index.compressed_size = raw_hash.count
    index.uncompressed_size = stream.count
    index.compression = compression
    return index


def _check_end(reader: TarReader, count: int, label: str) -> None:
    if count == 0:
        raise CorruptStream(f"{label}: layer is empty (not a tar stream)")
    if not reader.ended_cleanly and count % 512:
        raise CorruptStream(f"{label}: truncated layer (no end-of-archive marker)")
