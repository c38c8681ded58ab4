"""What several detectors read, worked out once per inspection (pure: no I/O).

`Facts` derives from an `Inspection`: each layer's Dockerfile instruction as the history
tells it, each layer's stored size, the stored copies the final file system never shows
(keyed by path and layer), and the regular files it does show.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from inspector.analysis import WastedFile
from inspector.changes import EntryType, FileEntry
from inspector.findings.model import LayerRef
from inspector.inspection import Inspection
from inspector.model import Image
from inspector.secrets import SecretHit

KEYWORDS = frozenset(
    "ADD ARG CMD COPY ENTRYPOINT ENV EXPOSE HEALTHCHECK LABEL MAINTAINER ONBUILD RUN SHELL "  # noqa: SIM905
    "STOPSIGNAL USER VOLUME WORKDIR".split()
)
_SHELL = "/bin/sh -c "
_NOP = "/bin/sh -c #(nop) "
_BUILD_ARGS = re.compile(r"^\|\d+ (?:\S+=\S* )*")  # BuildKit's `RUN |2 A=1 B=2 cmd`
# the classic builder's `COPY file:<sha256> in /dest`: the source's name is not kept
_CLASSIC_SOURCE = re.compile(r"^((?:--\S+ )*)(file|dir|multi):[0-9a-f]{64} in (.*)$")


@dataclass(frozen=True, slots=True)
class Instruction:
    """A layer's instruction: its keyword (RUN, COPY, ADD…; empty when the history does not
    say) and its text as a Dockerfile would write it."""

    keyword: str
    text: str

    @property
    def body(self) -> str:
        """The text after the keyword (the shell command of a RUN)."""
        return self.text[len(self.keyword) :].strip() if self.keyword else self.text


def instruction(created_by: str) -> Instruction:
    """The Dockerfile instruction behind a history entry's `created_by`.

    The classic builder writes `/bin/sh -c #(nop)  COPY dir:… in /app` (shown as
    `COPY <dir> /app`: it keeps a hash of the source, not its name) and `/bin/sh -c
    apt-get …` for a RUN; BuildKit writes `COPY . . # buildkit` and `RUN /bin/sh -c
    apt-get … # buildkit`.
    """
    text = created_by.strip().removesuffix("# buildkit").strip()
    if text.startswith(_NOP):
        text = text[len(_NOP) :].strip()
    elif text.startswith(_SHELL):
        text = f"RUN {text[len(_SHELL) :].strip()}"
    word = text.split(" ", 1)[0].upper()
    if word == "RUN":
        body = _BUILD_ARGS.sub("", text[3:].strip())
        text = f"RUN {body.removeprefix(_SHELL).strip()}"
    if word not in KEYWORDS:
        return Instruction("", text)
    rest = text[len(word) :].strip()
    if word in ("COPY", "ADD"):
        classic = _CLASSIC_SOURCE.match(rest)
        if classic is not None:
            options, kind, destination = classic.groups()
            source = {"file": "<file>", "dir": "<dir>", "multi": "<files>"}[kind]
            rest = f"{options}{source} {destination.strip()}"
    return Instruction(word, f"{word} {rest}".strip())


class Facts:
    """Derived views of one inspection, each computed on first use."""

    def __init__(self, inspection: Inspection, config: Image | None = None) -> None:
        self.inspection = inspection
        self.image = inspection.image
        self.layers = inspection.layers
        self.config = config or inspection.image  # with its secrets, for the secret detectors

    @cached_property
    def instructions(self) -> tuple[Instruction, ...]:
        return tuple(instruction(info.created_by) for info in self.image.layers)

    def layer_ref(self, position: int) -> LayerRef:
        return LayerRef(position, self.image.layers[position].created_by)

    def shown(self, position: int, width: int = 60) -> str:
        """`layer N (INSTRUCTION…)` for an evidence sentence."""
        text = self.instructions[position].text or "no history"
        if len(text) > width:
            text = f"{text[: width - 1]}…"
        return f"layer {position} ({text})"

    @cached_property
    def stored_sizes(self) -> tuple[int, ...]:
        """Each layer's stored (pushed, pulled) size: the blob's, else its tar's."""
        return tuple(
            info.size
            if info.size is not None
            else (index.compressed_size or index.uncompressed_size)
            for info, index in zip(self.image.layers, self.layers, strict=True)
        )

    @cached_property
    def wasted(self) -> dict[tuple[str, int], WastedFile]:
        """Copies the final file system never shows, by (path, layer that stored it)."""
        return {(w.path, w.stored_in): w for w in self.inspection.analysis.exact.wasted_files}

    @cached_property
    def visible(self) -> dict[str, tuple[int, FileEntry]]:
        """Every regular file of the final file system: path -> (layer, entry)."""
        wasted = self.wasted
        shown: dict[str, tuple[int, FileEntry]] = {}
        for position, index in enumerate(self.layers):
            for path, entry in index.entries.items():
                if entry.type is EntryType.FILE and (path, position) not in wasted:
                    shown[path] = (position, entry)
        return shown

    def stored_copies(self) -> Iterator[tuple[int, FileEntry]]:
        """Every regular file every layer stores, shown or not: (layer, entry)."""
        for position, index in enumerate(self.layers):
            for entry in index.entries.values():
                if entry.type is EntryType.FILE:
                    yield position, entry

    def entry(self, position: int, path: str) -> FileEntry | None:
        return self.layers[position].entries.get(path)

    def secrets_by_path(self, *, visible: bool) -> dict[str, list[tuple[int, SecretHit]]]:
        """The secrets the layers' files hold, by path: in copies the final file system
        shows (`visible`), or in copies it hides."""
        found: dict[str, list[tuple[int, SecretHit]]] = {}
        for position, index in enumerate(self.layers):
            for hit in index.secrets:
                shown = (hit.path, position) not in self.wasted
                if shown == visible:
                    found.setdefault(hit.path, []).append((position, hit))
        return found
