"""Messages the loader posts to the app (dataclasses; carried from the worker thread)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from inspector.inspection import Inspection
from inspector.model import Image


@dataclass
class ImageKnown(Message):
    """The manifest and config are read: the layer list can be drawn."""

    image: Image


@dataclass
class LayerStarted(Message):
    """A layer blob starts streaming (`count` blobs so far, this one included)."""

    name: str
    total: int | None
    count: int


@dataclass
class LoadProgress(Message):
    """More bytes of the current layer blob were read (throttled; replaces older ones)."""

    name: str
    done: int
    total: int | None

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LoadProgress)


@dataclass
class LayersApplied(Message):
    """The file tree now covers layers 0 .. count-1; `stored` is each one's blob size."""

    count: int
    stored: tuple[int | None, ...]


@dataclass
class LoadFinished(Message):
    """Every layer is indexed and the image analysed."""

    inspection: Inspection


@dataclass
class LoadFailed(Message):
    """The image could not be read; `message` is the line the CLI prints."""

    title: str
    message: str
