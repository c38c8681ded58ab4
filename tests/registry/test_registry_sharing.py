"""Shared layers across a registry repository: `--compare-tags` and `--compare REF`.

Three images are pushed to a real loopback registry: `shared/app:1` and `shared/app:2`
are built on the same two base layers with different tops, `shared/app:other` has a
different base. Only manifests and configs of the compared tags may be fetched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import imagebuilder as ib
import pytest
import services

from inspector.registry.client import ClientOptions, RegistryClient
from inspector.registry.reference import parse_reference
from registry.conftest import write_sample
from registry.servers import RegistryServer

BASE = [
    ib.Layer([ib.Dir("etc"), ib.File("etc/base", 40_000, seed="base")], created_by="ADD base"),
    ib.Layer([ib.File("etc/lib", 20_000, seed="lib")], created_by="RUN lib"),
]


def _image(top: str, base: list[ib.Layer] = BASE) -> ib.BuiltImage:
    return ib.build_image(
        *base,
        ib.Layer([ib.File(f"app/{top}", 5_000, seed=top)], created_by=f"COPY {top}"),
        tags=(f"shared/app:{top}",),
    )


@pytest.fixture(scope="module")
def repository(plain_registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`HOST/shared/app` with tags 1, 2 (same base) and other (another base)."""
    root = tmp_path_factory.mktemp("shared")
    other_base = [ib.Layer([ib.File("etc/base", 40_000, seed="other")], created_by="ADD other")]
    for tag, image in (("1", _image("1")), ("2", _image("2")), ("other", _image("o", other_base))):
        sample = write_sample(root / tag, image, compression="gzip")
        plain_registry.push(sample.oci, f"shared/app:{tag}")
    return f"{plain_registry.host}/shared/app"


def _json(*args: str, tmp_path: Path) -> dict[str, Any]:
    env = {"INSPECTOR_CACHE_DIR": str(tmp_path / "cache")}
    done = services.run_cli(*args, "-j", "-", env=env)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def _tar_bytes(image: ib.BuiltImage) -> list[int]:
    """Each layer's uncompressed tar size: what sharedBytes and uniqueBytes add up."""
    return [len(layer.tar) for layer in image.layers]


def test_compare_tags_finds_the_tag_on_the_same_base(repository: str, tmp_path: Path) -> None:
    doc = _json(f"docker://{repository}:1", "--compare-tags", tmp_path=tmp_path)
    other = f"{repository}:2"
    assert [layer["sharedWith"] for layer in doc["layer"]] == [[other], [other], []]
    sizes = _tar_bytes(_image("1"))
    assert doc["image"]["sharedBytes"] == sizes[0] + sizes[1]
    assert doc["image"]["uniqueBytes"] == sizes[2]


def test_compare_tags_is_bounded(repository: str, tmp_path: Path) -> None:
    """With N=1 one other tag is read (2 or other, in the registry's order); N=2 reads both."""
    one = _json(f"docker://{repository}:1", "--compare-tags=1", tmp_path=tmp_path)
    assert {name for layer in one["layer"] for name in layer["sharedWith"]} <= {f"{repository}:2"}
    two = _json(f"docker://{repository}:1", "--compare-tags=2", tmp_path=tmp_path)
    assert {name for layer in two["layer"] for name in layer["sharedWith"]} == {f"{repository}:2"}
    done = services.run_cli(f"docker://{repository}:1", "--compare-tags=101", "-j", "-")
    assert done.returncode == 2
    assert "--compare-tags: expected 1 to 100 tags, not 101" in done.stderr


def test_compare_ref_works_for_every_source(repository: str, tmp_path: Path) -> None:
    """An archive compared with a registry tag, and the other way round."""
    archive = tmp_path / "app2.tar"
    archive.write_bytes(ib.docker_save_legacy(_image("2")))
    doc = _json(str(archive), "--compare", f"docker://{repository}:1", tmp_path=tmp_path)
    name = f"docker://{repository}:1"
    assert [layer["sharedWith"] for layer in doc["layer"]] == [[name], [name], []]
    back = _json(f"docker://{repository}:1", "--compare", str(archive), tmp_path=tmp_path)
    assert [layer["sharedWith"] for layer in back["layer"]] == [[str(archive)]] * 2 + [[]]


def test_tag_list_follows_pages(repository: str) -> None:
    with RegistryClient(parse_reference(f"{repository}:1"), options=ClientOptions()) as client:
        every = client.tags(10)
        assert sorted(every) == ["1", "2", "other"]
        assert client.tags(10, page=1) == every  # three pages, through the Link header
        assert client.tags(2, page=1) == every[:2]


def test_a_compare_ref_that_cannot_be_read_fails_in_one_line(
    repository: str, tmp_path: Path
) -> None:
    env = {"INSPECTOR_CACHE_DIR": str(tmp_path / "cache")}
    done = services.run_cli(
        f"docker://{repository}:1", "--compare", f"docker://{repository}:nope", "-j", "-", env=env
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"inspector: --compare docker://{repository}:nope: ")
    assert len(done.stderr.strip().splitlines()) == 1
