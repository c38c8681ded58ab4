"""File contents: read one path as a layer stored it (`reading`), or extract a file or
directory to disk (`extraction`).

Both re-read the one layer blob that stores a file (`LoadedImage.reopen`), never the
whole image; docs/contents.md describes what a person sees.
"""

from __future__ import annotations

from inspector.contents.extraction import Extracted, default_destination, extract
from inspector.contents.reading import (
    VIEW_LIMIT,
    Copy,
    FileContents,
    copy_of,
    locate,
    read_file,
    stream_file,
    visible_tree,
)

__all__ = [
    "VIEW_LIMIT",
    "Copy",
    "Extracted",
    "FileContents",
    "copy_of",
    "default_destination",
    "extract",
    "locate",
    "read_file",
    "stream_file",
    "visible_tree",
]
