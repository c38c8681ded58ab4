"""What one tar entry means: entry types, change kinds and the file entry record."""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class EntryType(StrEnum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    CHARDEV = "chardev"
    BLOCKDEV = "blockdev"
    FIFO = "fifo"
    OTHER = "other"


TAR_TYPES: dict[str, EntryType] = {
    "0": EntryType.FILE,
    "1": EntryType.HARDLINK,
    "2": EntryType.SYMLINK,
    "3": EntryType.CHARDEV,
    "4": EntryType.BLOCKDEV,
    "5": EntryType.DIR,
    "6": EntryType.FIFO,
}

TYPE_FLAGS: dict[EntryType, int] = {
    EntryType.FILE: 48,
    EntryType.HARDLINK: 49,
    EntryType.SYMLINK: 50,
    EntryType.CHARDEV: 51,
    EntryType.BLOCKDEV: 52,
    EntryType.DIR: 53,
    EntryType.FIFO: 54,
    EntryType.OTHER: 48,
}


class ChangeKind(StrEnum):
    """How a layer changes a path relative to the layers below it."""

    ADDED = "added"
    MODIFIED = "modified"
    REMOVED = "removed"
    UNCHANGED = "unchanged"  # rewritten with identical content and metadata


class Removal(StrEnum):
    """How a stored file came to be hidden from the final file system."""

    DELETED = "deleted"  # a whiteout names the path
    PARENT_DELETED = "parent-deleted"  # a whiteout names an ancestor directory
    OPAQUE = "opaque"  # an ancestor directory was made opaque
    REPLACED = "replaced"  # a later entry (or a later duplicate) replaced the path or an ancestor


class FileEntry(NamedTuple):
    """One entry of a layer: a normalised path (no leading `/` or `./`) and its metadata.

    `size` is the stored content size (0 for everything but regular files); `digest` is a
    fast 64-bit content hash of a regular file (xxh3), used only to tell a real
    modification from a rewrite with identical bytes. A NamedTuple rather than a frozen
    dataclass: a layer can hold 100,000 of them and tuples are built several times faster.
    """

    path: str
    type: EntryType
    size: int
    mode: int
    uid: int
    gid: int
    mtime: int
    link: str = ""
    digest: int = 0

    def same_content(self, other: FileEntry) -> bool:
        return self.size == other.size and self.digest == other.digest

    def differences(self, lower: FileEntry) -> tuple[str, ...]:
        """What changed from `lower` to this entry: type, content, mode, owner, link."""
        found: list[str] = []
        if self.type != lower.type:
            found.append("type")
        elif self.type is EntryType.FILE and not self.same_content(lower):
            found.append("content")
        if self.mode != lower.mode:
            found.append("mode")
        if (self.uid, self.gid) != (lower.uid, lower.gid):
            found.append("owner")
        if self.link != lower.link and self.type in (EntryType.SYMLINK, EntryType.HARDLINK):
            found.append("link")
        return tuple(found)
