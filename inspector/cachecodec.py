"""What a cache entry's bytes are: a LayerIndex encoded and decoded, and the framing of
the other entries (analysis results, file lists, prefix states).

Every entry is a magic, an xxh3 checksum of the payload, and the payload. A layer entry
(magic `INSPIDX3`) has a payload of frames, each a kind byte, a length and its bytes: a
marshal frame (kind 0) or a column of signed little-endian integers of 64 bits (kind 1)
or 32 bits (kind 2), read back into an `array` without an int object each. The first
frame is the small header (warnings, sizes, digests, compression, secret hits, never a
value); then the entries column by column (paths, types, sizes, ... of all entries), one
frame per column, so that neither side holds more than one column's bytes beside the
index, and no frame is copied into a larger one. It is decoded in two steps: the header
at once, the entries only when something first reads them (`LazyLayerIndex`). A run
whose analysis result is cached (`--text`, `--ci`, `--json --no-file-lists`) never
decodes them at all. Every other entry is sealed the same way under the magic
`INSPRES1`. An entry can be written and checked piece by piece (`Sealing`), so a large
payload is never held whole. Damage is a ValueError; the store (cache.py) treats it as a
miss. The audit ships layer indexes between workers in this encoding too.
"""

from __future__ import annotations

import dataclasses
import marshal
import struct
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

import xxhash

from inspector.changes import EntryType, FileEntry
from inspector.digest import Digest
from inspector.gcpause import gc_paused, paused
from inspector.indexer import LayerIndex
from inspector.secrets import SecretHit

MAGIC = b"INSPIDX3"
RESULT_MAGIC = b"INSPRES1"
_TYPE_LIST = list(EntryType)
_TYPE_CODE = {t: i for i, t in enumerate(_TYPE_LIST)}
_new_tuple = tuple.__new__
_FRAME = struct.Struct("<BQ")  # kind, length
_MARSHAL = 0
_INT_KINDS = tuple(  # frame kind, array type code: signed, little-endian
    (kind, code) for kind, code, size in ((2, "i", 4), (1, "q", 8)) if array(code).itemsize == size
)
_INT_CODES = dict(_INT_KINDS)
_SWAP = sys.byteorder != "little"
_INT_COLUMNS = frozenset((2, 3, 4, 5, 6))  # size, mode, uid, gid, mtime
_FIELDS = 9  # FileEntry's
_BODY_FRAMES = (3 * _FIELDS + 2, 4 * _FIELDS + 2)  # without and with a `sequence`


class Sealing:
    """The framing of an entry (magic, checksum of the payload, payload) written or
    checked one piece of payload at a time: `update` each piece, then `head()` is what
    the entry starts with (`size` bytes)."""

    def __init__(self, magic: bytes = RESULT_MAGIC) -> None:
        self.magic = magic
        self.size = len(magic) + 8
        self._hash = xxhash.xxh3_64()

    def update(self, part: bytes | memoryview) -> None:
        self._hash.update(part)

    def head(self) -> bytes:
        return self.magic + self._hash.digest()


Frame = tuple[bytes, bytes | memoryview]
"""A frame's head and its bytes, apart, so neither is copied into the other."""


def _frame(value: Any, version: int = 4) -> Frame:
    data = marshal.dumps(value, version)
    return _FRAME.pack(_MARSHAL, len(data)), data


def _int_frame(values: list[int]) -> Frame:
    """A column of integers: 32 bits each when they all fit (modes, owners, most sizes
    and times), else 64, else (past 64 bits) a marshal list."""
    for kind, code in _INT_KINDS:
        try:
            column = array(code, values)
        except OverflowError:
            continue
        if _SWAP:  # pragma: no cover - big-endian machines
            column.byteswap()
        data = memoryview(column).cast("B")
        return _FRAME.pack(kind, len(data)), data
    return _frame(values)


def _column_frames(entries: Iterable[FileEntry]) -> Iterator[Frame]:
    """Entries as 9 frames, one column at a time (strings without marshal's reference
    table: paths are mostly unique, and writing them is then faster)."""
    rows = entries if isinstance(entries, list) else list(entries)
    for field in range(_FIELDS):
        with paused():
            column = list(map(itemgetter(field), rows))
            if field == 1:
                frame = _frame(bytes(map(_TYPE_CODE.__getitem__, column)))
            elif field in _INT_COLUMNS:
                frame = _int_frame(column)
            else:
                frame = _frame(column, 2)
            del column
        yield frame


def _read_frames(data: memoryview) -> list[Any]:
    """Every frame's value (a marshal frame's object, an integer column's array)."""
    values: list[Any] = []
    position, end = 0, len(data)
    while position < end:
        kind, length = _FRAME.unpack_from(data, position)
        start = position + _FRAME.size
        position = start + length
        if position > end:
            raise ValueError("a frame runs past the end")
        if kind == _MARSHAL:
            values.append(marshal.loads(data[start:position]))
        elif kind in _INT_CODES:
            column = array(_INT_CODES[kind])
            column.frombytes(data[start:position])
            if _SWAP:  # pragma: no cover - big-endian machines
                column.byteswap()
            values.append(column)
        else:
            raise ValueError(f"frame kind {kind}")
    return values


def _entries(columns: Sequence[Any]) -> list[FileEntry]:
    """The entries back from their 9 columns, built at C speed (no Python call per
    entry)."""
    paths, types, sizes, modes, uids, gids, mtimes, links, digests = columns
    kinds = map(_TYPE_LIST.__getitem__, types)
    rows = zip(paths, kinds, sizes, modes, uids, gids, mtimes, links, digests, strict=True)
    return list(map(_new_tuple, repeat(FileEntry), rows))


def encode_frames(index: LayerIndex) -> Iterator[Frame]:
    """The payload of a layer entry, frame by frame (see the module's docstring)."""
    yield _frame(
        (
            list(index.warnings),
            index.tar_bytes,
            str(index.digest) if index.digest else "",
            str(index.diff_id) if index.diff_id else "",
            index.compressed_size,
            index.uncompressed_size,
            index.compression,
            [tuple(hit) for hit in _hit_fields(index.secrets)],
        )
    )
    yield from _column_frames(index.entries.values())
    yield _frame(list(index.whiteouts), 2)
    yield from _column_frames(index.whiteouts.values())
    yield _frame(list(index.opaque), 2)
    yield from _column_frames(index.shadowed)
    if index.sequence is not None:
        yield from _column_frames(index.sequence)


def encode(index: LayerIndex) -> bytes:
    """A layer entry's bytes (the store writes `encode_frames` piece by piece instead)."""
    return seal(b"".join(part for frame in encode_frames(index) for part in frame), MAGIC)


@gc_paused
def _decode_body(body: memoryview) -> tuple[Any, ...]:
    frames = _read_frames(body)
    if len(frames) not in _BODY_FRAMES:
        raise ValueError(f"{len(frames)} frames")
    step = _FIELDS
    values = _entries(frames[:step])
    whiteout_paths = frames[step]
    whiteouts = _entries(frames[step + 1 : 2 * step + 1])
    opaque = frames[2 * step + 1]
    shadowed = _entries(frames[2 * step + 2 : 3 * step + 2])
    sequence = _entries(frames[3 * step + 2 :]) if len(frames) > 3 * step + 2 else None
    return (
        dict(zip([e[0] for e in values], values, strict=True)),
        dict(zip(whiteout_paths, whiteouts, strict=True)),
        list(opaque),
        shadowed,
        sequence,
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
    _body: memoryview | None

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

    def __getstate__(self) -> object:
        self.decode_body()  # (the entries' frames are a view of the entry: not picklable)
        return super().__getstate__()

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
    now); otherwise at once. The entries' frames stay a view of `data` until then.
    """
    head = len(MAGIC) + 8
    if not data.startswith(MAGIC) or len(data) < head:
        raise ValueError("not a layer index entry")
    payload = memoryview(data)[head:]
    if xxhash.xxh3_64_digest(payload) != data[len(MAGIC) : head]:
        raise ValueError("checksum mismatch")
    try:
        kind, length = _FRAME.unpack_from(payload, 0)
        if kind != _MARSHAL or _FRAME.size + length > len(payload):
            raise ValueError("no header")
        header = payload[_FRAME.size : _FRAME.size + length]
        (warnings, tar_bytes, digest, diff_id, compressed, uncompressed, compression,
         hits) = marshal.loads(header)  # fmt: skip
        index = _blank()
        index.warnings = list(warnings)
        index.tar_bytes = int(tar_bytes)
        index.digest = Digest.parse(digest) if digest else None
        index.diff_id = Digest.parse(diff_id) if diff_id else None
        index.compressed_size = int(compressed)
        index.uncompressed_size = int(uncompressed)
        index.compression = str(compression)
        index.secrets = [SecretHit(*hit) for hit in hits]
        index._body = payload[_FRAME.size + length :]
        if not lazy:
            index.decode_body()
    except Exception as exc:  # any malformed payload is a miss, never a crash
        raise ValueError(f"malformed entry ({exc})") from None
    return index


def seal(payload: bytes, magic: bytes = RESULT_MAGIC) -> bytes:
    """An entry: magic, checksum, payload."""
    return magic + xxhash.xxh3_64_digest(payload) + payload


def unseal(data: bytes) -> bytes:
    """The payload of a result entry; ValueError when it is damaged."""
    head = len(RESULT_MAGIC) + 8
    if not data.startswith(RESULT_MAGIC) or len(data) < head:
        raise ValueError("not a result entry")
    payload = data[head:]
    if xxhash.xxh3_64_digest(payload) != data[len(RESULT_MAGIC) : head]:
        raise ValueError("checksum mismatch")
    return payload
