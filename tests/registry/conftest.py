"""Fixtures for the registry source: real registries on loopback, one per auth mode per session.

* `plain_registry` (no auth), `basic_registry` (htpasswd), `token_registry` (token auth
  through `servers.TokenServer`), each with images pushed by skopeo on first use through
  `pushed(...)`.
* `images`: the test images as OCI layouts on disk (gzip, zstd, uncompressed layers, a
  multi-platform index with attestations) and as archives for the archive source.
* Every test runs with a clean credential environment (HOME, DOCKER_CONFIG,
  REGISTRY_AUTH_FILE, XDG_* and INSPECTOR_REGISTRY_CREDS point at empty places), so the
  machine's own logins never leak in.

Missing tools skip the tests, and the suite's CI hook turns those skips into failures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import imagebuilder as ib
import pytest

from registry import servers
from registry.servers import RegistryServer, TokenServer


@pytest.fixture(autouse=True)
def _clean_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in (
        "DOCKER_CONFIG",
        "REGISTRY_AUTH_FILE",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        "INSPECTOR_REGISTRY_CREDS",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


def _tools() -> None:
    try:
        servers.require_tools()
    except servers.Unavailable as exc:
        pytest.skip(str(exc))


def _token_server(directory: Path) -> TokenServer:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        pytest.skip("the test token server needs the cryptography package")
    return TokenServer(directory)


@pytest.fixture(scope="session")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    _tools()
    server = RegistryServer(tmp_path_factory.mktemp("registry-plain")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    _tools()
    directory = tmp_path_factory.mktemp("registry-basic")
    server = RegistryServer(
        directory,
        auth=servers.htpasswd_auth(directory),
        creds=f"{servers.USER}:{servers.PASSWORD}",
    ).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class TokenRegistry:
    registry: RegistryServer
    tokens: TokenServer


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    _tools()
    directory = tmp_path_factory.mktemp("registry-token")
    tokens = _token_server(directory)
    server = RegistryServer(
        directory, auth=tokens.registry_auth(), creds=f"{servers.USER}:{servers.PASSWORD}"
    )
    try:
        server.start()
        yield TokenRegistry(server, tokens)
    finally:
        server.stop()
        tokens.close()


# ------------------------------------------------------------------------------ images


def sample_image(seed: str = "sample", platform: str = "linux/amd64") -> ib.BuiltImage:
    """Four layers with something for every metric: a modified file, a removed one, an
    opaque directory, a symlink, a hardlink and a file rewritten with the same bytes."""
    return ib.build_image(
        ib.Layer(
            [
                ib.Dir("etc"),
                ib.File("etc/config", 4000, seed=seed),
                ib.File("etc/old", 2500, seed=seed + "old"),
                ib.Dir("usr/lib"),
                ib.File("usr/lib/libbig.so", 60_000, seed=seed + "lib"),
                ib.Symlink("usr/lib/libbig.so.1", "libbig.so"),
            ],
            created_by="/bin/sh -c #(nop) ADD base",
        ),
        ib.Layer(
            [
                ib.File("etc/config", 4100, seed=seed + "v2"),
                ib.Whiteout("etc/old"),
                ib.Dir("var/cache"),
                ib.File("var/cache/blob", 30_000, seed=seed + "cache"),
                ib.Hardlink("var/cache/blob.link", "var/cache/blob"),
            ],
            created_by="RUN update",
        ),
        ib.Layer(
            [ib.Opaque("var/cache"), ib.File("var/cache/new", 100, seed=seed + "new")],
            created_by="RUN clean",
        ),
        ib.Layer(
            [ib.File("usr/lib/libbig.so", 60_000, seed=seed + "lib")],
            created_by="RUN touch libbig",
        ),
        tags=(f"example/{seed}:latest",),
        platform=platform,
    )


@dataclass(frozen=True)
class Sample:
    """An image as an OCI layout directory (to push) and as an archive (to compare)."""

    layout: Path
    archive: Path
    ref: str = ""

    @property
    def oci(self) -> str:
        return f"oci:{self.layout}" + (f":{self.ref}" if self.ref else "")


def write_sample(
    directory: Path, *images: ib.BuiltImage, compression: ib.Compression, multi: bool = False
) -> Sample:
    if multi:
        members = ib.multi_platform(*images, compression=compression, name="latest")
    else:
        members = ib.oci_layout(*images, compression=compression, ref_names="none")
    layout = ib.write_tree(directory / "layout", members)
    archive = directory / "image.tar"
    archive.write_bytes(ib.pack(members))
    return Sample(layout, archive, "latest" if multi else "")


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sample]:
    """`gzip`, `zstd`, `none` (uncompressed) and `multi` (amd64 + arm64/v8 + attestations)."""
    root = tmp_path_factory.mktemp("samples")
    result: dict[str, Sample] = {}
    for compression in ("gzip", "zstd", "none"):
        result[compression] = write_sample(
            root / compression, sample_image(), compression=compression
        )
    result["multi"] = write_sample(
        root / "multi",
        sample_image("amd", "linux/amd64"),
        sample_image("arm", "linux/arm64/v8"),
        compression="gzip",
        multi=True,
    )
    return result


@pytest.fixture(scope="session")
def dive_archive(dive_like: Callable[[str], Path]) -> Path:
    """A real `docker save` archive: the dive-like image Docker built (14 layers)."""
    return dive_like("dive-like")
