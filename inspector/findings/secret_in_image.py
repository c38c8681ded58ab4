"""`secret-in-image`: a secret anyone who runs or pulls the image can read.

In a file of the final file system (private keys, cloud credentials, npm/PyPI/registry
tokens, git and netrc credentials, well-known token formats, secret-looking keys in
`.env` files), or in the config: an ENV value, a label, or a build argument that the
history of a layer shows. Values are never shown: each secret is named by its kind, its
place, its line and a fingerprint (length and a sha256 prefix).

Fix: never COPY secrets or pass them as ENV or build arguments; use `RUN
--mount=type=secret` at build time and inject them at run time, then rotate the secret.
"""

from __future__ import annotations

from inspector.findings.facts import Facts
from inspector.findings.model import Finding, Fix, LayerRef, PathRef, Severity
from inspector.inspection import Inspection
from inspector.secrets import SecretHit, config_secrets

ID = "secret-in-image"
TITLE = "A secret is readable in the image"
SEVERITY = Severity.ERROR
EXAMPLE = """\
COPY .npmrc /root/.npmrc
ENV GITHUB_TOKEN=ghp_…"""
FIX = Fix(
    "Never put secrets in an image: use RUN --mount=type=secret while building and inject "
    "them at run time; rotate this one, since everyone who pulled the image has it",
    ("COPY .npmrc /root/.npmrc", "RUN npm ci"),
    ("RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci",),
)


def detect(inspection: Inspection, facts: Facts) -> list[Finding]:
    found = []
    for path, hits in sorted(facts.secrets_by_path(visible=True).items()):
        found.append(_finding(facts, path, hits, visible=True))
    for where, hit in config_secrets(iter(_config_fields(facts))):
        layers: tuple[LayerRef, ...] = ()
        if where.startswith("layer "):
            layers = (facts.layer_ref(int(where.split()[1])),)
        found.append(
            Finding(
                ID,
                TITLE,
                SEVERITY,
                0,
                layers,
                (),
                0,
                f"{hit.kind} in the config ({where}): {hit.shown}",
                FIX,
            )
        )
    return found


def _config_fields(facts: Facts) -> list[tuple[str, str]]:
    """The config text as the source gave it (the inspection shows it redacted)."""
    config = facts.config.config
    fields = [("ENV", value) for value in config.env]
    fields += [(f"LABEL {key}", f"{key}={value}") for key, value in config.labels]
    fields += [
        (f"layer {i} command", info.created_by) for i, info in enumerate(facts.config.layers)
    ]
    return fields


def _finding(facts: Facts, path: str, hits: list[tuple[int, SecretHit]], visible: bool) -> Finding:
    layers = sorted({position for position, _ in hits})
    kinds = ", ".join(f"{hit.kind} on line {hit.line} {hit.shown}" for _, hit in hits[:3])
    more = f" and {len(hits) - 3} more" if len(hits) > 3 else ""
    size = sum(
        entry.size for position in layers if (entry := facts.entry(position, path)) is not None
    )
    return Finding(
        ID,
        TITLE,
        SEVERITY,
        size,
        tuple(facts.layer_ref(i) for i in layers),
        (PathRef(path, size),),
        1,
        f"/{path} holds {kinds}{more}",
        FIX,
    )
