"""Strings for the JSON reports: exact values, and always valid UTF-8 (docs/metrics.md).

A tar header holds bytes, and a name that is not UTF-8 is read with `surrogateescape`: each
byte that is not UTF-8 becomes a lone surrogate (U+DC80–U+DCFF), which `json.dumps` would
write as `\\udcXX`, an escape that strict decoders refuse. So a name (`path`, `linkName`,
dive's `file`) that is not UTF-8 is written as

* the name with U+FFFD in place of each byte that is not UTF-8 (a valid string, close to
  what a person would be shown), and
* a sibling field named after it plus `Bytes` (`pathBytes`, `linkNameBytes`, `fileBytes`)
  holding the name's exact bytes in base64 (RFC 4648, padded).

A name that is UTF-8 is written as it is, with no sibling. Other strings (history,
labels, tags, warnings: they come from JSON that can hold escaped lone surrogates) have
each lone surrogate replaced by U+FFFD. This module is the one place the JSON writers
(`inspector.report`, `inspector.dive` and `inspector.ci_report`) get that from.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
_encode: Callable[[str], str] = json.encoder.encode_basestring_ascii  # as json.dumps


def valid(text: str) -> str:
    """`text` with every lone surrogate (a byte that was not UTF-8) as U+FFFD."""
    if text.isascii():
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def name_bytes(name: str) -> bytes | None:
    """The exact bytes of a name that is not UTF-8; None for a name that is."""
    if name.isascii():
        return None
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return None
    # U+DC80–U+DCFF are the bytes surrogateescape kept; no byte gives any other surrogate
    kept = re.sub("[\ud800-\udc7f\udd00-\udfff]", REPLACEMENT, name)
    return kept.encode("utf-8", "surrogateescape")


def name_fields(key: str, name: str) -> dict[str, str]:
    """`{key: name}`, or for a name that is not UTF-8 `{key: valid(name), keyBytes: …}`."""
    raw = name_bytes(name)
    if raw is None:
        return {key: name}
    return {key: valid(name), key + "Bytes": base64.b64encode(raw).decode("ascii")}


def name_json(name: str, sibling: str) -> str:
    """The JSON text that follows `"key":` for a name: `json.dumps` of `name_fields`'
    values with `,` and `:` separators, e.g. `"a\\ufffd","pathBytes":"YZs="`."""
    raw = name_bytes(name)
    if raw is None:
        return _encode(name)
    encoded = base64.b64encode(raw).decode("ascii")
    return f'{_encode(valid(name))},"{sibling}":"{encoded}"'


def valid_strings(value: Any) -> Any:
    """`value` (dicts, lists and scalars from `json.loads` or a document) with every string,
    keys included, made `valid`."""
    if isinstance(value, str):
        return valid(value)
    if isinstance(value, dict):
        return {valid(k) if isinstance(k, str) else k: valid_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [valid_strings(item) for item in value]
    return value
