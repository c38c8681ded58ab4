"""Errors the inspector reports to a person.

Every error carries one line of text that names the input and the problem; the CLI prints it
on stderr and exits with the error's exit code (2: the image could not be read or the
arguments are wrong).

    InspectorError
    ├── UsageError            bad flags, a bad rules file, a bad transport, a report
    │                         destination that cannot be written (a directory, …)
    ├── OutputError           writing a report file failed (disk full, …)
    ├── SourceError           the image cannot be found or opened
    │   ├── SourceNotFound
    │   ├── EngineUnavailable
    │   └── PlatformNotFound / ImageNotFound
    ├── ManifestError         manifest, index or config JSON is missing or malformed
    ├── LayerFormatError      a layer blob cannot be read
    │   ├── CorruptStream     truncated or corrupt tar/gzip/zstd
    │   └── DigestMismatch    a blob's digest or a layer's diff_id does not match
    └── ContentsError         a file cannot be shown or extracted (no such path, the
        │                     source cannot re-read a layer)
        └── DestinationExists an extraction would overwrite what is there
"""

from __future__ import annotations


class InspectorError(Exception):
    """Root of the errors shown to a person as one line."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(InspectorError):
    """The command line or a rules file is wrong."""


class OutputError(InspectorError):
    """A report file could not be written; an existing file is left as it was."""


class SourceError(InspectorError):
    """The image cannot be found or opened."""


class SourceNotFound(SourceError):
    """The path, image name or reference does not exist."""


class EngineUnavailable(SourceError):
    """The Docker or Podman engine cannot be reached."""


class ImageNotFound(SourceError):
    """The source holds images, but not the one asked for (or it is ambiguous)."""


class PlatformNotFound(SourceError):
    """An index holds no manifest for the requested platform."""


class ManifestError(InspectorError):
    """Image metadata (manifest, index, config) is missing or malformed."""


class LayerFormatError(InspectorError):
    """A layer blob cannot be read as a (compressed) tar stream."""


class CorruptStream(LayerFormatError):
    """A tar, gzip or zstd stream is truncated or corrupt."""


class DigestMismatch(LayerFormatError):
    """Content does not hash to the digest that names it."""


class ContentsError(InspectorError):
    """A path cannot be read from a layer or extracted to disk."""


class DestinationExists(ContentsError):
    """An extraction's destination exists and overwriting was not asked for."""


class RegistryError(SourceError):
    """A registry cannot be reached, or answered with an error (SourceError's registry branch)."""


class AuthenticationError(RegistryError):
    """A registry refused the credentials, or wants credentials none were found for."""


MAX_WARNINGS = 20
"""The most warnings one list (a layer's, an analysis') keeps; later ones are counted."""
_MORE = "… and {} more warnings like these"


def add_warning(warnings: list[str], text: str) -> None:
    """Append `text`, unless the list holds MAX_WARNINGS already: then the last line only
    counts the warnings left out (a hostile layer can ask for one per entry)."""
    if len(warnings) < MAX_WARNINGS:
        warnings.append(text)
    elif len(warnings) == MAX_WARNINGS:
        warnings.append(_MORE.format(1))
    else:
        count = int(warnings[-1].removeprefix("… and ").split(" ", 1)[0])
        warnings[-1] = _MORE.format(count + 1)


def excerpt(value: object, limit: int = 120) -> str:
    """`repr(value)` cut to about `limit` characters: how an error names a value an image
    supplied (a name, a field), which may be megabytes long. (Escaping for the terminal
    happens when the line is printed, see `inspector.display`.)"""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
