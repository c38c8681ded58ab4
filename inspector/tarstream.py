"""Our own streaming tar reader: one forward pass over any `read(n)` stream, no seeking.

It understands ustar, GNU (long names `L`/`K`, base-256 numbers) and PAX (local `x` and
global `g` headers, with `path`, `linkpath`, `size`, `uid`, `gid`, `mtime` overrides).
Metadata records are folded into the entry they describe; callers see one `TarHeader` per
real entry. Content is never buffered beyond one read chunk: a caller either iterates
`chunks()`, reads it as a nested stream with `member()`, or lets the reader skip it.

A tar stream is untrusted input, so (as Go's archive/tar, which Docker uses, does):
every number must fit in 64 signed bits (PAX values are decimal digits only; an `mtime`
may have a fraction, which is dropped); a metadata record (PAX header, GNU long name) is
at most `MAX_RECORD` bytes; PAX global records hold at most `MAX_GLOBAL` bytes in all.
A header that breaks a rule is a CorruptStream naming the stream and the entry.

Why not `tarfile` in stream mode: it keeps every `TarInfo` (3.11), cannot hand a member's
content to a second tar reader without copying, and its header parser is about three times
slower than this one on layers of small files (benchmarks/tar_reader.py).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from zlib import adler32

from inspector.errors import CorruptStream, excerpt

BLOCK = 512
CHUNK = 1 << 20
_ZERO_BLOCK = bytes(BLOCK)
_ADLER_MOD = 65521
_HEADER = struct.Struct("100s8s8s8s12s12s8s1s100s6s2s32s32s8s8s155s")

REGULAR = "0"
HARDLINK = "1"
SYMLINK = "2"
CHARDEV = "3"
BLOCKDEV = "4"
DIRECTORY = "5"
FIFO = "6"
MAX_RECORD = 1 << 20
"""The largest PAX header or GNU long name or link record read (Go's limit too)."""
MAX_GLOBAL = 64 << 10
"""The most bytes of PAX global records kept at once (keys and values)."""
_INT64 = 1 << 63
_PAX_INT = re.compile(r"-?[0-9]{1,19}")
_PAX_TIME = re.compile(r"(-?[0-9]{1,19})(?:\.[0-9]*)?")
_REGULAR_TYPES = frozenset({"0", "\0", "7", "S"})
_META_TYPES = frozenset({"x", "g", "L", "K", "X"})
_SKIPPED_TYPES = frozenset({"V", "M", "N"})


@dataclass(slots=True)
class TarHeader:
    """One real entry of a tar stream, after PAX and GNU records are applied."""

    name: str
    type: str
    size: int
    mode: int
    uid: int
    gid: int
    mtime: int
    linkname: str
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, str] | None = None  # (may be shared between entries: do not change)

    @property
    def is_regular(self) -> bool:
        return self.type == REGULAR


class _BadField(Exception):
    """A numeric field or a PAX record of a header that cannot be read; the reader turns
    it into a CorruptStream naming the stream and the entry."""


def _number(field: bytes, key: str) -> int:
    """A numeric header field: octal text, or GNU base-256 when the high bit is set."""
    if not field[0] & 0x80:
        try:
            return int(field.rstrip(b"\0 ") or b"0", 8)  # 12 octal digits: within 64 bits
        except ValueError:
            pass
    if field and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        if field[0] & 0x40:  # negative base-256
            value -= 1 << (8 * (len(field) - 1))
        if not -_INT64 <= value < _INT64:
            raise _BadField(f"{key} {value} does not fit in 64 bits")
        return value
    text = field.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise _BadField(f"invalid {key} field {excerpt(text)}") from None


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _checksum_ok(block: bytes) -> bool:
    field = block[148:156]
    stored = field.split(b"\0", 1)[0].strip()
    try:
        expected = int(stored, 8) if stored else -1
    except ValueError:
        return False
    # adler32's low half is (1 + sum of bytes) mod 65521: the byte sum, computed in C
    unsigned = (adler32(block) & 0xFFFF) - 1 - sum(field) + 8 * 32
    if unsigned % _ADLER_MOD == expected % _ADLER_MOD and 0 <= expected <= 512 * 255:
        return True
    signed = sum(b - 256 if b > 127 else b for b in block)
    signed -= sum(b - 256 if b > 127 else b for b in block[148:156])
    return signed + 8 * 32 == expected


def looks_like_tar(head: bytes) -> bool:
    """True if `head` (at least 512 bytes, or the whole stream) starts a tar archive."""
    if len(head) < BLOCK:
        return False
    block = head[:BLOCK]
    if block == _ZERO_BLOCK:
        return len(head) >= 2 * BLOCK and head[BLOCK : 2 * BLOCK] == _ZERO_BLOCK
    return _checksum_ok(block)


def _parse_pax(data: bytes, label: str) -> dict[str, str]:
    """The records of a PAX header; CorruptStream naming `label` if it is malformed."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise CorruptStream(f"{label}: malformed PAX header")
        try:
            length = int(data[pos:space]) if space - pos <= 20 else -1
        except ValueError:
            raise CorruptStream(f"{label}: malformed PAX record length") from None
        if length <= 0 or pos + length > len(data):
            raise CorruptStream(f"{label}: malformed PAX record length")
        record = data[space + 1 : pos + length - 1]
        key, sep, value = record.partition(b"=")
        if not sep:
            raise CorruptStream(f"{label}: malformed PAX record")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


class TarReader:
    """Iterate the entries of a tar stream in one forward pass.

    `read` is any callable returning up to n bytes (b"" at the end). `label` names the
    stream in error messages. `max_entry_size` rejects absurd header sizes up front.
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        label: str,
        *,
        max_entry_size: int = 1 << 44,
        seek: Callable[[int], object] | None = None,
        chunk: int = CHUNK,
    ) -> None:
        self._read = read
        self._chunk = chunk  # bytes asked of `read` at a time
        self._seek = seek  # relative forward seek of the underlying file, when it has one
        self._label = label
        self._buf = b""
        self._pos = 0
        self._remaining = 0  # unread content bytes of the current entry
        self._padding = 0
        self._global: dict[str, str] = {}
        self._global_xattrs: dict[str, str] = {}
        self._max = max_entry_size
        self.ended_cleanly = False

    # --- buffer -------------------------------------------------------------------
    def _fill(self, need: int) -> bool:
        """Make at least `need` bytes available at `_pos`; False at end of stream."""
        have = len(self._buf) - self._pos
        if have >= need:
            return True
        parts = [self._buf[self._pos :]] if have else []  # no copy of a new chunk alone
        while have < need:
            data = self._read(max(self._chunk, need - have))
            if not data:
                self._buf = b"".join(parts)
                self._pos = 0
                return False
            parts.append(data)
            have += len(data)
        self._buf = b"".join(parts)
        self._pos = 0
        return True

    def _take_block(self) -> bytes | None:
        if not self._fill(BLOCK):
            if len(self._buf) - self._pos:
                raise CorruptStream(f"{self._label}: truncated tar header")
            return None
        block = self._buf[self._pos : self._pos + BLOCK]
        self._pos += BLOCK
        return block

    def _skip(self, count: int) -> None:
        have = len(self._buf) - self._pos
        if count <= have:
            self._pos += count
            return
        count -= have
        self._buf = b""
        self._pos = 0
        if self._seek is not None and count >= self._chunk:
            self._seek(count)
            return
        while count > 0:
            data = self._read(self._chunk)
            if not data:
                raise CorruptStream(f"{self._label}: truncated (stream ended inside an entry)")
            if len(data) > count:
                self._buf = data
                self._pos = count
                return
            count -= len(data)

    def _take(self, count: int) -> bytes:
        if not self._fill(count):
            raise CorruptStream(f"{self._label}: truncated (stream ended inside an entry)")
        data = self._buf[self._pos : self._pos + count]
        self._pos += count
        return data

    # --- content of the current entry ---------------------------------------------
    def chunks(self) -> Iterator[memoryview | bytes]:
        """The unread content of the current entry, chunk by chunk."""
        while self._remaining > 0:
            have = len(self._buf) - self._pos
            if have == 0:
                data = self._read(self._chunk)
                if not data:
                    raise CorruptStream(f"{self._label}: truncated (stream ended inside an entry)")
                self._buf = data
                self._pos = 0
                have = len(data)
            take = have if have < self._remaining else self._remaining
            start = self._pos
            self._pos += take
            self._remaining -= take
            if start == 0 and take == len(self._buf):
                yield self._buf
            else:
                yield memoryview(self._buf)[start : start + take]

    def buffered_content(self) -> memoryview | None:
        """The whole unread content of the current entry if it is already buffered."""
        remaining = self._remaining
        start = self._pos
        if len(self._buf) - start < remaining:
            return None
        self._pos = start + remaining
        self._remaining = 0
        return memoryview(self._buf)[start : start + remaining]

    def read_content(self, n: int = -1) -> bytes:
        """Read up to n bytes (all with -1) of the current entry's content."""
        if n < 0 or n > self._remaining:
            n = self._remaining
        if n == 0:
            return b""
        have = len(self._buf) - self._pos
        if have == 0:
            data = self._read(max(self._chunk, n))
            if not data:
                raise CorruptStream(f"{self._label}: truncated (stream ended inside an entry)")
            self._buf = data
            self._pos = 0
            have = len(data)
        take = min(n, have)
        out = self._buf[self._pos : self._pos + take]
        self._pos += take
        self._remaining -= take
        return out

    def skip_content(self) -> None:
        """Skip the rest of the current entry (seeking past it when the file can)."""
        self._finish_entry()

    def peek_content(self, n: int) -> bytes:
        """Up to n leading bytes of the current entry's unread content, not consumed."""
        n = min(n, self._remaining)
        if not self._fill(n):
            raise CorruptStream(f"{self._label}: truncated (stream ended inside an entry)")
        return self._buf[self._pos : self._pos + n]

    @property
    def remaining(self) -> int:
        return self._remaining

    @property
    def padding(self) -> int:
        """Padding bytes after the current entry's content, not skipped yet."""
        return self._padding

    @property
    def max_entry_size(self) -> int:
        return self._max

    @property
    def has_global_records(self) -> bool:
        """True once a PAX global header applies to every later entry."""
        return bool(self._global)

    def buffer_state(self) -> tuple[bytes, int]:
        """The read buffer and the position of the next unread byte in it.

        For a caller that parses entries straight from the buffer (the indexer); it then
        hands back the position it reached with `consume_to`. Only between entries.
        """
        return self._buf, self._pos

    def consume_to(self, pos: int) -> None:
        """Mark the buffer consumed up to `pos`, an entry boundary (see `buffer_state`)."""
        if self._remaining or self._padding or not self._pos <= pos <= len(self._buf):
            raise ValueError("consume_to: not at an entry boundary within the buffer")
        self._pos = pos

    @property
    def buffered(self) -> int:
        """Bytes read from the stream but not consumed yet: the stream's position minus
        this is the position of the next unread byte (a member's data, after its header)."""
        return len(self._buf) - self._pos

    def _finish_entry(self) -> None:
        if self._remaining or self._padding:
            self._skip(self._remaining + self._padding)
        self._remaining = 0
        self._padding = 0

    def drain(self) -> int:
        """Read the stream to its end (e.g. to complete a digest); return the bytes read."""
        self._finish_entry()
        total = len(self._buf) - self._pos
        self._buf = b""
        self._pos = 0
        while data := self._read(self._chunk):
            total += len(data)
        return total

    # --- headers ------------------------------------------------------------------
    def __iter__(self) -> Iterator[TarHeader]:
        next_header = self.next_header
        while (header := next_header()) is not None:
            yield header

    def next_header(self) -> TarHeader | None:
        """The next real entry (metadata records folded in), or None at the end."""
        pax: dict[str, str] | None = None
        long_name: str | None = None
        long_link: str | None = None
        label = self._label
        unpack = _HEADER.unpack_from
        while True:
            if self._remaining or self._padding:
                self._finish_entry()
            if len(self._buf) - self._pos < BLOCK and not self._fill(BLOCK):
                if len(self._buf) - self._pos:
                    raise CorruptStream(f"{label}: truncated tar header")
                return None  # end of stream without end-of-archive blocks: tolerated
            buf = self._buf
            pos = self._pos
            self._pos = pos + BLOCK
            (raw_name, raw_mode, raw_uid, raw_gid, raw_size, raw_mtime, raw_sum, raw_type,
             raw_link, magic, _version, _uname, _gname, raw_major, raw_minor,
             raw_prefix) = unpack(buf, pos)  # fmt: skip
            try:
                expected = int(raw_sum.rstrip(b"\0 ") or b"-1", 8)
            except ValueError:
                expected = -1
            if (adler32(memoryview(buf)[pos : pos + BLOCK]) & 0xFFFF) - 1 - sum(
                raw_sum
            ) + 256 != expected % _ADLER_MOD or not 0 <= expected <= 130560:
                block = buf[pos : pos + BLOCK]
                if block == _ZERO_BLOCK:
                    self.ended_cleanly = True
                    return None
                if not _checksum_ok(block):
                    raise CorruptStream(f"{label}: invalid tar header (bad checksum)")
            typeflag = chr(raw_type[0]) if raw_type != b"\0" else "0"
            try:
                try:
                    size = int(raw_size.rstrip(b"\0 ") or b"0", 8)
                except ValueError:
                    size = _number(raw_size, "size")
                if pax is not None and "size" in pax and typeflag not in _META_TYPES:
                    size = _pax_int(pax, "size")
                if size < 0 or size > self._max:
                    raise _BadField(f"absurd entry size {size}")
                if typeflag in _META_TYPES:
                    if size > MAX_RECORD:
                        raise _BadField(
                            f"a metadata record of {size} bytes (more than {MAX_RECORD >> 20} MiB)"
                        )
                    data = self._take(size)
                    self._skip((-size) % BLOCK)
                    if typeflag == "L":
                        long_name = _text(data)
                    elif typeflag == "K":
                        long_link = _text(data)
                    elif typeflag == "g":
                        self._add_global(_parse_pax(data, label), label)
                    else:
                        pax = _parse_pax(data, label)
                    continue
                try:
                    mode = int(raw_mode.rstrip(b"\0 ") or b"0", 8)
                    uid = int(raw_uid.rstrip(b"\0 ") or b"0", 8)
                    gid = int(raw_gid.rstrip(b"\0 ") or b"0", 8)
                    mtime = int(raw_mtime.rstrip(b"\0 ") or b"0", 8)
                except ValueError:
                    mode = _number(raw_mode, "mode")
                    uid = _number(raw_uid, "uid")
                    gid = _number(raw_gid, "gid")
                    mtime = _number(raw_mtime, "mtime")
                devmajor = devminor = 0
                if typeflag in ("3", "4"):
                    devmajor = _number(raw_major, "devmajor")
                    devminor = _number(raw_minor, "devminor")
                name = raw_name.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                if raw_prefix[0] and magic == b"ustar\x00":
                    name = f"{_text(raw_prefix)}/{name}"
                linkname = _text(raw_link) if raw_link[0] else ""
                if typeflag in _REGULAR_TYPES:
                    # an old-style header (type NUL) whose name ends in "/" is a directory
                    typeflag = DIRECTORY if raw_type == b"\0" and name.endswith("/") else REGULAR
                xattrs: dict[str, str] | None = None
                if pax is not None or self._global:
                    records = _Records(pax or {}, self._global)
                    name = records.get("path", name)
                    linkname = records.get("linkpath", linkname)
                    if "uid" in records:
                        uid = _pax_int(records, "uid")
                    if "gid" in records:
                        gid = _pax_int(records, "gid")
                    if "mtime" in records:
                        mtime = _pax_time(records["mtime"])
                    xattrs = _xattrs(records.local, self._global_xattrs)
                    pax = None
            except _BadField as exc:
                entry = self._entry_name(raw_name, raw_prefix, magic, long_name, pax)
                raise CorruptStream(
                    f"{label}: entry {excerpt(entry)}: {exc} in tar header"
                ) from None
            if long_name is not None:
                name = long_name
                long_name = None
            if long_link is not None:
                linkname = long_link
                long_link = None
            if typeflag in _SKIPPED_TYPES:
                self._remaining = size
                self._padding = (-size) % BLOCK
                continue
            if typeflag == REGULAR or typeflag not in "123456":
                self._remaining = size
                self._padding = (-size) % BLOCK
            else:
                size = 0
            return TarHeader(
                name, typeflag, size, mode & 0o7777, uid, gid, mtime, linkname,
                devmajor, devminor, xattrs,
            )  # fmt: skip

    def _add_global(self, records: dict[str, str], label: str) -> None:
        """Apply a PAX global header: its records hold for every later entry."""
        self._global.update(records)
        if sum(len(k) + len(v) for k, v in self._global.items()) > MAX_GLOBAL:
            raise CorruptStream(
                f"{label}: PAX global records of more than {MAX_GLOBAL >> 10} KiB in tar header"
            )
        self._global_xattrs = {k: v for k, v in self._global.items() if k.startswith(_XATTR)}

    def _entry_name(
        self,
        raw_name: bytes,
        raw_prefix: bytes,
        magic: bytes,
        long_name: str | None,
        pax: dict[str, str] | None,
    ) -> str:
        """The name of the entry whose header is being read, for an error message."""
        if long_name is not None:
            return long_name
        path = (pax or {}).get("path") or self._global.get("path")
        if path:
            return path
        name = raw_name.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        if raw_prefix[0] and magic == b"ustar\x00":
            name = f"{_text(raw_prefix)}/{name}"
        return name


_XATTR = ("SCHILY.xattr.", "LIBARCHIVE.xattr.")


class _Records(Mapping[str, str]):
    """An entry's PAX records over the global ones, without merging them per entry."""

    __slots__ = ("inherited", "local")

    def __init__(self, local: dict[str, str], inherited: dict[str, str]) -> None:
        self.local = local
        self.inherited = inherited

    def __getitem__(self, key: str) -> str:
        local = self.local
        return local[key] if key in local else self.inherited[key]

    def __contains__(self, key: object) -> bool:
        return key in self.local or key in self.inherited

    def __iter__(self) -> Iterator[str]:
        yield from self.local
        yield from (k for k in self.inherited if k not in self.local)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def _xattrs(local: dict[str, str], inherited: dict[str, str]) -> dict[str, str] | None:
    """The extended attributes of an entry: its own PAX records over the global ones (the
    global dict itself when the entry has none of its own: no copy per entry)."""
    own = {k: v for k, v in local.items() if k.startswith(_XATTR)}
    if not own:
        return inherited or None
    return {**inherited, **own} if inherited else own


def _pax_time(value: str) -> int:
    """A PAX time, `seconds[.fraction]`: the whole seconds, within 64 bits."""
    match = _PAX_TIME.fullmatch(value)
    if match is None:
        raise _BadField(f"invalid PAX mtime {excerpt(value, 40)}")
    return _in_range(int(match.group(1)), "PAX mtime")


def _pax_int(records: Mapping[str, str], key: str) -> int:
    """A PAX number (`size`, `uid`, `gid`): decimal digits within 64 bits."""
    value = records[key]
    if _PAX_INT.fullmatch(value) is None:
        raise _BadField(f"invalid PAX {key} {excerpt(value, 40)}")
    return _in_range(int(value), f"PAX {key}")


def _in_range(value: int, key: str) -> int:
    if not -_INT64 <= value < _INT64:
        raise _BadField(f"{key} {value} does not fit in 64 bits")
    return value
