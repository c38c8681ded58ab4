"""Content digests: `algorithm:hex`, validated on construction."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from inspector.errors import ManifestError

_DIGEST = re.compile(r"^(sha256|sha512|sha384):([a-f0-9]+)$")
_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True, slots=True, order=True)
class Digest:
    """A content digest such as `sha256:e3b0…`."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str, what: str = "") -> Digest:
        """Parse `algo:hex`; `what` names the input in the error (e.g. `img.tar: config`)."""
        match = _DIGEST.match(text.strip())
        if match is None or len(match.group(2)) != _LENGTHS[match.group(1)]:
            prefix = f"{what}: " if what else ""
            raise ManifestError(f"{prefix}invalid digest {text[:80]!r}")
        return cls(match.group(1), match.group(2))

    @classmethod
    def sha256_of(cls, data: bytes) -> Digest:
        return cls("sha256", hashlib.sha256(data).hexdigest())

    @classmethod
    def is_valid(cls, text: str) -> bool:
        match = _DIGEST.match(text)
        return match is not None and len(match.group(2)) == _LENGTHS[match.group(1)]

    @property
    def short(self) -> str:
        return self.hex[:12]

    def hasher(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def chain_ids(diff_ids: list[Digest]) -> list[Digest]:
    """The OCI ChainID of every prefix of a layer stack."""
    result: list[Digest] = []
    for diff_id in diff_ids:
        if not result:
            result.append(diff_id)
        else:
            text = f"{result[-1]} {diff_id}".encode()
            result.append(Digest.sha256_of(text))
    return result
