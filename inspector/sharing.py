"""Layers shared with other images (pure: no I/O).

A layer is shared with another image when that image has the same stack of layers up to
and including it: the same ChainID. Only then is the layer stored once by an engine or a
registry; the same diff_id on top of a different stack is a different layer on disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inspector.digest import Digest, chain_ids


@dataclass(frozen=True, slots=True)
class OtherImage:
    """Another image known to the source: a display name and its layer diff_ids."""

    name: str
    diff_ids: tuple[Digest, ...]


@dataclass(frozen=True, slots=True)
class Sharing:
    """Per layer, the other images that share it; per image, shared and unique bytes."""

    shared_with: tuple[tuple[str, ...], ...]
    shared_bytes: int
    unique_bytes: int

    def is_shared(self, position: int) -> bool:
        return bool(self.shared_with[position])


def sharing(
    diff_ids: Sequence[Digest], layer_bytes: Sequence[int], others: Sequence[OtherImage]
) -> Sharing:
    """Which of `others` share each layer (by ChainID), and the bytes that are shared."""
    mine = chain_ids(list(diff_ids))
    holders: dict[Digest, set[str]] = {}
    for other in others:
        for chain in chain_ids(list(other.diff_ids)):
            holders.setdefault(chain, set()).add(other.name)
    shared_with = tuple(tuple(sorted(holders.get(chain, ()))) for chain in mine)
    shared = sum(size for size, names in zip(layer_bytes, shared_with, strict=True) if names)
    return Sharing(shared_with, shared, sum(layer_bytes) - shared)
