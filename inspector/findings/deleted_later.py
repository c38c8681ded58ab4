"""`deleted-later`: files one layer creates and a later layer deletes or replaces.

A layer is an immutable tar: deleting a file in a later `RUN` only hides it, and every
pull still downloads it. Fires for each pair of layers (the one that stored the files,
the one that hid them) whose hidden bytes reach 1 kB. Package-manager caches
(`package-cache`) and copies rewritten with the same content (`metadata-only-rewrite`)
are left to their own findings.

Fix: create and delete in the same `RUN`, or build in a separate stage and `COPY --from`
only what the image needs.
"""

from __future__ import annotations

from inspector.changes import Removal
from inspector.findings import package_cache
from inspector.findings.facts import Facts
from inspector.findings.model import Finding, Fix, Severity, top_paths
from inspector.formatting import count as files
from inspector.formatting import size
from inspector.inspection import Inspection

ID = "deleted-later"
TITLE = "Files created in one layer and deleted or replaced by a later one"
SEVERITY = Severity.WARNING
EXAMPLE = """\
RUN curl -o /tmp/data.tgz https://example.org/data.tgz && tar -xzf /tmp/data.tgz -C /data
RUN rm /tmp/data.tgz"""
MIN_BYTES = 1000


def detect(inspection: Inspection, facts: Facts) -> list[Finding]:
    groups: dict[tuple[int, int], dict[str, int]] = {}
    removed: dict[tuple[int, int], set[Removal]] = {}
    rewrites = facts.rewrites  # copies replaced by the same bytes: metadata-only-rewrite's
    in_cache = package_cache.may_be_cache
    manager_of = package_cache.manager_of
    for path, stored_bytes, stored_in, hidden_by, removal in inspection.analysis.exact.wasted_files:
        if hidden_by <= stored_in:
            continue  # a tar that repeats a path: no later layer to blame
        if in_cache(path) and manager_of(path) is not None:
            continue
        if (path, stored_in) in rewrites:
            continue
        key = (stored_in, hidden_by)
        group = groups.get(key)
        if group is None:
            group = groups[key] = {}
            removed[key] = set()
        group[path] = stored_bytes
        removed[key].add(removal)
    found = []
    for (stored, hidden), sizes in groups.items():
        total = sum(sizes.values())
        if total < MIN_BYTES:
            continue
        paths, count = top_paths(sizes)
        how = "replaces" if removed[stored, hidden] == {Removal.REPLACED} else "deletes"
        evidence = (
            f"{facts.shown(stored)} stores {files(count, 'file')} ({size(total)}) that "
            f"{facts.shown(hidden)} {how}; every pull still downloads them"
        )
        found.append(
            Finding(
                ID,
                TITLE,
                SEVERITY,
                total,
                (facts.layer_ref(stored), facts.layer_ref(hidden)),
                paths,
                count,
                evidence,
                _fix(facts, stored, hidden),
            )
        )
    return found


def _fix(facts: Facts, stored: int, hidden: int) -> Fix:
    first, later = facts.instructions[stored], facts.instructions[hidden]
    text = (
        "Create and remove the files in the same RUN, or build them in a separate stage "
        "and COPY --from it only what the image needs"
    )
    if first.keyword == later.keyword == "RUN":
        return Fix(text, (first.text, later.text), (f"RUN {first.body} \\", f"    && {later.body}"))
    if first.text and later.text:
        return Fix(text, (first.text, later.text))
    return Fix(text)
