"""`duplicate-content`: the same content stored at several paths, every copy visible.

Two visible regular files with the same size and content digest are stored twice (hard
links are stored once and do not count). Fires for each content of at least 16 kB whose
extra copies add up to 64 kB or more, the 20 largest such contents at most.

Fix: keep one copy (the one in the lowest layer) and make the others symlinks to it, or
stop copying the same file to several places. (A hard link made in a later layer does not
help: a layer cannot link into the one below, so it stores the bytes again.)
"""

from __future__ import annotations

from functools import partial
from itertools import compress
from operator import attrgetter

from inspector.changes import EntryType
from inspector.findings.facts import Facts
from inspector.findings.model import Finding, Fix, Severity, top_paths
from inspector.formatting import size
from inspector.inspection import Inspection

ID = "duplicate-content"
TITLE = "The same content stored at several paths"
SEVERITY = Severity.INFO
EXAMPLE = """\
COPY model.bin /srv/a/model.bin
COPY model.bin /srv/b/model.bin"""
MIN_FILE_BYTES = 16_000
MIN_BYTES = 64_000
MAX_FINDINGS = 20
_SIZE = attrgetter("size")


def detect(inspection: Inspection, facts: Facts) -> list[Finding]:
    groups: dict[tuple[int, int], list[tuple[int, str]]] = {}
    large = MIN_FILE_BYTES.__le__
    candidates = [
        list(compress(entries, map(large, map(_SIZE, entries.values()))))
        for entries in facts.entries
    ]
    # where the final file system shows each path that is large in some layer
    large_paths = {path for layer in candidates for path in layer}
    visible = facts.visible_where(partial(filter, large_paths.__contains__))
    for (position, entries), layer in zip(enumerate(facts.entries), candidates, strict=True):
        for path in layer:
            entry = entries[path]
            if entry.type is EntryType.FILE and visible.get(path) == position:
                groups.setdefault((entry.size, entry.digest), []).append((position, path))
    ranked = sorted(
        ((size_ * (len(copies) - 1), size_, sorted(copies)) for (size_, _), copies in groups.items()
         if len(copies) > 1),
        key=lambda item: (-item[0], item[2]),
    )  # fmt: skip
    found = []
    for saved, each, copies in ranked[:MAX_FINDINGS]:
        if saved < MIN_BYTES:
            break
        (keep_layer, keep), others = copies[0], copies[1:]
        paths, count = top_paths({path: each for _, path in copies})
        layers = sorted({position for position, _ in copies})
        evidence = (
            f"{len(copies)} visible files hold the same {size(each)} of content; "
            f"/{keep} from {facts.shown(keep_layer)} is the first, {len(others)} more "
            f"cost {size(saved)}"
        )
        fix = Fix(
            f"Keep /{keep} and make the other copies symlinks to it (or copy the file once)",
            (),
            tuple(f"RUN ln -sf /{keep} /{path}" for _, path in others[:5]),
        )
        found.append(
            Finding(
                ID,
                TITLE,
                SEVERITY,
                saved,
                tuple(facts.layer_ref(i) for i in layers),
                paths,
                count,
                evidence,
                fix,
            )
        )
    return found
