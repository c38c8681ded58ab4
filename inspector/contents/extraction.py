"""Extracting files: a file or directory, as the file system at a layer shows it, to disk.

Extraction writes under one destination and never outside it: paths are the indexer's
normalised ones (no `..`, no leading `/`), no existing symlink is followed (directories
are created one component at a time and files opened with `O_NOFOLLOW`), symlinks are
created as links after every file is written, device nodes and FIFOs are skipped with a
note. Permission bits and modification times are kept (setuid/setgid and ownership are
not); an existing destination is refused unless `overwrite`. Which version of each path,
and its bytes, come from reading.py (`visible_tree`, `copy_of`, `read_copies`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import stat
from dataclasses import dataclass, field

from inspector.changes import EntryType, FileEntry
from inspector.contents.reading import (
    FILE_TYPES,
    Copy,
    copy_of,
    locate,
    opener,
    read_copies,
    visible_tree,
)
from inspector.errors import ContentsError, DestinationExists
from inspector.indexer import normalize
from inspector.source import LoadedImage
from inspector.tarstream import TarReader

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


@dataclass(slots=True)
class Extracted:
    """What an extraction wrote, and what it left out (one note per path)."""

    destination: str
    files: int = 0
    directories: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    bytes: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """`3 files, 1 directory, 1 symlink (4,096 bytes) to ./etc, 1 skipped`."""
        counts = (
            (self.files, "file", "files"),
            (self.directories, "directory", "directories"),
            (self.symlinks, "symlink", "symlinks"),
            (self.hardlinks, "hard link", "hard links"),
        )
        parts = [f"{n} {one if n == 1 else many}" for n, one, many in counts if n or one == "file"]
        skipped = f", {len(self.notes)} skipped" if self.notes else ""
        return f"{', '.join(parts)} ({self.bytes:,} bytes) to {self.destination}{skipped}"


def _relative(path: str, root: str) -> str:
    return path[len(root) + 1 :] if root else path


def _safe(relative: str) -> bool:
    return all(part not in ("", ".", "..") for part in relative.split("/")) or relative == ""


class _Writer:
    """Creates things under `top` without ever following a symlink on the way."""

    def __init__(self, top: str, overwrite: bool, result: Extracted) -> None:
        self.top = top
        self.overwrite = overwrite
        self.result = result

    def target(self, relative: str) -> str:
        return os.path.join(self.top, *relative.split("/")) if relative else self.top

    def directory(self, relative: str) -> str:
        """Create `relative` (and the directories above it) as real directories."""
        current = self.top
        parts = relative.split("/") if relative else []
        for part in ["", *parts]:
            current = os.path.join(current, part) if part else current
            try:
                os.mkdir(current, 0o755)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(current).st_mode):
                    raise ContentsError(f"{current} exists and is not a directory") from None
            except FileNotFoundError:
                raise ContentsError(f"cannot create {current}: its parent is missing") from None
        return current

    def open_file(self, relative: str) -> int:
        if relative:
            self.directory(relative.rpartition("/")[0])
        path = self.target(relative)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_BINARY", 0)
        try:
            return os.open(path, flags, 0o600)
        except FileExistsError:
            if not self.overwrite:
                raise DestinationExists(f"{path} already exists") from None
            if stat.S_ISDIR(os.lstat(path).st_mode):
                raise ContentsError(f"{path} is a directory") from None
            os.unlink(path)
            return os.open(path, flags, 0o600)

    def finish(self, path: str, entry: FileEntry) -> None:
        os.chmod(path, entry.mode & 0o777)
        os.utime(path, (entry.mtime, entry.mtime))


def extract(
    loaded: LoadedImage,
    path: str,
    layer: int,
    destination: str,
    *,
    overwrite: bool = False,
) -> Extracted:
    """Write `path` as the file system at `layer` shows it to `destination`.

    A file becomes the file `destination`; a directory becomes the directory
    `destination` holding everything under it (from whichever layer stores each file).
    """
    label = loaded.image.label
    layers = loaded.layers
    root = normalize(path)[0]
    found = locate(layers, root, layer) if root else None
    if found is not None and found[1].type is not EntryType.DIR:
        plan = {root: found}
    else:  # a directory, the root, or a directory no entry names (implied by its files)
        plan = visible_tree(layers, root, layer)
        if root and not plan:
            raise ContentsError(f"{label}: /{root} is not in the file system at layer {layer}")
    top = os.path.abspath(destination)
    if os.path.lexists(top) and not overwrite:
        raise DestinationExists(f"{destination} already exists")
    parent = os.path.dirname(top)
    if not os.path.isdir(parent):
        raise ContentsError(f"{destination}: directory {parent} does not exist")
    result = Extracted(destination)
    writer = _Writer(top, overwrite, result)
    is_tree = root not in plan or plan[root][1].type is EntryType.DIR
    if is_tree:
        writer.directory("")
    directories: list[tuple[str, FileEntry]] = []
    symlinks: list[tuple[str, FileEntry]] = []
    wanted: dict[Copy, list[tuple[str, FileEntry]]] = {}
    for item in sorted(plan):
        where, entry = plan[item]
        relative = _relative(item, root)
        if not _safe(relative):
            result.notes.append(f"/{item}: unsafe name, skipped")
            continue
        kind = entry.type
        if kind is EntryType.DIR:
            directories.append((writer.directory(relative), entry))
            result.directories += bool(relative)
        elif kind in FILE_TYPES:
            copy = copy_of(layers, where, entry)
            if copy is None:
                result.notes.append(f"/{item}: hard link to /{entry.link}, which is missing")
                continue
            wanted.setdefault(copy, []).append((relative, entry))
        elif kind is EntryType.SYMLINK:
            symlinks.append((relative, entry))
        else:
            result.notes.append(f"/{item}: {kind} skipped (only files, directories and links)")
    if wanted:
        _write_files(loaded, writer, wanted)
    for relative, entry in symlinks:
        _symlink(writer, relative, entry)
    for target, entry in reversed(directories):
        os.chmod(target, entry.mode & 0o1777)
        os.utime(target, (entry.mtime, entry.mtime))
    return result


def _write_files(
    loaded: LoadedImage, writer: _Writer, wanted: dict[Copy, list[tuple[str, FileEntry]]]
) -> None:
    """Read each layer once, writing every file it holds for the plan (hard links linked)."""
    reopen = opener(loaded)
    result = writer.result

    def write(reader: TarReader, copy: Copy) -> None:
        targets = wanted[copy]
        first, entry = targets[0]
        handle = writer.open_file(first)
        try:
            with os.fdopen(handle, "wb", closefd=True) as out:
                for chunk in reader.chunks():
                    out.write(chunk)
                    result.bytes += len(chunk)
        finally:
            writer.finish(writer.target(first), entry)
        result.files += 1
        for relative, other in targets[1:]:
            _link(writer, first, relative, other)

    for layer in sorted({copy[0] for copy in wanted}):
        copies = {copy for copy in wanted if copy[0] == layer}
        read_copies(reopen, layer, copies, write, loaded.image.label)


def _link(writer: _Writer, first: str, relative: str, entry: FileEntry) -> None:
    """A second name for the bytes already written at `first` (a hard link)."""
    writer.directory(relative.rpartition("/")[0])
    path = writer.target(relative)
    if os.path.lexists(path):
        if not writer.overwrite or os.path.isdir(path):
            raise DestinationExists(f"{path} already exists")
        os.unlink(path)
    try:
        os.link(writer.target(first), path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP):
            raise
        with open(writer.target(first), "rb") as src, open(path, "xb") as dst:
            dst.write(src.read())
        writer.finish(path, entry)
        writer.result.files += 1
        return
    writer.result.hardlinks += 1


def _symlink(writer: _Writer, relative: str, entry: FileEntry) -> None:
    if relative:
        writer.directory(relative.rpartition("/")[0])
    path = writer.target(relative)
    if os.path.lexists(path):
        if not writer.overwrite or (os.path.isdir(path) and not os.path.islink(path)):
            writer.result.notes.append(f"/{entry.path}: symlink skipped, {path} exists")
            return
        os.unlink(path)
    os.symlink(entry.link, path)
    with contextlib.suppress(NotImplementedError, OSError):  # platforms without lutimes
        os.utime(path, (entry.mtime, entry.mtime), follow_symlinks=False)
    writer.result.symlinks += 1


def default_destination(path: str) -> str:
    """`./<basename>` for a path (`./rootfs` for the root)."""
    name = posixpath.basename(normalize(path)[0]) or "rootfs"
    return os.path.join(".", name)
