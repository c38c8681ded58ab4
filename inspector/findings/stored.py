"""Findings kept in the result cache, so a warm run neither decodes a layer's entries nor
runs the detectors again.

The key is the image's result key (its layer stack, formats and the analysis code) plus
what else the detectors read: each layer's command and the config's ENV and labels as the
source gave them (hashed: the key holds no secret value), and the source of the findings
code. A stored finding is already redacted, like every finding the pipeline hands out.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
from collections.abc import Sequence
from typing import Any

from inspector.cache import LayerCache
from inspector.findings.model import Finding, Fix, LayerRef, PathRef, Severity
from inspector.indexer import LayerIndex
from inspector.model import Image
from inspector.results import result_key

FORMAT = 1
_KIND = "findings"
_code: str | None = None


def _code_digest() -> str:
    """A digest of the findings package, secrets.py and formatting.py (once per process)."""
    global _code
    if _code is None:
        digest = hashlib.sha256()
        package = os.path.dirname(os.path.abspath(__file__))
        files = [os.path.join(package, name) for name in sorted(os.listdir(package))]
        files += [os.path.join(package, "..", name) for name in ("secrets.py", "formatting.py")]
        for path in files:
            if path.endswith(".py"):
                with open(path, "rb") as handle:
                    digest.update(handle.read())
        _code = digest.hexdigest()
    return _code


def key(image: Image, layers: Sequence[LayerIndex]) -> str | None:
    """The findings' cache key for `image` as its source gave it; None: not cacheable."""
    base = result_key(image, layers)
    if base is None:
        return None
    config = image.config
    text = json.dumps(
        [[info.created_by for info in image.layers], list(config.env), list(config.labels)],
        ensure_ascii=False,
    )
    digest = hashlib.sha256(f"inspector-findings {FORMAT} {base} {_code_digest()}\n".encode())
    digest.update(text.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def load(cache: LayerCache, found_key: str) -> tuple[Finding, ...] | None:
    payload = cache.get_result(found_key, _KIND)
    if payload is None:
        return None
    try:
        return tuple(_decode(row) for row in marshal.loads(payload))
    except (ValueError, TypeError, EOFError, KeyError):
        cache.forget_result(found_key, _KIND)
        return None


def store(cache: LayerCache, found_key: str, findings: Sequence[Finding]) -> None:
    cache.put_result(found_key, marshal.dumps([_encode(f) for f in findings]), _KIND)


def _encode(f: Finding) -> tuple[object, ...]:
    return (
        f.id, f.title, str(f.severity), f.bytes,
        [(ref.index, ref.command) for ref in f.layers],
        [(ref.path, ref.bytes) for ref in f.paths],
        f.path_count, f.evidence, (f.fix.text, list(f.fix.before), list(f.fix.after)),
    )  # fmt: skip


def _decode(row: Any) -> Finding:
    id_, title, severity, size, layers, paths, count, evidence, (text, before, after) = row
    return Finding(
        str(id_),
        str(title),
        Severity(severity),
        int(size),
        tuple(LayerRef(int(i), str(c)) for i, c in layers),
        tuple(PathRef(str(p), int(b)) for p, b in paths),
        int(count),
        str(evidence),
        Fix(str(text), tuple(map(str, before)), tuple(map(str, after))),
    )
