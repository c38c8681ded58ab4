"""A decompression bomb pulled from a registry: progress shows it, and Ctrl-C stops it.

The layer is 64 GiB of zeros in 2 MB of zstd (one stored batch of 1 MiB decompresses to
32 GiB), served by a loopback registry. The pull workers index it on their threads; a
KeyboardInterrupt on the caller's thread must stop them at their next decompressed
chunk, not at their next stored batch (minutes away).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator

import imagebuilder as ib
import pytest
from hostile_corpus import zstd_zeros

from inspector.registry.client import ClientOptions
from inspector.source import LoadEvents
from inspector.sources.registry import RegistrySource
from registry.servers import SlowRegistry

GIB = 64


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def bomb() -> Iterator[SlowRegistry]:
    blob = zstd_zeros(ib.tar_header("zeros", size=(GIB << 30) - 1024), GIB)
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "rootfs": {"diff_ids": [_sha(b"unknowable")]}}
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": ib.OCI_MANIFEST,
            "config": {"mediaType": ib.OCI_CONFIG, "digest": _sha(config), "size": len(config)},
            "layers": [
                {"mediaType": ib.LAYER_TYPES["zstd"], "digest": _sha(blob), "size": len(blob)}
            ],
        }
    ).encode()
    server = SlowRegistry(manifest, {_sha(config): config, _sha(blob): blob})
    try:
        yield server
    finally:
        server.close()


class Interrupt(LoadEvents):
    """Ctrl-C once the layer has decompressed `after` bytes (on the caller's thread)."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.read = 0
        self.inflated = 0
        self.at = 0.0

    def layer_progress(self, nbytes: int) -> None:
        self.read += nbytes

    def layer_inflated(self, nbytes: int) -> None:
        self.inflated += nbytes
        if self.inflated >= self.after:
            self.at = time.monotonic()
            raise KeyboardInterrupt


def test_ctrl_c_stops_the_pull_workers_at_once(bomb: SlowRegistry) -> None:
    source = RegistrySource(
        bomb.reference, "bomb", options=ClientOptions(attempts=1), env={}, cache=None
    )
    events = Interrupt(after=1 << 30)
    with pytest.raises(KeyboardInterrupt):
        source.load(events)
    stopped = time.monotonic() - events.at
    assert stopped < 3  # the workers were waited for, and they stopped within a chunk
    assert events.read > 0  # stored bytes were reported too
    assert not [t for t in threading.enumerate() if t.name.startswith("inspector-pull")]
