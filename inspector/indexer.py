"""Stream one layer blob into a LayerIndex: every entry, whiteout and opaque marker.

The blob is read once: raw bytes are hashed to the blob digest, decompressed bytes to the
diff_id, and each regular file's content to a fast xxh3 digest. Nothing is kept but
metadata.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field

import xxhash

from inspector.blobs import HashingReader, Read, decompressed
from inspector.changes import TAR_TYPES, EntryType, FileEntry
from inspector.digest import Digest
from inspector.errors import CorruptStream
from inspector.tarstream import TarReader

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
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
    """Index an uncompressed layer tar stream."""
    index = LayerIndex()
    entries = index.entries
    warnings = index.warnings
    xxh = xxhash.xxh3_64
    xxh_once = xxhash.xxh3_64_intdigest
    tar_bytes = 0
    sequence: list[FileEntry] | None = None
    for header in reader:
        tar_bytes += header.size
        path, unsafe = normalize(header.name)
        if unsafe:
            warnings.append(f"{label}: entry {header.name!r} escapes the root; read as /{path}")
        if not path:
            continue
        slash = path.rfind("/")
        base = path[slash + 1 :]
        if base.startswith(WHITEOUT):
            parent = path[:slash] if slash >= 0 else ""
            _whiteout(index, header.type, header.mode, header.uid, header.gid, path, parent, base)
            continue
        kind = TAR_TYPES.get(header.type, EntryType.OTHER)
        if kind is EntryType.OTHER:
            warnings.append(f"{label}: entry {path!r} has unsupported tar type {header.type!r}")
        if slash < 0 and base in ESTARGZ_NAMES:
            continue
        link = header.linkname
        digest = 0
        if kind is EntryType.FILE:
            if header.size:
                view = reader.buffered_content()
                if view is not None:
                    digest = xxh_once(view)
                else:
                    hasher = xxh()
                    update = hasher.update
                    for chunk in reader.chunks():
                        update(chunk)
                    digest = hasher.intdigest()
            else:
                digest = EMPTY_DIGEST
        elif kind is EntryType.HARDLINK:
            link, unsafe_link = normalize(link)
            if unsafe_link:
                warnings.append(f"{label}: hardlink {path!r} names {header.linkname!r}")
        elif kind is EntryType.CHARDEV and header.devmajor == 0 and header.devminor == 0:
            warnings.append(
                f"{label}: {path!r} is a 0/0 character device (an overlayfs whiteout that "
                "was not converted); kept as a device"
            )
        entry = FileEntry(
            path, kind, header.size if kind is EntryType.FILE else 0, header.mode,
            header.uid, header.gid, header.mtime, link, digest,
        )  # fmt: skip
        if sequence is not None:
            sequence.append(entry)
        previous = entries.get(path)
        if previous is not None:
            index.shadowed.append(previous)
            if sequence is None:  # the first repeat: from now on keep the tar order
                sequence = [*entries.values(), entry]
        entries[path] = entry
    index.tar_bytes = tar_bytes
    index.sequence = sequence
    return index


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
        index.warnings.append(f"whiteout {path!r} names nothing; ignored")
        return
    index.whiteouts[f"{parent}/{target}" if parent else target] = marker


def index_blob(
    raw: Read,
    label: str,
    *,
    progress: Progress | None = None,
) -> LayerIndex:
    """Index a layer blob (plain, gzip or zstd tar), computing its digest and diff_id."""
    raw_hash = HashingReader(raw)
    raw_read: Read = raw_hash.read
    if progress is not None:

        def raw_read(n: int) -> bytes:
            data = raw_hash.read(n)
            progress(len(data))
            return data

    inner, compression = decompressed(raw_read, label)
    tar_hash = HashingReader(inner, None if compression == "none" else "sha256")
    reader = TarReader(tar_hash.read, label)
    try:
        index = index_tar(reader, label)
        reader.drain()
        while raw_read(1 << 20):
            pass
    except RecursionError:  # pragma: no cover - defensive
        raise CorruptStream(f"{label}: malformed layer") from None
    if tar_hash.count == 0:
        raise CorruptStream(f"{label}: layer is empty (not a tar stream)")
    if not reader.ended_cleanly and tar_hash.count % 512:
        raise CorruptStream(f"{label}: truncated layer (no end-of-archive marker)")
    index.digest = Digest("sha256", raw_hash.hexdigest())
    index.diff_id = (
        index.digest if compression == "none" else Digest("sha256", tar_hash.hexdigest())
    )
    index.compressed_size = raw_hash.count
    index.uncompressed_size = tar_hash.count
    index.compression = compression
    return index
