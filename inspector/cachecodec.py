"""What a cache entry's bytes are: a LayerIndex encoded and decoded, and the framing of
the other entries (analysis results, file lists, prefix states).

A layer entry is the magic `INSPIDX2`, an xxh3 checksum of the payload, and a marshal
payload: the small header (warnings, sizes, digests, compression, secret hits, never a
value) and the entries stored column by column (paths, types, sizes, ... of all entries).
It is decoded in two steps: the header at once, the entries only when something first
reads them (`LazyLayerIndex`). A run whose analysis result is cached (`--text`, `--ci`,
`--json --no-file-lists`) never decodes them at all. Every other entry is sealed the same
way under the magic `INSPRES1`. Damage is a ValueError; the store (cache.py) treats it as
a miss. The audit ships layer indexes between workers in this encoding too.
"""

from __future__ import annotations

import dataclasses
import marshal
from collections.abc import Callable, Iterable
from itertools import repeat
from typing import Any

import xxhash

from inspector.changes import EntryType, FileEntry
from inspector.digest import Digest
from inspector.gcpause import gc_paused
from inspector.indexer import LayerIndex
from inspector.secrets import SecretHit

MAGIC = b"INSPIDX2"
RESULT_MAGIC = b"INSPRES1"
_TYPE_LIST = list(EntryType)
_TYPE_CODE = {t: i for i, t in enumerate(_TYPE_LIST)}
_new_tuple = tuple.__new__


def _columns(entries: Iterable[FileEntry]) -> tuple[Any, ...]:
    """Entries as columns: marshal writes (and reads) flat lists much faster than rows."""
    columns = list(zip(*entries, strict=True))
    if not columns:
        return ([], b"", [], [], [], [], [], [], [])
    paths, types, *rest = columns
    return (list(paths), bytes(map(_TYPE_CODE.__getitem__, types)), *map(list, rest))


def _entries(columns: Any) -> list[FileEntry]:
    """The entries back from `_columns`, built at C speed (no Python call per entry)."""
    paths, types, sizes, modes, uids, gids, mtimes, links, digests = columns
    kinds = map(_TYPE_LIST.__getitem__, types)
    rows = zip(paths, kinds, sizes, modes, uids, gids, mtimes, links, digests, strict=True)
    return list(map(_new_tuple, repeat(FileEntry), rows))


def encode(index: LayerIndex) -> bytes:
    body = marshal.dumps(
        (
            _columns(index.entries.values()),
            list(index.whiteouts),
            _columns(index.whiteouts.values()),
            list(index.opaque),
            _columns(index.shadowed),
            None if index.sequence is None else _columns(index.sequence),
        )
    )
    payload = marshal.dumps(
        (
            list(index.warnings),
            index.tar_bytes,
            str(index.digest) if index.digest else "",
            str(index.diff_id) if index.diff_id else "",
            index.compressed_size,
            index.uncompressed_size,
            index.compression,
            [tuple(hit) for hit in _hit_fields(index.secrets)],
            body,
        )
    )
    return MAGIC + xxhash.xxh3_64_digest(payload) + payload


@gc_paused
def _decode_body(body: bytes) -> tuple[Any, ...]:
    entries, whiteout_paths, whiteouts, opaque, shadowed, sequence = marshal.loads(body)
    values = _entries(entries)
    return (
        dict(zip([e[0] for e in values], values, strict=True)),
        dict(zip(whiteout_paths, _entries(whiteouts), strict=True)),
        list(opaque),
        _entries(shadowed),
        None if sequence is None else _entries(sequence),
    )


_BODY = ("entries", "whiteouts", "opaque", "shadowed", "sequence")
_HEADER = ("warnings", "tar_bytes", "digest", "diff_id", "compressed_size",
           "uncompressed_size", "compression", "secrets")  # fmt: skip


def _hit_fields(hits: list[SecretHit]) -> list[tuple[str, str, int, int, str]]:
    """A layer's secret hits as plain tuples: kind, path, line, length, fingerprint (the
    hit holds no value, so neither does the cache)."""
    return [(h.kind, h.path, h.line, h.length, h.fingerprint) for h in hits]


_SLOTS = {name: LayerIndex.__dict__[name] for name in _BODY}


def _lazy(name: str) -> Any:
    slot = _SLOTS[name]

    def get(self: LazyLayerIndex) -> Any:
        try:
            return slot.__get__(self, LayerIndex)
        except AttributeError:
            self.decode_body()
            return slot.__get__(self, LayerIndex)

    def set(self: LazyLayerIndex, value: Any) -> None:
        slot.__set__(self, value)

    return property(get, set)


class LazyLayerIndex(LayerIndex):
    """A LayerIndex from the cache whose entries are decoded on first access.

    The header fields are set at once; `entries`, `whiteouts`, `opaque`, `shadowed` and
    `sequence` are read from the stored payload the first time any of them is read (a
    damaged payload raises there, but the whole entry was checksummed before).
    """

    __slots__ = ("_body",)
    _body: bytes | None

    entries = _lazy("entries")
    whiteouts = _lazy("whiteouts")
    opaque = _lazy("opaque")
    shadowed = _lazy("shadowed")
    sequence = _lazy("sequence")

    def decode_body(self) -> None:
        body = getattr(self, "_body", None)  # unset when built by LayerIndex.__init__
        if body is None:
            return
        for name, value in zip(_BODY, _decode_body(body), strict=True):
            _SLOTS[name].__set__(self, value)
        self._body = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LayerIndex):
            return NotImplemented
        names = [f.name for f in dataclasses.fields(LayerIndex)]
        return all(getattr(self, n) == getattr(other, n) for n in names)

    __hash__ = None  # type: ignore[assignment]

    @property
    def decoded(self) -> bool:
        return getattr(self, "_body", None) is None

    def with_blob(self, digest: Digest, compressed_size: int, compression: str) -> LayerIndex:
        """This layer as stored in another blob (another compression of the same tar)."""
        copy = _blank()
        for name in _HEADER:
            object.__setattr__(copy, name, getattr(self, name))
        body = getattr(self, "_body", None)
        if body is not None:
            copy._body = body
        else:
            copy._body = None
            for name in _BODY:
                _SLOTS[name].__set__(copy, getattr(self, name))
        copy.digest = digest
        copy.compressed_size = compressed_size
        copy.compression = compression
        return copy


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


_OTHER_FIELDS: list[tuple[str, Callable[[], Any]]] = []
for _field in dataclasses.fields(LayerIndex):  # fields added later: their defaults
    if _field.name in _BODY or _field.name in _HEADER:
        continue
    if _field.default_factory is not dataclasses.MISSING:
        _OTHER_FIELDS.append((_field.name, _field.default_factory))
    else:
        _OTHER_FIELDS.append((_field.name, _constant(_field.default)))


def _blank() -> LazyLayerIndex:
    index = LazyLayerIndex.__new__(LazyLayerIndex)
    for name, default in _OTHER_FIELDS:
        object.__setattr__(index, name, default())
    return index


def decode(data: bytes, *, lazy: bool = False) -> LayerIndex:
    """Parse an entry; ValueError for anything damaged.

    With `lazy`, the entries are decoded when first read (the checksum is still checked
    now); otherwise at once.
    """
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 8:
        raise ValueError("not a layer index entry")
    checksum = data[len(MAGIC) : len(MAGIC) + 8]
    payload = data[len(MAGIC) + 8 :]
    if xxhash.xxh3_64_digest(payload) != checksum:
        raise ValueError("checksum mismatch")
    try:
        (warnings, tar_bytes, digest, diff_id, compressed, uncompressed, compression, hits,
         body) = marshal.loads(payload)  # fmt: skip
        index = _blank()
        index.warnings = list(warnings)
        index.tar_bytes = int(tar_bytes)
        index.digest = Digest.parse(digest) if digest else None
        index.diff_id = Digest.parse(diff_id) if diff_id else None
        index.compressed_size = int(compressed)
        index.uncompressed_size = int(uncompressed)
        index.compression = str(compression)
        index.secrets = [SecretHit(*hit) for hit in hits]
        if not isinstance(body, bytes):
            raise TypeError("no entries")
        index._body = body
        if not lazy:
            index.decode_body()
    except Exception as exc:  # any malformed payload is a miss, never a crash
        raise ValueError(f"malformed entry ({exc})") from None
    return index


def seal(payload: bytes) -> bytes:
    """A result entry: magic, checksum, payload."""
    return RESULT_MAGIC + xxhash.xxh3_64_digest(payload) + payload


def unseal(data: bytes) -> bytes:
    """The payload of a result entry; ValueError when it is damaged."""
    head = len(RESULT_MAGIC) + 8
    if not data.startswith(RESULT_MAGIC) or len(data) < head:
        raise ValueError("not a result entry")
    payload = data[head:]
    if xxhash.xxh3_64_digest(payload) != data[len(RESULT_MAGIC) : head]:
        raise ValueError("checksum mismatch")
    return payload
