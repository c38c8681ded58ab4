"""Stream one layer blob into a LayerIndex: every entry, whiteout and opaque marker.

The blob is read once: raw bytes are hashed to the blob digest, decompressed bytes to the
diff_id, and each regular file's content to a fast xxh3 digest. Nothing is kept but
metadata.
"""

from __future__ import annotations

import posixpath
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import cast
from zlib import adler32

import xxhash

from inspector.blobs import INFLATE_CHUNK, HashingReader, Inflater, PeekReader, Read, compression_of
from inspector.changes import TAR_TYPES, EntryType, FileEntry
from inspector.digest import Digest
from inspector.errors import CorruptStream, add_warning, excerpt
from inspector.secrets import SecretHit
from inspector.tarstream import _ADLER_MOD, BLOCK, TarReader, _text

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_PATH_BYTES = 4096
"""The longest path indexed (Linux's PATH_MAX); a longer one is skipped with a warning."""
MAX_PATH_DEPTH = 256
"""The most components a path indexed may have; a deeper one is skipped with a warning."""

ESTARGZ_NAMES = frozenset({"stargz.index.json", ".prefetch.landmark", ".no.prefetch.landmark"})
EMPTY_DIGEST = xxhash.xxh3_64_intdigest(b"")

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

    The common entries (ustar regular files, directories and symlinks with a plain name,
    whose header and content are both in the reader's buffer) are parsed right here from
    the buffer, without a `TarHeader` or a copy of the content; anything else (PAX and
    GNU records, global headers, an entry across a buffer boundary, a whiteout, an odd
    name, the end of the archive) goes through `TarReader.next_header`.
    """
    index = LayerIndex()
    entries = index.entries
    xxh_once = xxhash.xxh3_64_intdigest
    unpack = _FAST_HEADER.unpack_from
    fast_kinds = _FAST_KINDS
    file_kind = EntryType.FILE
    hardlink = EntryType.HARDLINK
    estargz = ESTARGZ_NAMES
    max_size = reader.max_entry_size
    new_entry = _new_entry  # FileEntry without its Python-level __new__
    tar_bytes = 0
    while True:
        if reader.remaining or reader.padding:
            reader.skip_content()
        buf, pos = reader.buffer_state()
        if not reader.has_global_records:
            limit = len(buf)
            last = limit - BLOCK
            view = memoryview(buf)
            while pos <= last:
                (raw_name, raw_mode, raw_uid, raw_gid, raw_size, raw_mtime, raw_sum, raw_type,
                 raw_link, magic, raw_prefix) = unpack(buf, pos)  # fmt: skip
                kind = fast_kinds.get(raw_type)
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
                        entry = new_entry(
                            FileEntry, (path, kind, size, mode, uid, gid, mtime, link, digest)
                        )
                        if index.sequence is None and path not in entries:
                            entries[path] = entry
                        else:
                            _store(index, entry)
                        continue
                content = view[start:stop] if kind is file_kind else None
                _record(
                    index, label, name, _KIND_FLAGS[kind], size, mode, uid, gid, mtime, link,
                    0, 0, None if content is None else partial(xxh_once, content),
                )  # fmt: skip
            reader.consume_to(pos)
        header = reader.next_header()
        if header is None:
            break
        tar_bytes += header.size
        _record(
            index, label, header.name, header.type, header.size, header.mode, header.uid,
            header.gid, header.mtime, header.linkname, header.devmajor, header.devminor,
            lambda: _content_digest(reader),
        )  # fmt: skip
    index.tar_bytes = tar_bytes
    return index


_new_entry = cast(Callable[[type[FileEntry], tuple[object, ...]], FileEntry], tuple.__new__)
_FAST_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s6s82x155s")
_FAST_KINDS: dict[bytes, EntryType] = {
    b"0": EntryType.FILE,
    b"1": EntryType.HARDLINK,
    b"2": EntryType.SYMLINK,
    b"5": EntryType.DIR,
}
_KIND_FLAGS = {kind: flag.decode() for flag, kind in _FAST_KINDS.items()}


def _content_digest(reader: TarReader) -> int:
    view = reader.buffered_content()
    if view is not None:
        return xxhash.xxh3_64_intdigest(view)
    hasher = xxhash.xxh3_64()
    update = hasher.update
    for chunk in reader.chunks():
        update(chunk)
    return hasher.intdigest()


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
    content: Callable[[], int] | None,
) -> None:
    """Index one entry of any kind; `content()` digests a regular file's content."""
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
        digest = content() if size and content is not None else EMPTY_DIGEST
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
    reader = TarReader(_reporting(raw_hash, progress), label)
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
