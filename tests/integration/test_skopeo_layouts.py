"""OCI layouts written by the real skopeo, recompressed, give the archive's numbers.

A Docker-built image is `docker save`d, then skopeo copies that archive into an OCI
layout directory with zstd layers and into an oci-archive with gzip layers. The layer
blobs (and so their digests and compressed sizes) differ; the uncompressed layers do not,
so every diff_id, every dive-compatible number and the exact accounting must be the
archive's.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import services

pytestmark = pytest.mark.docker


def skopeo(*args: str) -> None:
    binary = shutil.which("skopeo")
    if binary is None:
        pytest.skip("skopeo is not installed (scripts/test installs it)")
    result = subprocess.run(
        [binary, "--insecure-policy", *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def numbers(doc: dict[str, Any]) -> dict[str, Any]:
    """What must not depend on how the layers are compressed."""
    image = doc["image"]
    return {
        "dive": (image["sizeBytes"], image["inefficientBytes"], image["efficiencyScore"]),
        "references": sorted(
            (r["file"], r["sizeBytes"], r["count"]) for r in image["fileReference"]
        ),
        "exact": image["exact"],
        "diffIds": [layer["diffId"] for layer in doc["layer"]],
        "sizes": [layer["sizeBytes"] for layer in doc["layer"]],
    }


@pytest.mark.parametrize("scenario", ["deletions", "rewrites", "links"])
def test_skopeo_recompressed_layouts_match_the_archive(
    scenario: str,
    scenario_image: Callable[[str], services.BuiltImage],
    tmp_path: Path,
) -> None:
    built = scenario_image(scenario)
    archive = f"docker-archive:{built.archive}"
    layout = tmp_path / "layout"
    skopeo(
        "copy",
        "--dest-compress-format",
        "zstd",
        archive,
        f"oci:{layout}:v1",
    )
    oci_tar = tmp_path / "image.oci.tar"
    skopeo("copy", "--dest-compress-format", "gzip", archive, f"oci-archive:{oci_tar}:v2")

    expected = numbers(services.inspector_json(built.archive, "--no-cache"))
    from_layout = services.inspector_json(f"oci:{layout}:v1", "--no-cache")
    from_oci_tar = services.inspector_json(f"oci-archive:{oci_tar}:v2", "--no-cache")

    assert numbers(from_layout) == expected
    assert numbers(from_oci_tar) == expected
    media = {layer.get("mediaType") for layer in from_layout["layer"]}
    assert media
    assert all("zstd" in str(m) for m in media), media
    for doc in (from_layout, from_oci_tar):  # really recompressed: other blobs, same layers
        assert all(layer["digest"] != layer["diffId"] for layer in doc["layer"])
