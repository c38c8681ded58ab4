"""`secret-recoverable`: a secret a layer stores and a later layer deletes.

Deleting a file in a later layer only hides it: the layer that stored it is still in the
image, and `docker save` or any registry client gives it to whoever pulls. The same kinds
as `secret-in-image` are found; values are never shown.

Fix: never COPY secrets; use `RUN --mount=type=secret` (the secret is then in no layer),
and rotate the secret, since it has been published.
"""

from __future__ import annotations

from inspector.findings.facts import Facts
from inspector.findings.model import Finding, Fix, PathRef, Severity
from inspector.inspection import Inspection

ID = "secret-recoverable"
TITLE = "A deleted secret can still be read from a lower layer"
SEVERITY = Severity.ERROR
EXAMPLE = """\
COPY id_rsa /root/.ssh/id_rsa
RUN git clone git@example.org:org/app.git && rm /root/.ssh/id_rsa"""


def detect(inspection: Inspection, facts: Facts) -> list[Finding]:
    found = []
    for path, hits in sorted(facts.secrets_by_path(visible=False).items()):
        stored = sorted({position for position, _ in hits})
        hidden = sorted(
            {facts.wasted[path, position].hidden_by for position in stored
             if (path, position) in facts.wasted}
        )  # fmt: skip
        kinds = ", ".join(f"{hit.kind} on line {hit.line} {hit.shown}" for _, hit in hits[:3])
        size = sum(
            entry.size for position in stored if (entry := facts.entry(position, path)) is not None
        )
        deleted = ", ".join(facts.shown(i) for i in hidden) or "a later layer"
        found.append(
            Finding(
                ID,
                TITLE,
                SEVERITY,
                size,
                tuple(facts.layer_ref(i) for i in sorted({*stored, *hidden})),
                (PathRef(path, size),),
                1,
                f"/{path} in {', '.join(facts.shown(i) for i in stored)} holds {kinds}; "
                f"{deleted} hides it, but the layer below still gives it to whoever pulls",
                Fix(
                    "Never COPY secrets: mount them for the one RUN that needs them, and "
                    "rotate this one, since it has been published",
                    tuple(facts.instructions[i].text for i in sorted({*stored, *hidden})),
                    ("RUN --mount=type=secret,id=KEY,target=/root/.ssh/id_rsa <the command>",),
                ),
            )
        )
    return found
