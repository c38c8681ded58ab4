"""JSON documents from images and registries: the one loader, with its limits.

Manifests, indexes, `manifest.json`, `index.json`, configs, tag lists, token answers and
registry error bodies all come from input nobody vetted, and every one is parsed by
`load` here:

* a document larger than the cap of its kind (`Limit`) is refused before it is parsed,
  and the error names the cap; sources also check a size they know in advance (a
  descriptor's, an archive member's, a file's) against the same cap before reading;
* a document nested deeper than `MAX_DEPTH` arrays and objects is refused (the parser
  itself gives up with a RecursionError near a thousand levels, which would otherwise
  reach the command line as an internal error, and code reading the document must never
  have to recurse);
* `NaN` and `Infinity`, which are not JSON, are refused.

Every refusal is a ManifestError whose message names the input, never the document's
text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from inspector.errors import ManifestError

MIB = 1 << 20
MAX_DEPTH = 64
"""The deepest nesting of arrays and objects accepted (real documents stay below 10)."""


@dataclass(frozen=True, slots=True)
class Limit:
    """The largest document of one kind that is read into memory."""

    kind: str
    bytes: int

    def exceeded(self, what: str, size: int | None = None) -> ManifestError:
        """The error for a document of this kind that is too large."""
        amount = f" ({size} bytes)" if size is not None else ""
        return ManifestError(
            f"{what}: larger than {self.bytes // MIB} MiB{amount}, the limit for {self.kind}"
        )

    def check(self, what: str, size: int) -> None:
        """Refuse a document whose size, known before it is read, exceeds the limit."""
        if size > self.bytes:
            raise self.exceeded(what, size)


MANIFEST = Limit("a manifest or index", 4 * MIB)
"""Image manifests, image indexes, `manifest.json` and `index.json`, tag lists."""
CONFIG = Limit("an image config", 32 * MIB)
"""Image configs (their history and environment can be long)."""
SMALL = Limit("a registry answer", 1 * MIB)
"""Token answers and error bodies of a registry."""


def load(data: bytes, what: str, limit: Limit) -> Any:
    """`data` parsed as JSON, within `limit` and `MAX_DEPTH`; ManifestError otherwise."""
    if len(data) > limit.bytes:
        raise limit.exceeded(what, len(data))
    try:
        doc = json.loads(data, parse_constant=_not_json)
    except RecursionError:
        raise _too_deep(what) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{what}: invalid JSON ({_reason(exc)})") from None
    if not _within_depth(doc):
        raise _too_deep(what)
    return doc


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _reason(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:119] + "…"


def _too_deep(what: str) -> ManifestError:
    return ManifestError(f"{what}: JSON nested deeper than {MAX_DEPTH} levels")


def _within_depth(doc: Any) -> bool:
    """No array or object in `doc` lies more than MAX_DEPTH containers deep (no recursion:
    one level of containers at a time)."""
    level = [doc] if isinstance(doc, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            return False
        below: list[Any] = []
        for value in level:
            items = value.values() if isinstance(value, dict) else value
            below.extend(item for item in items if isinstance(item, dict | list))
        level = below
    return True
