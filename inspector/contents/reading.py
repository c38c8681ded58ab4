"""Reading file contents: one path as a layer stored it (the viewer, `extract --stdout`).

The load kept only metadata, so contents are read again from the one layer blob that
stores them (`LoadedImage.reopen`: a seek in a local archive, an OCI blob file, one GET
from a registry, never the whole image). The blob is decompressed and its tar headers
walked; every other entry's content is skipped (seeked over in a plain local tar) and
the walk stops as soon as the wanted entries have been read.

Which bytes: the file system *at layer L* is what `tree.py` shows — each path's newest
version at or below L, after whiteouts and opaque directories. A layer tar may repeat a
path; as in the indexer the last copy wins. A hard link's bytes are those of its target:
the target's copy earlier in the same layer tar, else the target as the layers below
show it.

Which version and which copy (`locate`, `copy_of`, `visible_tree`) and the one pass over a
layer tar (`read_copies`) are here; extraction.py writes what they find to disk.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from inspector.blobs import decompressed
from inspector.changes import EntryType, FileEntry
from inspector.errors import ContentsError
from inspector.indexer import LayerIndex, normalize
from inspector.source import LayerOpener, LoadedImage
from inspector.tarstream import TarReader

VIEW_LIMIT = 4 << 20  # bytes a viewer reads at most
_LINK_DEPTH = 16
FILE_TYPES = (EntryType.FILE, EntryType.HARDLINK)
_DIR = EntryType.DIR

# Where a regular file's bytes are: (layer, path, n) = the n-th tar entry named `path`.
Copy = tuple[int, str, int]


@dataclass(frozen=True, slots=True)
class FileContents:
    """What a viewer shows: the entry at `layer` and up to `limit` bytes of its content."""

    path: str
    layer: int
    entry: FileEntry
    data: bytes
    size: int  # the whole content's size
    copy: Copy | None = None  # where the bytes came from (a hard link's target)

    @property
    def truncated(self) -> bool:
        return len(self.data) < self.size


# --- which version, which copy -------------------------------------------------------------


def _parents(path: str) -> list[str]:
    """The directories above `path`, nearest first, ending with the root `""`."""
    found: list[str] = []
    while path:
        path = path.rpartition("/")[0]
        found.append(path)
    return found


def locate(layers: Sequence[LayerIndex], path: str, layer: int) -> tuple[int, FileEntry] | None:
    """The layer that stores `path` as the file system at `layer` shows it, and its entry."""
    parents = _parents(path)
    for i in range(min(layer, len(layers) - 1), -1, -1):
        index = layers[i]
        entry = index.entries.get(path)
        if entry is not None:
            return i, entry
        if path in index.whiteouts or any(p in index.whiteouts for p in parents):
            return None
        if index.opaque and any(p in index.opaque for p in parents):
            return None
        for parent in parents[:-1]:
            above = index.entries.get(parent)
            if above is not None and above.type is not EntryType.DIR:
                return None  # a file or link replaced a directory above the path
    return None


def _position(index: LayerIndex, entry: FileEntry) -> int | None:
    """Where `entry` is in the layer's tar order (None: the layer repeats no path)."""
    sequence = index.sequence
    if sequence is None:
        return None
    for i in range(len(sequence) - 1, -1, -1):
        if sequence[i] is entry:
            return i
    for i in range(len(sequence) - 1, -1, -1):
        if sequence[i].path == entry.path:
            return i
    return None


def copy_of(
    layers: Sequence[LayerIndex], layer: int, entry: FileEntry, position: int | None = None
) -> Copy | None:
    """Where the bytes of a regular file or hard link entry of `layer` are stored."""
    if position is None:
        position = _position(layers[layer], entry)
    for _ in range(_LINK_DEPTH):
        index = layers[layer]
        sequence = index.sequence
        if entry.type is EntryType.FILE:
            if sequence is None or position is None:
                return layer, entry.path, 1
            count = sum(1 for e in sequence[: position + 1] if e.path == entry.path)
            return layer, entry.path, count
        if entry.type is not EntryType.HARDLINK:
            return None
        target = entry.link
        if sequence is not None and position is not None:
            earlier = [i for i in range(position) if sequence[i].path == target]
            if earlier:
                position = earlier[-1]
                entry = sequence[position]
                continue
        else:
            same = index.entries.get(target)
            if same is not None and same is not entry:
                entry = same
                continue
        below = locate(layers, target, layer - 1)
        if below is None:
            return None
        layer, entry = below
        position = _position(layers[layer], entry)
    raise ContentsError(f"/{entry.path}: hard links nested too deep")


def visible_tree(
    layers: Sequence[LayerIndex], root: str, layer: int
) -> dict[str, tuple[int, FileEntry]]:
    """Every path under directory `root` (itself included) at `layer`, with its layer.

    The layers are applied base first as `tree.py` applies them: a layer's opaque
    directories and whiteouts first, then its entries; a directory replaced by anything
    else loses what was under it.
    """
    found: dict[str, tuple[int, FileEntry]] = {}
    prefix = f"{root}/" if root else ""
    above = set(_parents(root)) | ({root} if root else set())

    def inside(path: str) -> bool:
        return not root or path == root or path.startswith(prefix)

    for i in range(min(layer, len(layers) - 1) + 1):
        index = layers[i]
        hidden = {p for p in index.opaque if inside(p) or p in above}
        gone = {p for p in index.whiteouts if inside(p) or p in above}
        if gone & above or (hidden & above) - {root}:
            found.clear()  # the whole subtree (or a directory above it) went away
        elif hidden or gone:
            for path in list(found):
                if path in gone or any(p in gone or p in hidden for p in _parents(path)):
                    del found[path]
        replaced: set[str] = set()
        for path, entry in index.entries.items():
            if not inside(path):
                if path in above and path != root and entry.type is not EntryType.DIR:
                    found.clear()
                continue
            lower = found.get(path)
            if lower is not None and lower[1].type is _DIR and entry.type is not _DIR:
                replaced.add(path)
            found[path] = (i, entry)
        if replaced:
            for path in list(found):
                if any(p in replaced for p in _parents(path)) and found[path][0] != i:
                    del found[path]
    return found


# --- reading ---------------------------------------------------------------------------------


@contextmanager
def layer_tar(reopen: LayerOpener, layer: int, label: str) -> Iterator[TarReader]:
    """Layer `layer`'s uncompressed tar, seeking over contents where the blob can seek."""
    with reopen(layer) as blob:
        read, compression = decompressed(blob.read, label)
        seek: Callable[[int], object] | None = None
        seekable = getattr(blob, "seekable", None)
        if compression == "none" and seekable is not None and seekable():
            seek_to = blob.seek  # type: ignore[attr-defined]

            def seek(n: int) -> object:
                return seek_to(n, os.SEEK_CUR)

        yield TarReader(read, label, seek=seek)


Visit = Callable[[TarReader, Copy], None]


def read_copies(
    reopen: LayerOpener, layer: int, wanted: set[Copy], visit: Visit, label: str
) -> None:
    """One pass over layer `layer`: `visit(reader, copy)` at each wanted copy's content.

    Stops at the last wanted copy; a copy not found means the blob is not the one indexed.
    """
    names = {path for _, path, _ in wanted}
    left = set(wanted)
    seen: dict[str, int] = {}
    with layer_tar(reopen, layer, f"{label}: layer {layer}") as reader:
        for header in reader:
            path = normalize(header.name)[0]
            if path not in names:
                continue
            seen[path] = count = seen.get(path, 0) + 1
            copy = (layer, path, count)
            if copy in left:
                left.discard(copy)
                visit(reader, copy)
                if not left:
                    return
    missing = ", ".join(sorted(f"/{path}" for _, path, _ in left))
    raise ContentsError(f"{label}: layer {layer} no longer holds {missing} (changed on disk?)")


def opener(loaded: LoadedImage) -> LayerOpener:
    if loaded.reopen is None:
        raise ContentsError(f"{loaded.image.label}: cannot read files: {loaded.reopen_note}")
    return loaded.reopen


def read_file(
    loaded: LoadedImage, path: str, layer: int, *, limit: int = VIEW_LIMIT
) -> FileContents:
    """The first `limit` bytes of `path` as the file system at `layer` shows it."""
    label = loaded.image.label
    path = normalize(path)[0]
    if not path:
        raise ContentsError(f"{label}: / is the image's root directory")
    found = locate(loaded.layers, path, layer)
    if found is None:
        raise ContentsError(f"{label}: /{path} is not in the file system at layer {layer}")
    where, entry = found
    if entry.type is EntryType.DIR:
        raise ContentsError(f"{label}: /{path} is a directory")
    if entry.type not in FILE_TYPES:
        return FileContents(path, where, entry, b"", 0)
    copy = _copy(loaded, where, entry)
    chunks: list[bytes] = []
    sizes: list[int] = []

    def take(reader: TarReader, _: Copy) -> None:
        sizes.append(reader.remaining)
        left = min(limit, reader.remaining)
        while left > 0:
            data = reader.read_content(left)
            chunks.append(data)
            left -= len(data)

    read_copies(opener(loaded), copy[0], {copy}, take, label)
    size = sizes[0] if sizes else 0
    return FileContents(path, where, entry, b"".join(chunks), size, copy)


def _copy(loaded: LoadedImage, layer: int, entry: FileEntry) -> Copy:
    copy = copy_of(loaded.layers, layer, entry)
    if copy is None:
        raise ContentsError(
            f"{loaded.image.label}: /{entry.path} is a hard link to /{entry.link}, "
            "which is not in the image"
        )
    return copy


def stream_file(
    loaded: LoadedImage, path: str, layer: int, write: Callable[[bytes], object]
) -> int:
    """Pass the whole content of file `path` at `layer` to `write`; the bytes written."""
    label = loaded.image.label
    path = normalize(path)[0]
    if not path:
        raise ContentsError(
            f"{label}: / is the image's root directory; a stream takes one regular file "
            "(a directory is extracted to a local directory)"
        )
    found = locate(loaded.layers, path, layer)
    if found is None:
        raise ContentsError(f"{label}: /{path} is not in the file system at layer {layer}")
    where, entry = found
    if entry.type not in FILE_TYPES:
        raise ContentsError(
            f"{label}: /{path} is a {entry.type}, not a regular file; a stream takes one "
            "regular file (a directory is extracted to a local directory)"
        )
    copy = _copy(loaded, where, entry)
    total = 0

    def copy_out(reader: TarReader, _: Copy) -> None:
        nonlocal total
        for chunk in reader.chunks():
            write(bytes(chunk))
            total += len(chunk)

    read_copies(opener(loaded), copy[0], {copy}, copy_out, label)
    return total
