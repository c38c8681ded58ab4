"""Byte sizes as people write them in rules: `20MB`, `19Mb`, `50kB`, `1.5MiB`, `1024`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

_SI = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15, "e": 10**18}
_IEC = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50, "e": 2**60}
_UNITS: Mapping[str, int] = MappingProxyType(
    {
        **_SI,
        **{f"{p}b": m for p, m in _SI.items() if p not in ("", "b")},
        **{f"{p}i": m for p, m in _IEC.items()},
        **{f"{p}ib": m for p, m in _IEC.items()},
    }
)
_NUMBER = re.compile(r"[0-9.,]*")
_MAX_BYTES = 2**64


def parse_bytes(text: str) -> int:
    """A byte count the way go-humanize's ParseBytes reads one (dive's highestWastedBytes).

    A number (digits, `.`, `,` as a thousands separator) then an optional unit, any case,
    optionally after spaces: `B`, SI `k`/`kB`/`MB`/… (powers of 1000, so `19Mb` is 19 MB)
    and IEC `Ki`/`KiB`/`MiB`/… (powers of 1024). Fractions of a byte are dropped.
    Surrounding whitespace is ignored. Raises ValueError.
    """
    stripped = text.strip()
    digits = _NUMBER.match(stripped)
    number = digits.group() if digits else ""
    unit = stripped[len(number) :].strip().lower()
    if unit not in _UNITS:
        raise ValueError(f"unknown size unit {unit!r} in {text!r}")
    try:
        value = float(number.replace(",", ""))
    except ValueError:
        raise ValueError(f"not a byte size: {text!r}") from None
    total = value * _UNITS[unit]
    if total >= _MAX_BYTES:
        raise ValueError(f"byte size too large: {text!r}")
    return int(total)
