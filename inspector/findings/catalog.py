"""docs/findings.md, written from the detectors themselves (`scripts/findings_doc.py`)."""

from __future__ import annotations

import inspect as introspect

from inspector.findings import DETECTORS

HEADER = """\
# Findings

A finding names a problem of an image, the bytes at stake, the layers and paths that prove
it, and the change that fixes it. They are pure functions of the inspection: nothing is
read twice. This page is generated from the detectors (`python scripts/findings_doc.py`);
a test keeps it in step.

Every finding has these keys, in the JSON (`findings[]`) as in the text report:

| key | meaning |
|---|---|
| `id` | stable, kebab-case: the headings below |
| `title` | one line |
| `severity` | `info`, `warning` or `error` |
| `bytes` | what the fix saves in the image (`cache-busting-order`: bytes rebuilt per edit) |
| `layers` | `index` (0 = base) and `command` of each layer involved |
| `paths` | the top paths, each `path` and `bytes`; `pathCount` is how many in all |
| `evidence` | one sentence on why |
| `fix` | `text`, and Dockerfile lines `before` and `after` where they help |

Findings are sorted errors first, then by bytes. The text summary (`inspector IMAGE
--text`) shows each as its severity, id, bytes and title, the evidence, the fix and its
lines; `--json` writes them under `findings[]`, paths absolute as in `wastedFiles` (a
path that is not UTF-8 also gets its bytes in `pathBytes`, see [metrics.md](metrics.md)).
In CI mode an `error` finding fails the build; [ci.md](ci.md) has the rules on findings
(`failOn`, turning one off, byte floors, severities, allowed paths) and the SARIF report.

The demo image's `build-context-junk` finding (`inspector demo --json -`):

```json
{
  "id": "build-context-junk",
  "title": "Build-context files a .dockerignore would keep out",
  "severity": "warning",
  "bytes": 2600000,
  "layers": [
    {
      "index": 3,
      "command": "/bin/sh -c #(nop) COPY dir:9c0e1a in /app "
    }
  ],
  "paths": [
    {
      "path": "/app/.git/objects/pack-1.pack",
      "bytes": 2600000
    }
  ],
  "pathCount": 1,
  "evidence": "1 file (2.6 MB) that COPY/ADD brought from the build context match **/.git",
  "fix": {
    "text": "Add a .dockerignore beside the Dockerfile with these lines",
    "before": [],
    "after": [
      "**/.git"
    ]
  }
}
```
"""


def catalog() -> str:
    """The whole page."""
    parts = [HEADER]
    for detector in DETECTORS:
        doc = introspect.cleandoc(detector.__doc__ or "")
        summary, _, body = doc.partition("\n\n")
        summary = summary.split(": ", 1)[1] if ": " in summary else summary
        parts.append(f"## `{detector.ID}` ({detector.SEVERITY})\n")
        summary = summary.replace("\n", " ")
        parts.append(f"{summary[:1].upper()}{summary[1:]}\n")
        if body:
            parts.append(f"{body}\n")
        parts.append(f"Example:\n\n```dockerfile\n{detector.EXAMPLE}\n```\n")
    return "\n".join(parts)
