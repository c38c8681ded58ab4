"""What goes wrong with registries, against real ones: clear errors, no hangs, no leaks."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import imagebuilder as ib
import pytest

from inspector.errors import (
    DigestMismatch,
    ImageNotFound,
    RegistryError,
    SourceNotFound,
)
from inspector.indexer import LayerIndex
from inspector.registry.client import ClientOptions
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.registry import RegistrySource
from registry import servers
from registry.conftest import Sample, TokenRegistry, sample_image, write_sample
from registry.servers import PASSWORD, USER, Front, RegistryServer
from registry.test_registry_pull import archive, document

CREDS = f"{USER}:{PASSWORD}"
FAST = ClientOptions(attempts=3, backoff=0.05, max_backoff=0.2, connect_timeout=2, read_timeout=5)


def pull(reference: str, events: LoadEvents | None = None, **kwargs: Any) -> LoadedImage:
    source = RegistrySource(reference, f"docker://{reference}", **kwargs)
    return source.load(events or LoadEvents())


class Done(LoadEvents):
    """Records the layers reported as indexed (and so valid)."""

    def __init__(self) -> None:
        self.done: list[str] = []

    def layer_done(self, name: str, index: LayerIndex) -> None:
        self.done.append(name)


# ---------------------------------------------------------------------- not found


@pytest.fixture
def registries(
    plain_registry: RegistryServer,
    basic_registry: RegistryServer,
    token_registry: TokenRegistry,
    samples: dict[str, Sample],
) -> dict[str, tuple[RegistryServer, str | None]]:
    result: dict[str, tuple[RegistryServer, str | None]] = {
        "plain": (plain_registry, None),
        "basic": (basic_registry, CREDS),
        "token": (token_registry.registry, CREDS),
    }
    for registry, _ in result.values():
        registry.push(samples["gzip"].oci, "present/app:1")
    return result


@pytest.mark.parametrize("mode", ["plain", "basic", "token"])
def test_missing_tag(registries: dict[str, tuple[RegistryServer, str | None]], mode: str) -> None:
    registry, creds = registries[mode]
    with pytest.raises(ImageNotFound) as caught:
        pull(f"{registry.host}/present/app:nope", creds=creds)
    assert "tag 'nope' not found" in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("mode", ["plain", "basic", "token"])
def test_missing_repository(
    registries: dict[str, tuple[RegistryServer, str | None]], mode: str
) -> None:
    registry, creds = registries[mode]
    with pytest.raises(SourceNotFound) as caught:
        pull(f"{registry.host}/absent/thing:1", creds=creds)
    assert "repository absent/thing not found" in str(caught.value)


def test_missing_digest(plain_registry: RegistryServer, samples: dict[str, Sample]) -> None:
    plain_registry.push(samples["gzip"].oci, "present/app:1")
    digest = "sha256:" + "0" * 64
    with pytest.raises(ImageNotFound, match=f"manifest {digest} not found"):
        pull(f"{plain_registry.host}/present/app@{digest}")


def test_nothing_listening_fails_fast() -> None:
    port = servers.free_port()
    start = time.monotonic()
    with pytest.raises(RegistryError, match=f"cannot reach 127.0.0.1:{port}"):
        pull(f"127.0.0.1:{port}/app:1", options=FAST)
    assert time.monotonic() - start < 10


# --------------------------------------------------------------------- corruption


@pytest.mark.parametrize("compression", ["gzip", "none"])
def test_corrupted_blob_on_the_registry_disk(
    plain_registry: RegistryServer, tmp_path: Path, compression: ib.Compression
) -> None:
    """A layer whose stored bytes changed: a digest mismatch, and that layer is never
    reported as indexed."""
    sample = write_sample(tmp_path, sample_image(f"corrupt-{compression}"), compression=compression)
    ref = plain_registry.push(sample.oci, f"corrupt/{compression}:1")
    good = pull(ref)
    victim = max(good.image.layers, key=lambda layer: layer.size or 0)
    path = plain_registry.blob_file(str(victim.digest))
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))
    events = Done()
    with pytest.raises(DigestMismatch) as caught:
        pull(ref, events)
    assert str(victim.digest) in str(caught.value)
    assert "does not match its digest" in str(caught.value)
    assert str(victim.digest) not in events.done


def test_corrupted_config(plain_registry: RegistryServer, tmp_path: Path) -> None:
    sample = write_sample(tmp_path, sample_image("corrupt-config"), compression="gzip")
    ref = plain_registry.push(sample.oci, "corrupt/config:1")
    config = pull(ref).image.config_digest
    path = plain_registry.blob_file(str(config))
    path.write_bytes(path.read_bytes().replace(b"A=1", b"A=2"))
    with pytest.raises(DigestMismatch, match=r"config .* does not match its digest"):
        pull(ref)


# ----------------------------------------------------------------- a registry dies


@pytest.fixture
def doomed_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    try:
        servers.require_tools()
    except servers.Unavailable as exc:
        pytest.skip(str(exc))
    registry = RegistryServer(tmp_path / "doomed").start()
    try:
        yield registry
    finally:
        registry.stop()


class KillAt(LoadEvents):
    """Kills the registry once `threshold` bytes of a layer have arrived."""

    def __init__(self, registry: RegistryServer, threshold: int) -> None:
        self.registry = registry
        self.threshold = threshold
        self.received = 0
        self.killed_at: float | None = None
        self.done: list[str] = []

    def layer_progress(self, nbytes: int) -> None:
        self.received += nbytes
        if self.killed_at is None and self.received >= self.threshold:
            self.registry.kill()
            self.killed_at = time.monotonic()

    def layer_done(self, name: str, index: LayerIndex) -> None:
        self.done.append(name)


def test_registry_killed_mid_download(doomed_registry: RegistryServer, tmp_path: Path) -> None:
    big = hashlib.shake_256(b"inspector big layer").digest(48 << 20)
    image = ib.build_image(ib.Layer([ib.File("big.bin", big)]), tags=("big/app:1",))
    sample = write_sample(tmp_path, image, compression="none")
    ref = doomed_registry.push(sample.oci, "big/app:1")
    events = KillAt(doomed_registry, 4 << 20)
    with pytest.raises(RegistryError) as caught:
        pull(ref, events, options=FAST)
    assert events.killed_at is not None
    assert time.monotonic() - events.killed_at < 15  # bounded retries, no hang
    message = str(caught.value)
    assert "lost the connection" in message or "cannot reach" in message
    assert "gave up after 3 attempts" in message
    assert events.done == []


# -------------------------------------------------------------- redirects, retries


@pytest.fixture
def front(basic_registry: RegistryServer) -> Iterator[Front]:
    proxy = Front(basic_registry, redirect_blobs=True)
    try:
        yield proxy
    finally:
        proxy.close()


def test_redirect_to_another_host_gets_no_authorization(
    front: Front, basic_registry: RegistryServer, samples: dict[str, Sample]
) -> None:
    basic_registry.push(samples["gzip"].oci, "private/app:1")
    pulled = pull(f"{front.host}/private/app:1", creds=CREDS)
    assert document(pulled) == document(archive(samples["gzip"].archive))
    # The registry itself got the credentials ...
    assert any(seen.authorization for seen in front.seen if "/manifests/" in seen.path)
    # ... the blob host on 127.0.0.2 got every blob, and never an Authorization header.
    assert len(front.blob_seen) == 5  # the config and four layers
    assert all(seen.host.startswith("127.0.0.2:") for seen in front.blob_seen)
    assert [seen.authorization for seen in front.blob_seen] == [None] * 5


@pytest.fixture
def faulty(plain_registry: RegistryServer) -> Iterator[Front]:
    proxy = Front(plain_registry)
    try:
        yield proxy
    finally:
        proxy.close()


def test_retries_honour_retry_after(
    faulty: Front, plain_registry: RegistryServer, samples: dict[str, Sample]
) -> None:
    plain_registry.push(samples["gzip"].oci, "sample/gzip:v1")
    faulty.faults = [
        ("/manifests/", 502, None),
        ("/blobs/", 503, None),
        ("/blobs/", 429, "1"),
    ]
    start = time.monotonic()
    pulled = pull(f"{faulty.host}/sample/gzip:v1", options=FAST)
    assert time.monotonic() - start >= 1.0  # waited as long as Retry-After said
    assert faulty.faults == []
    assert document(pulled) == document(archive(samples["gzip"].archive))


def test_retries_are_bounded(
    faulty: Front, plain_registry: RegistryServer, samples: dict[str, Sample]
) -> None:
    plain_registry.push(samples["gzip"].oci, "sample/gzip:v1")
    faulty.faults = [("/manifests/", 503, "0")] * 10
    with pytest.raises(RegistryError, match="HTTP 503"):
        pull(f"{faulty.host}/sample/gzip:v1", options=FAST)
    assert len(faulty.faults) == 10 - FAST.attempts


# ------------------------------------------------------------------ TLS and proxies


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    try:
        servers.require_tools()
        import cryptography  # noqa: F401
    except (servers.Unavailable, ImportError) as exc:
        pytest.skip(str(exc))
    directory = tmp_path_factory.mktemp("registry-tls")
    registry = RegistryServer(directory, tls=servers.self_signed_tls(directory)).start()
    try:
        yield registry
    finally:
        registry.stop()


def test_untrusted_certificate_is_an_error(
    tls_registry: RegistryServer, samples: dict[str, Sample]
) -> None:
    ref = tls_registry.push(samples["gzip"].oci, "sample/gzip:v1")
    with pytest.raises(RegistryError) as caught:
        pull(ref)
    assert "not trusted" in str(caught.value)
    assert "--tls-verify=false" in str(caught.value)


def test_tls_verify_false(tls_registry: RegistryServer, samples: dict[str, Sample]) -> None:
    ref = tls_registry.push(samples["gzip"].oci, "sample/gzip:v1")
    pulled = pull(ref, tls_verify=False)
    assert document(pulled) == document(archive(samples["gzip"].archive))


def test_trusted_through_ssl_cert_file(
    tls_registry: RegistryServer, samples: dict[str, Sample], monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = tls_registry.push(samples["gzip"].oci, "sample/gzip:v1")
    assert tls_registry.tls is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_registry.tls[0]))
    assert pull(ref).layers


def test_proxies_from_the_environment(
    plain_registry: RegistryServer, samples: dict[str, Sample], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry that is not on this machine goes through HTTPS_PROXY (CONNECT) and, over
    plain HTTP with --tls-verify=false, HTTP_PROXY. The proxy sends everything to the local
    registry, so the name never has to resolve."""
    plain_registry.push(samples["gzip"].oci, "sample/gzip:v1")
    proxy = servers.ConnectProxy(plain_registry.port)
    try:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        name = f"registry.invalid:{plain_registry.port}"
        pulled = pull(f"{name}/sample/gzip:v1", tls_verify=False, options=FAST)
        assert document(pulled) == document(archive(samples["gzip"].archive))
        assert ("CONNECT", name) in proxy.seen
        assert any(target.startswith(f"http://{name}/v2/") for _, target in proxy.seen)
        # A registry on this machine is never proxied.
        proxy.seen.clear()
        assert pull(f"{plain_registry.host}/sample/gzip:v1").layers
        assert proxy.seen == []
    finally:
        proxy.close()


def test_layer_cache_skips_blobs_seen_before(
    faulty: Front, plain_registry: RegistryServer, samples: dict[str, Sample], tmp_path: Path
) -> None:
    """With the layer index cache, a second pull of the same blobs downloads only the config."""
    from inspector.cache import LayerCache

    plain_registry.push(samples["gzip"].oci, "sample/gzip:v1")
    cache = LayerCache(str(tmp_path / "cache"))
    ref = f"{faulty.host}/sample/gzip:v1"
    first = pull(ref, cache=cache)
    blob_gets = [s for s in faulty.seen if "/blobs/" in s.path]
    assert len(blob_gets) == 5
    faulty.seen.clear()
    second = pull(ref, cache=cache)
    assert [s.path for s in faulty.seen if "/blobs/" in s.path] == [
        f"/v2/sample/gzip/blobs/{second.image.config_digest}"
    ]
    assert document(second) == document(first)
