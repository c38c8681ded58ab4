"""What several detectors read, worked out once per inspection (pure: no I/O).

`Facts` derives from an `Inspection`: each layer's Dockerfile instruction as the history
tells it, each layer's stored size, each layer's regular files, the stored copies the
final file system never shows (keyed by path and layer) and those a later layer stored
again unchanged, and, for the paths a detector's first test picks, the regular files the
final file system shows. The per-file views are built with C-level passes (`compress`,
`map` over str methods): a layer can hold a million files, and each detector then looks
at the few paths it wants; no view holds every path of the image at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from itertools import compress, repeat
from operator import attrgetter, is_, itemgetter

from inspector.analysis import WastedFile
from inspector.changes import EntryType, FileEntry, Removal
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
# fields of a WastedFile (a NamedTuple), read a column at a time at C speed
_PATH = itemgetter(WastedFile._fields.index("path"))
_STORED_IN = itemgetter(WastedFile._fields.index("stored_in"))


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
        wasted = self.inspection.analysis.exact.wasted_files
        return dict(zip(self.wasted_keys, wasted, strict=True))

    @cached_property
    def wasted_keys(self) -> list[tuple[str, int]]:
        """(path, layer that stored it) of each of the analysis' `wasted_files`, in order."""
        wasted = self.inspection.analysis.exact.wasted_files
        return list(zip(map(_PATH, wasted), map(_STORED_IN, wasted), strict=True))

    def rewritten(self) -> list[WastedFile]:
        """The wasted files that are `rewrites`, in the analysis' order."""
        rewrites = self.rewrites
        if not rewrites:
            return []
        wasted = self.inspection.analysis.exact.wasted_files
        return list(compress(wasted, map(rewrites.__contains__, self.wasted_keys)))

    @cached_property
    def files(self) -> tuple[list[str], ...]:
        """Each layer's regular files, by path (in the layer's order), shown or not."""
        kind = attrgetter("type")
        return tuple(
            list(compress(entries, map(is_, map(kind, entries.values()), repeat(EntryType.FILE))))
            for entries in self.entries
        )

    def visible_where(self, pick: Callable[[list[str]], Iterable[str]]) -> dict[str, int]:
        """Regular files of the final file system: path -> the layer whose copy it shows
        (its entry: `entry(layer, path)`), in the order a walk up the layers meets them,
        for the paths `pick` takes from each layer's `files` (a C-level first test, such
        as `filter` with a `startswith`; it must take a path on its own merits, so that
        every layer's copy of a path is taken or none)."""
        hidden = self.wasted
        final: dict[str, int] = {}
        for position, paths in enumerate(self.files):
            for path in pick(paths):
                if (path, position) not in hidden:
                    final[path] = position  # a path keeps its first place, takes its last layer
        return final

    @cached_property
    def entries(self) -> tuple[dict[str, FileEntry], ...]:
        """Each layer's entries (read once: a cached layer decodes them on first use)."""
        return tuple(index.entries for index in self.layers)

    def entry(self, position: int, path: str) -> FileEntry | None:
        return self.entries[position].get(path)

    @cached_property
    def rewrites(self) -> frozenset[tuple[str, int]]:
        """Hidden copies (path, layer) that a later layer replaced with the same bytes: a
        chown, chmod or touch in a step of its own (`metadata-only-rewrite`)."""
        entries = self.entries
        found = set()
        file_kind = EntryType.FILE
        replaced = Removal.REPLACED
        for path, _, stored_in, hidden_by, how in self.inspection.analysis.exact.wasted_files:
            if how is not replaced or hidden_by <= stored_in:
                continue
            old = entries[stored_in].get(path)
            new = entries[hidden_by].get(path)
            if (
                old is not None
                and new is not None
                and old.type is file_kind
                and new.type is file_kind
                and old.size == new.size
                and old.digest == new.digest
            ):
                found.add((path, stored_in))
        return frozenset(found)

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
