"""Deadlines for registry requests, kept on every socket operation.

httpx's timeouts bound each socket operation: a read that waits more than the read
timeout fails. A server that sends one byte a second never trips them, and kept the
client waiting for as long as it liked. A deadline bounds the whole: the thread that
makes a request sets one (`within`), and every connect, TLS handshake, write and read
that thread's sockets do is given at most the time left; once it has passed, the next
one fails at once with a timeout. The client turns that into "did not answer within
N s" (see `RegistryClient`), and a blob download uses the same mechanism to fail when
it stalls (`BlobStream`).

`install` puts the deadline under an httpx.Client by wrapping the network backend of
each of its connection pools (the default one and those of proxies): httpx has no
option for it, so this reaches one private attribute of httpx's transport and of
httpcore's pool; the loopback tests in tests/registry prove it still works.

The time allowed is `--timeout SECONDS`, else `INSPECTOR_TIMEOUT`, else DEFAULT.

The same wrapper lets a socket read return up to `READ_BYTES` where httpcore asks for
64 KiB: a blob then arrives in chunks as large as the socket has ready, and each chunk's
trip through h11, httpcore and httpx (Python code, with the GIL held) is paid a sixteenth
as often on a fast connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from inspector.errors import UsageError

DEFAULT = 60.0
"""Seconds a registry request may take, and a blob download may go without progress."""
ENV = "INSPECTOR_TIMEOUT"
MAX = 24 * 3600.0
READ_BYTES = 1 << 20
"""The most one socket read asks for (at least what httpcore asks)."""


def timeout_seconds(value: float | None, env: Mapping[str, str]) -> float | None:
    """`--timeout`, else INSPECTOR_TIMEOUT, checked; None when neither is given."""
    where = "--timeout"
    if value is None:
        text = env.get(ENV, "").strip()
        if not text:
            return None
        where = ENV
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{where}={text!r}: expected a number of seconds") from None
    if not 0 < value <= MAX:
        raise UsageError(f"{where} {value:g}: expected seconds from more than 0 to {MAX:g}")
    return value


@dataclass(frozen=True, slots=True)
class Deadline:
    """The moment (time.monotonic) by which the current request must be done."""

    when: float
    seconds: float  # the time it was given, for messages

    def left(self) -> float:
        return self.when - time.monotonic()


_local = threading.local()


def current() -> Deadline | None:
    """The deadline of the request this thread is making, if any."""
    found: Deadline | None = getattr(_local, "deadline", None)
    return found


def passed() -> Deadline | None:
    """This thread's deadline if it has passed (the reason a socket operation failed)."""
    found = current()
    return found if found is not None and found.left() <= 0 else None


@contextmanager
def within(seconds: float) -> Iterator[Deadline]:
    """A deadline `seconds` from now for this thread's requests; an enclosing deadline
    that comes sooner still holds."""
    outer = current()
    mine = Deadline(time.monotonic() + seconds, seconds)
    if outer is not None and outer.when <= mine.when:
        mine = outer
    _local.deadline = mine
    try:
        yield mine
    finally:
        _local.deadline = outer


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    """`timeout` shortened to the time this thread's deadline leaves; `error` once it
    has passed."""
    found = current()
    if found is None:
        return timeout
    left = found.left()
    if left <= 0:
        raise error(f"no answer within the {found.seconds:g} s allowed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the current deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        wanted = max(max_bytes, READ_BYTES)
        return self._inner.read(wanted, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """Connections whose streams keep the deadline of the thread that uses them."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(client: httpx.Client) -> None:
    """Make every connection pool of `client` keep the deadlines (see the module doc)."""
    transports: list[Any] = [getattr(client, "_transport", None)]
    transports.extend(getattr(client, "_mounts", {}).values())
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, _Backend):
            pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
