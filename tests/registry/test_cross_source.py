"""One image through every source gives the same Inspection.

A Docker-built image is read from its `docker save` archive, from an OCI layout and an
oci-archive that skopeo recompressed (zstd, gzip), from a loopback registry it was pushed
to, from the Docker engine that built it, and from Podman storage it was loaded into. The
blobs differ (compression, digests, stored sizes); the layers do not, so everything the
front ends show must be equal, through the one `pipeline.inspect`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import services

from inspector import pipeline
from inspector.inspection import Inspection
from inspector.transports import SourceOptions
from registry.servers import RegistryServer

pytestmark = pytest.mark.docker


def _run(*argv: str, env: dict[str, str] | None = None) -> None:
    if shutil.which(argv[0]) is None:
        pytest.fail(f"{argv[0]} is not installed (scripts/test installs it)")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr


def _facts(found: Inspection) -> dict[str, Any]:
    """What must not depend on where the image was read from."""
    return {
        "diff_ids": [str(info.diff_id) for info in found.image.layers],
        "commands": [info.created_by for info in found.image.layers],
        "entries": [sorted(index.entries) for index in found.layers],
        "tar_sizes": [index.uncompressed_size for index in found.layers],
        "layer_stats": found.analysis.layers,
        "exact": found.analysis.exact,
        "dive": found.dive,
        "final_paths": found.analysis.final_paths,
    }


def test_every_source_gives_the_same_inspection(
    scenario_image: Callable[[str], services.BuiltImage],
    docker_engine: services.ManagedEngine,
    plain_registry: RegistryServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = scenario_image("deletions")
    archive = f"docker-archive:{built.archive}"
    layout, oci_tar = tmp_path / "layout", tmp_path / "image.oci.tar"
    _run(
        "skopeo",
        "--insecure-policy",
        "copy",
        "--dest-compress-format",
        "zstd",
        archive,
        f"oci:{layout}:v1",
    )
    _run(
        "skopeo",
        "--insecure-policy",
        "copy",
        "--dest-compress-format",
        "gzip",
        archive,
        f"oci-archive:{oci_tar}:v2",
    )
    pushed = f"{plain_registry.host}/cross/source:1"
    _run(
        "skopeo",
        "--insecure-policy",
        "copy",
        "--dest-tls-verify=false",
        archive,
        f"docker://{pushed}",
    )

    # Podman: the archive loaded into a private storage, read through `podman save`
    storage = tmp_path / "podman"
    storage.mkdir()
    conf = storage / "storage.conf"
    conf.write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{storage / "root"}"\n'
        f'runroot = "{storage / "run"}"\n'
    )
    podman_env = {**os.environ, "CONTAINERS_STORAGE_CONF": str(conf)}
    podman_env.pop("CONTAINER_HOST", None)
    _run("podman", "load", "--quiet", "-i", str(built.archive), env=podman_env)
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(conf))
    monkeypatch.delenv("CONTAINER_HOST", raising=False)  # no socket: `podman save` it is
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    for key, value in docker_engine.env.items():
        monkeypatch.setenv(key, value)

    options = pipeline.InspectOptions(sources=SourceOptions(tls_verify=False))
    sources = {
        "archive": str(built.archive),
        "layout": f"oci:{layout}:v1",
        "oci-archive": f"oci-archive:{oci_tar}:v2",
        "registry": f"docker://{pushed}",
        "engine": built.daemon_ref,
        "podman": f"podman:{built.name}",
    }
    found = {name: pipeline.inspect(text, options) for name, text in sources.items()}
    expected = _facts(found["archive"])
    assert expected["diff_ids"] == list(built.diff_ids)
    for name, inspection in found.items():
        assert _facts(inspection) == expected, name
    # the blobs really differ: recompressed layers, other digests
    assert found["layout"].image.layers[0].digest != found["oci-archive"].image.layers[0].digest
    # unique bytes are uncompressed layer bytes, whatever the source stores
    alone = [inspection for inspection in found.values() if not inspection.loaded.others]
    assert {inspection.sharing.unique_bytes for inspection in alone} == {sum(expected["tar_sizes"])}
