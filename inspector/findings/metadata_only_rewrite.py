"""`metadata-only-rewrite`: a later layer stores a whole new copy of a file whose content
did not change.

`chown`, `chmod` or `touch` in a `RUN` of its own copies every file it touches into a new
layer: the image then stores the bytes twice. Fires for each rewriting layer whose
identical copies (same size and content digest, another mode, owner or time) reach 1 kB.

Fix: set owner and mode where the file is made: `COPY --chown=… --chmod=…`, or the
`chown`/`chmod` in the `RUN` that creates the file.
"""

from __future__ import annotations

from inspector.changes import EntryType
from inspector.findings.facts import Facts
from inspector.findings.model import Finding, Fix, Severity, top_paths
from inspector.formatting import count as files
from inspector.formatting import size
from inspector.inspection import Inspection

ID = "metadata-only-rewrite"
TITLE = "Files stored again only to change their owner, mode or time"
SEVERITY = Severity.WARNING
EXAMPLE = """\
COPY app.bin /app/app.bin
RUN chown 1000:1000 /app/app.bin"""
MIN_BYTES = 1000


def detect(inspection: Inspection, facts: Facts) -> list[Finding]:
    groups: dict[int, dict[str, int]] = {}
    sources: dict[int, set[int]] = {}
    changed: dict[int, set[str]] = {}
    entries = facts.entries
    for path, stored_bytes, stored_in, hidden_by, _ in facts.rewritten():
        old = entries[stored_in].get(path)
        new = entries[hidden_by].get(path)
        assert old is not None
        assert new is not None
        group = groups.get(hidden_by)
        if group is None:
            group = groups[hidden_by] = {}
            sources[hidden_by] = set()
            changed[hidden_by] = set()
        group[path] = stored_bytes
        sources[hidden_by].add(stored_in)
        fields = changed[hidden_by]
        # what `new.differences(old)` says of the mode and owner, and "time" when neither
        same_mode = old.mode == new.mode
        same_owner = old.uid == new.uid and old.gid == new.gid
        if not same_mode:
            fields.add("mode")
        if not same_owner:
            fields.add("owner")
        if same_mode and same_owner:
            fields.add("time")
    found = []
    for rewrite, sizes in sorted(groups.items()):
        total = sum(sizes.values())
        if total < MIN_BYTES:
            continue
        paths, count = top_paths(sizes)
        origins = sorted(sources[rewrite])
        what = " and ".join(sorted(changed[rewrite])) or "metadata"
        evidence = (
            f"{facts.shown(rewrite)} stores {files(count, 'file')} ({size(total)}) again with the "
            f"same content as {', '.join(facts.shown(i) for i in origins)}: only their "
            f"{what} changed"
        )
        found.append(
            Finding(
                ID,
                TITLE,
                SEVERITY,
                total,
                tuple(facts.layer_ref(i) for i in (*origins, rewrite)),
                paths,
                count,
                evidence,
                _fix(facts, origins, rewrite),
            )
        )
    return found


def _fix(facts: Facts, origins: list[int], rewrite: int) -> Fix:
    text = (
        "Set the owner and mode where the files are made (COPY --chown/--chmod, or chown/chmod "
        "in the RUN that creates them), and drop the separate step"
    )
    later = facts.instructions[rewrite]
    first = facts.instructions[origins[0]]
    if first.keyword in ("COPY", "ADD") and later.keyword == "RUN":
        option = _option(facts, origins[0], rewrite)
        after = f"{first.keyword} {option} {first.body}" if option else first.text
        return Fix(text, (first.text, later.text), (after,))
    if first.keyword == later.keyword == "RUN":
        return Fix(text, (first.text, later.text), (f"RUN {first.body} \\", f"    && {later.body}"))
    return Fix(text)


def _option(facts: Facts, origin: int, rewrite: int) -> str:
    """`--chown=U:G --chmod=M` as the rewrite left the files (from one of them)."""
    for path, new in facts.layers[rewrite].entries.items():
        old = facts.entry(origin, path)
        if old is None or new.type is not EntryType.FILE or not old.same_content(new):
            continue
        parts = []
        if (old.uid, old.gid) != (new.uid, new.gid):
            parts.append(f"--chown={new.uid}:{new.gid}")
        if old.mode != new.mode:
            parts.append(f"--chmod={new.mode & 0o7777:o}")
        return " ".join(parts)
    return ""
