"""Deadlines against a real slow server on loopback: nothing waits past `--timeout`.

A server that sends a byte now and then never trips a socket read timeout; these tests
prove that a manifest, a token answer or response headers trickled that way end at the
request's deadline, that a blob download that stalls (or goes silent) fails after the
stall window, and that a normal pull is not bothered (nor a reader that is slow itself).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpcore
import imagebuilder as ib
import pytest
import services

from inspector.digest import Digest
from inspector.errors import RegistryError, UsageError
from inspector.registry import deadline
from inspector.registry.client import ClientOptions, RegistryClient
from inspector.registry.download import BlobStream
from inspector.registry.reference import parse_reference
from inspector.source import LoadEvents
from inspector.sources.registry import RegistrySource
from registry.servers import Slowness, SlowRegistry

OPTIONS = ClientOptions(attempts=2, backoff=0.05, max_backoff=0.1, timeout=2.0)
NOISE = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(12_500))  # 400 kB
LAYER = ib.Layer([ib.File("data/noise", NOISE)]).tar()  # gzip cannot shrink it


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def slow() -> Iterator[SlowRegistry]:
    blob = gzip.compress(LAYER, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [_sha(LAYER)]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": ib.OCI_MANIFEST,
            "config": {"mediaType": ib.OCI_CONFIG, "digest": _sha(config), "size": len(config)},
            "layers": [
                {"mediaType": ib.LAYER_TYPES["gzip"], "digest": _sha(blob), "size": len(blob)}
            ],
        }
    ).encode()
    server = SlowRegistry(manifest, {_sha(config): config, _sha(blob): blob})
    try:
        yield server
    finally:
        server.close()


def pull(server: SlowRegistry) -> float:
    """Load the server's image; return the seconds it took."""
    source = RegistrySource(
        server.reference, f"docker://{server.reference}", options=OPTIONS, env={}
    )
    start = time.monotonic()
    source.load(LoadEvents())
    return time.monotonic() - start


def failing_pull(server: SlowRegistry) -> tuple[str, float]:
    start = time.monotonic()
    with pytest.raises(RegistryError) as caught:
        pull(server)
    return str(caught.value), time.monotonic() - start


def test_a_normal_pull_is_not_bothered(slow: SlowRegistry) -> None:
    assert pull(slow) < 2


@pytest.mark.parametrize(
    "slowness",
    [
        pytest.param(Slowness("/manifests/"), id="manifest-body"),
        pytest.param(Slowness("/manifests/", headers=True), id="manifest-headers"),
        pytest.param(Slowness("/manifests/", silent=True), id="manifest-silent"),
        pytest.param(Slowness("/blobs/sha256:", step=1, interval=0.3), id="config-body"),
    ],
)
def test_a_trickled_document_ends_at_the_deadline(slow: SlowRegistry, slowness: Slowness) -> None:
    slow.slow.append(slowness)
    message, seconds = failing_pull(slow)
    assert f"{slow.host} did not answer within 2 s (--timeout, INSPECTOR_TIMEOUT)" in message
    assert 1.9 < seconds < 4.5  # the deadline, not the 60 s read timeout, nor forever


def test_a_trickled_token_answer_ends_at_the_deadline(slow: SlowRegistry) -> None:
    slow.token = True
    assert pull(slow) < 2  # (the token flow works at full speed)
    slow.slow.append(Slowness("/token", interval=0.5))
    message, seconds = failing_pull(slow)
    assert "did not answer within 2 s" in message
    assert seconds < 4.5


@pytest.mark.parametrize(
    "slowness",
    [
        pytest.param(Slowness("/blobs/", step=1024, interval=0.1), id="trickle-10-KiB-per-s"),
        pytest.param(Slowness("/blobs/", silent=True), id="silent"),
    ],
)
def test_a_stalled_blob_download_fails(slow: SlowRegistry, slowness: Slowness) -> None:
    blob = next(d for d, data in slow.blobs.items() if data[:2] == b"\x1f\x8b")
    slowness.part = f"/blobs/{blob}"
    slow.slow.append(slowness)
    message, seconds = failing_pull(slow)
    assert f"the download of layer {blob} stalled at byte " in message
    assert "less than 64 KiB in 2 s (--timeout, INSPECTOR_TIMEOUT)" in message
    assert 1.9 < seconds < 4.5


def test_a_slow_but_steady_blob_download_goes_on(slow: SlowRegistry) -> None:
    blob = next(d for d, data in slow.blobs.items() if data[:2] == b"\x1f\x8b")
    slow.slow.append(Slowness(f"/blobs/{blob}", step=48 << 10, interval=0.5))  # ~96 KiB/s
    assert pull(slow) > 1  # slower than the stall window of 2 s, and it still completes


def test_time_the_reader_spends_between_reads_is_not_a_stall(slow: SlowRegistry) -> None:
    blob = next(d for d, data in slow.blobs.items() if data[:2] == b"\x1f\x8b")
    ref = parse_reference(slow.reference, "slow")
    fast = ClientOptions(attempts=1, timeout=0.5, stall_bytes=1 << 30)
    with RegistryClient(ref, options=fast) as client:
        stream = BlobStream(client, Digest.parse(blob), len(slow.blobs[blob]), "layer")
        got = stream.read(10)
        time.sleep(1.2)  # (decompressing, indexing...)
        while chunk := stream.read(1 << 16):
            got += chunk
        stream.close()
    assert got == slow.blobs[blob]


def test_timeout_comes_from_the_flag_then_the_environment() -> None:
    def seconds(timeout: float | None, env: dict[str, str]) -> float:
        return RegistrySource("r.example/a:1", "a", timeout=timeout, env=env).options.timeout

    assert seconds(None, {}) == 60.0
    assert seconds(None, {"INSPECTOR_TIMEOUT": "7.5"}) == 7.5
    assert seconds(3, {"INSPECTOR_TIMEOUT": "7.5"}) == 3
    for bad in ("0", "-1", "nan", "inf", "soon", "1e9"):
        with pytest.raises(UsageError, match="INSPECTOR_TIMEOUT"):
            seconds(None, {"INSPECTOR_TIMEOUT": bad})
    with pytest.raises(UsageError, match=r"^--timeout 0: expected seconds"):
        seconds(0, {})


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_the_command_line_gives_up_at_its_timeout(
    slow: SlowRegistry, tmp_path: Path, how: str
) -> None:
    slow.slow.append(Slowness("/manifests/", interval=0.5))
    flag = ["--timeout", "1.5"] if how == "flag" else []
    env = {"INSPECTOR_TIMEOUT": "1.5"} if how == "environment" else {}
    start = time.monotonic()
    result = services.run_cli(
        f"docker://{slow.reference}",
        "--text",
        "--no-cache",
        *flag,
        env=services.cli_env(extra={"HOME": str(tmp_path), **env}),
        timeout=60,
    )
    seconds = time.monotonic() - start
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.endswith("did not answer within 1.5 s (--timeout, INSPECTOR_TIMEOUT)")
    assert "Traceback" not in result.stderr
    assert seconds < 10


def test_a_socket_read_may_bring_more_than_httpcore_asks() -> None:
    """The deadline's stream wrapper asks for READ_BYTES at least (httpcore asks 64 KiB),
    and still for more when more is asked, with the time the deadline leaves."""
    asked: list[tuple[int, float | None]] = []

    class Inner(httpcore.NetworkStream):
        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            asked.append((max_bytes, timeout))
            return b"x"

    stream = deadline._Stream(Inner())
    with deadline.within(5.0):
        assert stream.read(64 << 10, timeout=30.0) == b"x"
        stream.read(deadline.READ_BYTES * 2)
    assert asked[0][0] == deadline.READ_BYTES > 64 << 10
    assert asked[0][1] is not None
    assert asked[0][1] <= 5.0
    assert asked[1][0] == deadline.READ_BYTES * 2
