"""Streaming one blob from a registry, resuming with `Range` when the connection breaks."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx

from inspector.blobs import check_blob_size
from inspector.digest import Digest
from inspector.errors import DigestMismatch, RegistryError
from inspector.registry import deadline
from inspector.registry.client import RegistryClient, describe


class BlobStream:
    """Streams one blob's raw bytes; a connection that breaks off is resumed with `Range`.

    `read(n)` returns at most `n` bytes, `b""` at the end. It never returns more bytes
    than the descriptor's size (more is a DigestMismatch). A resume that cannot make
    progress is retried with backoff at most `attempts` times, then raises RegistryError.

    A download that stalls fails: the response headers must come within the client's
    `timeout`, and after them every `timeout` seconds spent waiting for the server must
    bring at least `stall_bytes` (a server trickling one byte a second gets nowhere).
    Only the time spent waiting counts, not the time the reader spends between reads
    (decompressing, indexing). The socket reads themselves end when the window is used up
    (`deadline.within`), so a silent server is not waited for either.
    """

    def __init__(self, client: RegistryClient, digest: Digest, size: int | None, what: str):
        self._client = client
        self.digest = digest
        self.size = size
        self.what = what
        self.offset = 0
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] = iter(())
        self._pending = b""
        self._pos = 0
        self._skip = 0
        self._failures = 0
        self._waited = 0.0  # seconds spent waiting for the server in the stall window
        self._window_bytes = 0  # bytes received in it
        self._open()

    @property
    def _path(self) -> str:
        return f"/v2/{self._client.ref.repository}/blobs/{self.digest}"

    def _open(self) -> None:
        client = self._client
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        with deadline.within(client.options.timeout):
            response = client.request("GET", self._path, headers=headers, stream=True)
        status = response.status_code
        if status == 206 and self.offset:
            start = response.headers.get("content-range", "").removeprefix("bytes ")
            first = start.split("-", 1)[0]
            if not first.isdigit() or int(first) > self.offset:
                response.close()
                raise RegistryError(f"{client.label}: bad Content-Range resuming {self.what}")
            self._skip = self.offset - int(first)
        elif status == 200:
            self._skip = self.offset  # no range support: read past what we have
        else:
            raise client.error(response, self.what)
        claimed = response.headers.get("docker-content-digest", "")
        if Digest.is_valid(claimed) and Digest.parse(claimed) != self.digest:
            response.close()
            raise DigestMismatch(
                f"{client.label}: the registry sent blob {claimed} for {self.what} ({self.digest})"
            )
        self._response = response
        self._chunks = response.iter_raw()
        self._waited = 0.0
        self._window_bytes = 0

    def _resume(self, reason: str) -> None:
        client = self._client
        self.close()
        self._failures += 1
        attempts = client.options.attempts
        lost = (
            f"{client.label}: lost the connection to {client.ref.api_host} while downloading "
            f"{self.what} {self._where()} ({reason})"
        )
        if self._failures >= attempts:
            raise RegistryError(f"{lost}; gave up after {attempts} attempts")
        client.pause(client.backoff(self._failures))
        try:
            self._open()
        except RegistryError as exc:
            detail = exc.message.removeprefix(f"{client.label}: ")
            raise RegistryError(f"{lost}; resuming failed: {detail}") from exc

    def _where(self) -> str:
        total = f" of {self.size}" if self.size is not None else ""
        return f"at byte {self.offset}{total}"

    def _stalled(self) -> RegistryError:
        self.close()
        client = self._client
        timeout = client.options.timeout
        return RegistryError(
            f"{client.label}: the download of {self.what} stalled {self._where()}: less than "
            f"{client.options.stall_bytes >> 10} KiB in {timeout:g} s "
            f"(--timeout, {deadline.ENV})"
        )

    def _next_chunk(self) -> bytes:
        """The next chunk of the response, waited for until the stall window is used up."""
        options = self._client.options
        start = time.monotonic()
        try:
            with deadline.within(max(options.timeout - self._waited, 0.0)):
                chunk = next(self._chunks)
        finally:
            self._waited += time.monotonic() - start
        self._window_bytes += len(chunk)
        if self._window_bytes >= options.stall_bytes:
            self._waited = 0.0
            self._window_bytes = 0
        elif self._waited >= options.timeout:
            raise self._stalled()
        return chunk

    def read(self, n: int = -1) -> bytes:
        self._client.check_cancelled()
        while self._pos >= len(self._pending):
            try:
                chunk = self._next_chunk()
            except StopIteration:
                if self.size is not None and self.offset < self.size:
                    self._resume("the registry ended the response early")
                    continue
                return b""
            except httpx.TransportError as exc:
                if self._waited >= self._client.options.timeout:
                    raise self._stalled() from None
                self._resume(describe(exc))
                continue
            if self._skip:
                dropped = min(self._skip, len(chunk))
                chunk = chunk[dropped:]
                self._skip -= dropped
            if not chunk:
                continue
            self.offset += len(chunk)
            self._failures = 0
            if self.size is not None and self.offset > self.size:
                self.close()
                check_blob_size(
                    f"{self._client.label}: {self.what}", self.size, self.offset, known=False
                )
            self._pending, self._pos = chunk, 0
        pending, pos = self._pending, self._pos
        if pos == 0 and (n < 0 or n >= len(pending)):
            self._pending = b""
            return pending  # the common case: a whole chunk, no copy
        end = len(pending) if n < 0 else min(len(pending), pos + n)
        self._pos = end
        return pending[pos:end]

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        self._chunks = iter(())
