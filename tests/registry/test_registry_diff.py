"""`inspector diff` against a real loopback registry: a layer the two images share by
digest is downloaded once (for OLD) and never again, counted at a proxy in front of the
registry; with a warm layer cache no layer is downloaded at all. And the diff of an
archive against a registry image equals the diff of the two registry images."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import appbuilds
import pytest
import services

from registry.servers import Front, RegistryServer

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def builds(image_factory: services.ImageFactory) -> appbuilds.AppBuilds:
    return appbuilds.build(image_factory)


@pytest.fixture
def front(plain_registry: RegistryServer) -> Iterator[Front]:
    proxy = Front(plain_registry)
    try:
        yield proxy
    finally:
        proxy.close()


def pushed(registry: RegistryServer, front: Front, builds: appbuilds.AppBuilds) -> list[str]:
    """Bad-order v1 and v2 pushed the way `docker push` would (gzip); their refs at the proxy."""
    refs = []
    for tag, image in (("1", builds.bad_v1), ("2", builds.bad_v2)):
        registry.push(f"docker-archive:{image.archive}", f"diff/app:{tag}", preserve=False)
        refs.append(f"docker://{front.host}/diff/app:{tag}")
    return refs


def diff_json(*args: str | Path, cache: Path | None = None) -> dict[str, Any]:
    env = {"INSPECTOR_CACHE_DIR": str(cache)} if cache is not None else None
    done = services.run_cli("diff", *args, "--json", "-", env=env)
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def blob_gets(front: Front) -> Counter[str]:
    return Counter(
        seen.path.rsplit("/", 1)[1]
        for seen in front.seen
        if seen.method == "GET" and "/blobs/" in seen.path
    )


def layer_digests(doc: dict[str, Any], side: str) -> list[str]:
    return [pair[side]["digest"] for pair in doc["layers"] if pair[side] is not None]


@pytest.mark.parametrize("cached", [False, True], ids=["no-cache", "layer-cache"])
def test_a_shared_layer_is_never_downloaded_twice(
    plain_registry: RegistryServer,
    front: Front,
    builds: appbuilds.AppBuilds,
    tmp_path: Path,
    cached: bool,
) -> None:
    old, new = pushed(plain_registry, front, builds)
    if cached:
        doc = diff_json(old, new, cache=tmp_path / "cache")
    else:
        doc = diff_json(old, new, "--no-cache")
    old_layers, new_layers = layer_digests(doc, "old"), layer_digests(doc, "new")
    shared = set(old_layers) & set(new_layers)
    assert len(shared) == 1  # the base: everything above it was rebuilt
    gets = blob_gets(front)
    assert all(gets[digest] == 1 for digest in old_layers)  # OLD: every layer, once
    assert all(gets[digest] == 0 for digest in shared - set(old_layers))
    assert [gets[d] for d in new_layers if d in shared] == [1]  # (downloaded for OLD)
    fresh = [d for d in new_layers if d not in shared]
    assert all(gets[digest] == 1 for digest in fresh)
    layers = sum(gets[d] for d in set(old_layers) | set(new_layers))
    assert layers == len(set(old_layers) | set(new_layers))
    assert sum(gets.values()) == layers + 2  # and the two configs
    assert doc["pullLayers"] == [1, 2, 3]
    stored = [pair["new"]["storedBytes"] for pair in doc["layers"]]
    assert doc["pullBytes"] == sum(stored[1:])
    if cached:  # again, with the cache warm: the configs only
        front.seen.clear()
        assert diff_json(old, new, cache=tmp_path / "cache") == doc
        assert sum(blob_gets(front).values()) == 2


def test_an_archive_against_the_registry(
    plain_registry: RegistryServer, front: Front, builds: appbuilds.AppBuilds
) -> None:
    old, new = pushed(plain_registry, front, builds)
    both = diff_json(old, new, "--no-cache")
    mixed = diff_json(f"docker-archive:{builds.bad_v1.archive}", new, "--no-cache")

    def same(doc: dict[str, Any]) -> dict[str, Any]:
        """What must not depend on where OLD was read from."""
        return {
            "first": doc["firstDivergentLayer"],
            "cause": doc["divergence"]["cause"],
            "layers": [(p["status"], p["pulled"], p["new"]) for p in doc["layers"]],
            "oldDiffIds": [p["old"]["diffId"] for p in doc["layers"]],
            "files": doc["files"],
            "growth": (doc["growthBytes"], doc["sizes"]["uncompressedBytes"]),
            "pull": (doc["pullBytes"], doc["pushBytes"], doc["reordered"]),
            "findings": doc["findings"],
        }

    assert same(mixed) == same(both)
    # the stored sizes do follow the source: the archive keeps its layers plain
    assert mixed["sizes"]["storedBytes"]["old"] > both["sizes"]["storedBytes"]["old"]
