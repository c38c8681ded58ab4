"""Pulling from real registries gives the same analysis as the archive of the same image."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from imagebuilder import File, Layer, build_image, docker_save_legacy

from inspector import report
from inspector.analysis import analyse
from inspector.dive import dive_numbers
from inspector.errors import PlatformNotFound
from inspector.indexer import LayerIndex
from inspector.model import Platform
from inspector.registry.client import ClientOptions
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.archive import ArchiveSource
from inspector.sources.registry import RegistrySource
from registry.conftest import Sample, TokenRegistry
from registry.servers import PASSWORD, USER, RegistryServer

CREDS = f"{USER}:{PASSWORD}"
# What legitimately differs between two sources of the same image.
IMAGE_NAMING = ("name", "tags")
BLOB_STORAGE = ("id", "digest", "mediaType", "compressedBytes")


def document(loaded: LoadedImage, *, blobs_differ: bool = False) -> dict[str, Any]:
    """The JSON report without what names the source (and the blob storage, if asked)."""
    doc = report.document(
        analyse(loaded.image, loaded.layers), dive_numbers(loaded.layers), loaded.layers, ()
    )
    image = {k: v for k, v in doc["image"].items() if k not in IMAGE_NAMING}
    if blobs_differ:
        image.pop("manifestDigest")
        image.pop("compressedBytes")
    layers = [
        {k: v for k, v in layer.items() if not (blobs_differ and k in BLOB_STORAGE)}
        for layer in doc["layer"]
    ]
    return {**doc, "image": image, "layer": layers}


def archive(path: Path, platform: Platform | None = None) -> LoadedImage:
    return ArchiveSource(str(path), str(path), platform=platform).load(LoadEvents())


def pull(reference: str, **kwargs: Any) -> LoadedImage:
    return RegistrySource(reference, f"docker://{reference}", **kwargs).load(LoadEvents())


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
def test_same_report_as_the_archive(
    plain_registry: RegistryServer, samples: dict[str, Sample], compression: str
) -> None:
    sample = samples[compression]
    ref = plain_registry.push(sample.oci, f"sample/{compression}:v1")
    pulled = pull(ref)
    local = archive(sample.archive)
    assert document(pulled) == document(local)
    assert [ix.compression for ix in pulled.layers] == [compression] * 4
    assert pulled.image.tags == (ref,)
    assert pulled.image.manifest_digest is not None


def test_a_real_docker_save_pushed_and_pulled(
    plain_registry: RegistryServer, dive_archive: Path
) -> None:
    """skopeo recompresses the archive's plain layers with gzip: blobs differ, numbers don't."""
    ref = plain_registry.push(f"docker-archive:{dive_archive}", "dive/test:latest", preserve=False)
    pulled = pull(ref)
    local = archive(dive_archive)
    assert document(pulled, blobs_differ=True) == document(local, blobs_differ=True)
    assert dive_numbers(pulled.layers) == dive_numbers(local.layers)
    assert len(pulled.layers) == 14
    assert {ix.compression for ix in pulled.layers} == {"gzip"}


def test_by_digest_equals_by_tag(
    plain_registry: RegistryServer, samples: dict[str, Sample]
) -> None:
    ref = plain_registry.push(samples["gzip"].oci, "sample/gzip:v1")
    by_tag = pull(ref)
    digest = by_tag.image.manifest_digest
    by_digest = pull(f"{plain_registry.host}/sample/gzip@{digest}")
    assert document(by_digest) == document(by_tag)
    assert by_digest.image.tags == ()
    tagged_and_pinned = pull(f"{ref}@{digest}")
    assert tagged_and_pinned.image.manifest_digest == digest


def test_basic_auth(basic_registry: RegistryServer, samples: dict[str, Sample]) -> None:
    ref = basic_registry.push(samples["gzip"].oci, "private/app:1")
    assert document(pull(ref, creds=CREDS)) == document(archive(samples["gzip"].archive))


def test_bearer_token_with_credentials(
    token_registry: TokenRegistry, samples: dict[str, Sample]
) -> None:
    registry, tokens = token_registry.registry, token_registry.tokens
    ref = registry.push(samples["zstd"].oci, "private/app:zstd")
    before = len(tokens.requests)
    pulled = pull(ref, creds=CREDS)
    assert document(pulled) == document(archive(samples["zstd"].archive))
    asked = tokens.requests[before:]
    # One token for the one scope, reused by every request and every layer thread.
    assert len(asked) == 1
    assert asked[0].user == USER
    assert asked[0].scopes == ["repository:private/app:pull"]


def test_anonymous_bearer_token(token_registry: TokenRegistry, samples: dict[str, Sample]) -> None:
    registry, tokens = token_registry.registry, token_registry.tokens
    ref = registry.push(samples["gzip"].oci, "public/app:1")
    before = len(tokens.requests)
    assert document(pull(ref)) == document(archive(samples["gzip"].archive))
    assert [r.user for r in tokens.requests[before:]] == [None]


def test_token_expired_mid_pull_is_fetched_again(
    token_registry: TokenRegistry, samples: dict[str, Sample]
) -> None:
    """The token server says 300 s but the token is already stale: the registry answers
    401, the client drops the cached token, gets a new one and carries on."""
    registry, tokens = token_registry.registry, token_registry.tokens
    ref = registry.push(samples["gzip"].oci, "private/app:1")
    tokens.stale_tokens = 1
    before = len(tokens.requests)
    pulled = pull(ref, creds=CREDS)
    assert tokens.stale_tokens == 0
    assert len(tokens.requests) - before == 2
    assert document(pulled) == document(archive(samples["gzip"].archive))


# ------------------------------------------------------------------------- platforms


def test_index_default_platform_is_the_hosts(
    plain_registry: RegistryServer, samples: dict[str, Sample]
) -> None:
    ref = plain_registry.push(samples["multi"].oci, "multi/app:latest", all_images=True)
    host = Platform.host()
    if host.architecture not in ("amd64", "arm64"):
        pytest.skip(f"the sample index has no image for this host ({host})")
    pulled = pull(ref)
    assert pulled.image.platform is not None
    assert pulled.image.platform.architecture == host.architecture
    assert document(pulled) == document(archive(samples["multi"].archive, host))


@pytest.mark.parametrize("wanted", ["linux/arm64", "linux/arm64/v8", "linux/amd64"])
def test_index_platform_selection(
    plain_registry: RegistryServer, samples: dict[str, Sample], wanted: str
) -> None:
    ref = plain_registry.push(samples["multi"].oci, "multi/app:latest", all_images=True)
    platform = Platform.parse(wanted)
    pulled = pull(ref, platform=platform)
    assert pulled.image.platform is not None
    assert platform.matches(pulled.image.platform)
    assert document(pulled) == document(archive(samples["multi"].archive, platform))


def test_index_missing_platform_lists_what_exists(
    plain_registry: RegistryServer, samples: dict[str, Sample]
) -> None:
    ref = plain_registry.push(samples["multi"].oci, "multi/app:latest", all_images=True)
    with pytest.raises(PlatformNotFound) as caught:
        pull(ref, platform=Platform.parse("linux/s390x"))
    message = str(caught.value)
    assert "linux/s390x" in message
    assert "linux/amd64" in message
    assert "linux/arm64/v8" in message
    assert "unknown" not in message  # the attestation manifests are not images
    assert caught.value.exit_code == 2


def test_single_manifest_of_another_platform(
    plain_registry: RegistryServer, samples: dict[str, Sample]
) -> None:
    ref = plain_registry.push(samples["gzip"].oci, "sample/gzip:v1")
    with pytest.raises(PlatformNotFound, match="available: linux/amd64"):
        pull(ref, platform=Platform.parse("linux/arm64"))


# --------------------------------------------------------------------------- progress


class Recorder(LoadEvents):
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int | None]] = []
        self.image_known_first = False

    def image_known(self, image: object) -> None:
        self.image_known_first = not self.calls

    def layer_started(self, name: str, total: int | None) -> None:
        self.calls.append(("started", name, total))

    def layer_progress(self, nbytes: int) -> None:
        self.calls.append(("progress", "", nbytes))

    def layer_done(self, name: str, index: LayerIndex) -> None:
        self.calls.append(("done", name, index.compressed_size))


def test_progress_is_reported_per_layer_in_order(
    plain_registry: RegistryServer, dive_archive: Path
) -> None:
    """Layers download in parallel, but events come base first, one layer at a time."""
    ref = plain_registry.push(f"docker-archive:{dive_archive}", "dive/test:latest", preserve=False)
    events = Recorder()
    source = RegistrySource(ref, ref, options=ClientOptions(parallel=4))
    loaded = source.load(events)
    assert events.image_known_first
    digests = [str(info.digest) for info in loaded.image.layers]
    started = [name for kind, name, _ in events.calls if kind == "started"]
    assert started == digests
    current: str | None = None
    received = 0
    for kind, name, value in events.calls:
        if kind == "started":
            assert current is None
            current, received = name, 0
        elif kind == "progress":
            assert current is not None
            received += value or 0
        else:
            assert name == current
            assert received == value  # every byte of the blob was reported
            current = None
    assert current is None


def test_progress_comes_in_steps_not_per_network_read(
    plain_registry: RegistryServer, tmp_path: Path
) -> None:
    """A worker gathers what it reads and posts it a mebibyte or more at a time (then the
    rest before the layer is done), so the caller's thread is not woken per 64 KiB."""
    data = random.Random(11).randbytes(5 << 20)  # incompressible: 5 MiB stored
    image = build_image(Layer([File("blob.bin", data), File("small.txt", b"x")]))
    path = tmp_path / "big.tar"
    path.write_bytes(docker_save_legacy(image))
    ref = plain_registry.push(f"docker-archive:{path}", "big/progress:latest", preserve=False)
    events = Recorder()
    loaded = RegistrySource(ref, ref).load(events)
    # (a layer_progress(0) stands for each step of decompressed bytes: not counted)
    steps = [value for kind, _, value in events.calls if kind == "progress" and value]
    stored = loaded.layers[0].compressed_size
    assert sum(steps) == stored > 5 << 20
    assert len(steps) <= stored // (1 << 20) + 1
    assert all(step >= 1 << 20 for step in steps[:-1])
