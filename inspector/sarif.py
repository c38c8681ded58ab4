"""The findings of a CI verdict as SARIF 2.1.0, the format GitHub code scanning reads.

One run: the driver (`inspector`, its version, one rule per finding id with the
descriptions and help of the detector's docstring, its severity as the default level)
and one result per finding the configuration kept, at the level of its severity
(`error`, `warning`, `note` for info). A result is placed at its paths in the image
(relative URIs under the `IMAGEROOT` base, the bytes of a name that is not UTF-8
percent-encoded); a finding with no path (a secret in ENV or a label) at the Dockerfile.
Its layers, bytes and fix are in its property bag. `partialFingerprints` hash the id,
the paths and the layers' commands (secrets in them already hidden), so an alert stays
the same alert across runs; for a finding with no path, its evidence (the secret's kind,
place and fingerprint, never the value) is hashed too.

The rule verdicts and the findings the configuration dropped are in the run's property
bag; the exit code says whether the build passed. `render_diff` writes the same log for
`inspector diff OLD NEW`: the findings new in NEW are its results, the gate's rules in
its property bag. JSON keeps exact values
(`inspector.jsontext`). Pure: no I/O beyond reading the package's own metadata.
"""

from __future__ import annotations

import hashlib
import inspect as introspect
import json
from collections.abc import Sequence
from importlib import metadata
from typing import Any
from urllib.parse import quote

from inspector import __version__
from inspector.diff import ImageDiff
from inspector.diff.gate import failing_findings
from inspector.findings import DETECTORS
from inspector.findings.model import Finding, Severity
from inspector.jsontext import valid_strings
from inspector.rules import Status, Verdict

SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
DOCKERFILE = "Dockerfile"
IMAGE_ROOT = "IMAGEROOT"
FINGERPRINT = "inspectorFinding/v1"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
DIFF_AUTOMATION = "inspector-diff/"  # runAutomationDetails.id of a diff's log
NEW_PREFIX = "New in this image: "


def render(verdict: Verdict, label: str, dockerfile: str = DOCKERFILE) -> str:
    """The SARIF log of `verdict`'s findings, as JSON text ending with a newline."""
    kept = [
        (r.finding, r.status is Status.FAIL)
        for r in verdict.findings
        if r.status is not Status.SKIP
    ]
    properties: dict[str, Any] = {
        "image": label,
        "passed": verdict.passed,
        "failOn": verdict.fail_on.value if verdict.fail_on is not None else "none",
        "rules": _rules(verdict),
        "suppressed": [
            {"id": r.finding.id, "title": r.finding.title, "reason": r.message}
            for r in verdict.findings
            if r.status is Status.SKIP
        ],
    }
    return _log(kept, properties, dockerfile)


def render_diff(result: ImageDiff, verdict: Verdict | None, dockerfile: str = DOCKERFILE) -> str:
    """The SARIF log of the findings new in NEW (`inspector diff OLD NEW`): one result per
    new finding, failing the build when the gate's `noNewFindings` rule counts it; the
    gate's verdict (with `--ci`) in the run's property bag. Its own automation id keeps
    its alerts apart from the image mode's in code scanning."""
    failing = {id(f) for f in failing_findings(verdict, result)} if verdict else set()
    kept = [(f, id(f) in failing) for f in result.findings.new]
    properties: dict[str, Any] = {
        "image": result.new_label,
        "baseImage": result.old_label,
        "passed": verdict.passed if verdict is not None else None,
        "rules": _rules(verdict) if verdict is not None else [],
        "goneFindings": [{"id": f.id, "title": f.title} for f in result.findings.gone],
    }
    return _log(kept, properties, dockerfile, DIFF_AUTOMATION, NEW_PREFIX)


def failed(verdict: Verdict) -> str | None:
    """The one stderr line that names what failed (a SARIF log holds findings only), or
    None when the verdict passed."""
    if verdict.passed:
        return None
    names = [r.rule for r in verdict.failures]
    names += [r.finding.id for r in verdict.findings if r.status is Status.FAIL]
    return f"CI verdict FAIL: {', '.join(names)}"


def _rules(verdict: Verdict) -> list[dict[str, Any]]:
    return [
        {"rule": r.rule, "status": r.status.value, "message": r.message} for r in verdict.results
    ]


def _log(
    kept: Sequence[tuple[Finding, bool]],
    properties: dict[str, Any],
    dockerfile: str,
    automation: str | None = None,
    prefix: str = "",
) -> str:
    """One run: the driver with a rule per detector, a result per (finding, fails build)."""
    rules = [_rule(detector) for detector in DETECTORS]
    index = {rule["id"]: position for position, rule in enumerate(rules)}
    driver: dict[str, Any] = {"name": "inspector", "version": __version__}
    homepage = _homepage()
    if homepage:
        driver["informationUri"] = homepage
    driver["rules"] = rules
    run: dict[str, Any] = {"tool": {"driver": driver}}
    if automation is not None:
        run["automationDetails"] = {"id": automation}
    run["originalUriBaseIds"] = {
        IMAGE_ROOT: {"description": {"text": "The root of the image's file system."}}
    }
    run["results"] = [
        _result(finding, index[finding.id], fails, dockerfile, prefix) for finding, fails in kept
    ]
    run["properties"] = properties
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(valid_strings(log), indent=2, allow_nan=False) + "\n"


def _rule(detector: Any) -> dict[str, Any]:
    """A reportingDescriptor from a detector module: its docstring's first sentence, its
    body, its `Fix:` paragraph and its example."""
    doc = introspect.cleandoc(detector.__doc__ or "")
    summary, _, body = doc.partition("\n\n")
    summary = " ".join(summary.split(": ", 1)[-1].split())
    summary = summary[:1].upper() + summary[1:]
    paragraphs = [" ".join(p.split()) for p in body.split("\n\n") if p.strip()]
    fixes = [p for p in paragraphs if p.startswith("Fix")]
    about = [p for p in paragraphs if not p.startswith("Fix")]
    help_text = fixes[0] if fixes else summary
    example = f"Example:\n\n```dockerfile\n{detector.EXAMPLE}\n```"
    return {
        "id": detector.ID,
        "name": "".join(word.capitalize() for word in detector.ID.split("-")),
        "shortDescription": {"text": summary},
        "fullDescription": {"text": " ".join([summary, *about])},
        "help": {
            "text": help_text,
            "markdown": "\n\n".join([summary, *about, help_text, example]),
        },
        "defaultConfiguration": {"level": LEVELS[detector.SEVERITY]},
        "properties": {"tags": ["container-image", detector.SEVERITY.value]},
    }


def _result(
    finding: Finding, rule_index: int, fails: bool, dockerfile: str, prefix: str = ""
) -> dict[str, Any]:
    evidence = finding.evidence.rstrip(".")
    return {
        "ruleId": finding.id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": f"{prefix}{evidence}. Fix: {finding.fix.text.rstrip('.')}."},
        "locations": _locations(finding, dockerfile),
        "partialFingerprints": {FINGERPRINT: fingerprint(finding)},
        "properties": {
            "title": finding.title,
            "severity": finding.severity.value,
            "failsBuild": fails,
            "bytes": finding.bytes,
            "pathCount": finding.path_count,
            "layers": [{"index": ref.index, "command": ref.command} for ref in finding.layers],
            "fix": {
                "text": finding.fix.text,
                "before": list(finding.fix.before),
                "after": list(finding.fix.after),
            },
        },
    }


def _locations(finding: Finding, dockerfile: str) -> list[dict[str, Any]]:
    if not finding.paths:
        return [{"physicalLocation": {"artifactLocation": {"uri": _uri(dockerfile)}}}]
    return [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": _uri(ref.path.lstrip("/")), "uriBaseId": IMAGE_ROOT}
            }
        }
        for ref in finding.paths
    ]


def _uri(path: str) -> str:
    """A relative URI reference for a path, its exact bytes percent-encoded."""
    return quote(path.encode("utf-8", "surrogateescape"), safe="/")


def fingerprint(finding: Finding) -> str:
    """Stable across runs: the id, the paths and the layers' commands (and, for a finding
    with no path, its evidence), hashed; no secret value is ever part of these."""
    parts = [finding.id, *sorted(ref.path for ref in finding.paths)]
    parts += [ref.command for ref in sorted(finding.layers, key=lambda ref: ref.index)]
    if not finding.paths:
        parts.append(finding.evidence)
    data = "\0".join(parts).encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()


def _homepage() -> str | None:
    """The project's URL as its package metadata declares it, if it does."""
    try:
        meta = metadata.metadata("inspector")
    except metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or []:
        name, _, url = entry.partition(",")
        if name.strip().lower() in ("homepage", "documentation", "source", "repository"):
            return url.strip() or None
    homes = meta.get_all("Home-page") or []
    return str(homes[0]) if homes else None
