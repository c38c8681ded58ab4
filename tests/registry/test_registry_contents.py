"""File contents from a registry image: one blob fetched again, through real registries."""

from __future__ import annotations

from pathlib import Path

import imagebuilder as ib
import services

from inspector.contents import extract, read_file
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.registry import RegistrySource
from inspector.sources.registry_blobs import with_reopen
from registry.conftest import Sample
from registry.servers import PASSWORD, USER, RegistryServer

CREDS = f"{USER}:{PASSWORD}"
SEED = "sample"  # sample_image()'s default seed: its files' bytes follow from it


def pull(reference: str, **kwargs: object) -> LoadedImage:
    source = RegistrySource(reference, f"docker://{reference}", **kwargs)  # type: ignore[arg-type]
    return with_reopen(source, source.load(LoadEvents()))


def test_read_one_file_of_each_compression(
    plain_registry: RegistryServer, samples: dict[str, Sample]
) -> None:
    for compression in ("gzip", "zstd", "none"):
        ref = plain_registry.push(samples[compression].oci, f"sample/{compression}:v1")
        loaded = pull(ref)
        found = read_file(loaded, "etc/config", 3)
        assert found.layer == 1
        assert found.data == ib.content(4100, SEED + "v2")
        link = read_file(loaded, "var/cache/blob.link", 1)  # a hard link in the same layer
        assert link.data == ib.content(30_000, SEED + "cache")


def test_basic_auth_credentials_are_used_again(
    basic_registry: RegistryServer, samples: dict[str, Sample], tmp_path: Path
) -> None:
    ref = basic_registry.push(samples["gzip"].oci, "private/contents:1")
    loaded = pull(ref, creds=CREDS)
    result = extract(loaded, "usr/lib", 3, str(tmp_path / "lib"))
    assert (tmp_path / "lib" / "libbig.so").read_bytes() == ib.content(60_000, SEED + "lib")
    assert (tmp_path / "lib" / "libbig.so.1").readlink() == Path("libbig.so")
    assert (result.files, result.symlinks) == (1, 1)


def test_inspector_extract_from_a_registry(
    basic_registry: RegistryServer, samples: dict[str, Sample], tmp_path: Path
) -> None:
    ref = basic_registry.push(samples["zstd"].oci, "private/contents:zstd")
    result = services.run_cli(
        "extract",
        f"docker://{ref}",
        "/var/cache/new",
        "--creds",
        CREDS,
        "--to",
        tmp_path / "new",
        env={"HOME": str(tmp_path), "INSPECTOR_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new").read_bytes() == ib.content(100, SEED + "new")
