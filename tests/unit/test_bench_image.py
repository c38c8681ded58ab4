"""The benchmark images (benchmarks/make_image.py): the mixed image stays what it was, and
the small shape has about the entries asked for, with the same shape at every size."""

from __future__ import annotations

import hashlib
import json
import random
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import make_image

SEED = 7


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _build(tmp_path: Path, files: int, shape: str = make_image.MIXED, top: int = 0) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{shape}-{files}-{top}.tar"
    with (tmp_path / "log").open("w") as log:
        make_image.ensure(files, SEED, {"legacy": path}, top_files=top, shape=shape, log=log)
    return path


def test_the_mixed_image_keeps_its_cache_key() -> None:
    params = make_image.Params(100_000, 20_240_601, "legacy")
    assert params.stamp() == {
        "files": 100_000,
        "seed": 20_240_601,
        "variant": "legacy",
        "generator": 1,
    }
    assert make_image.default_path(params).name == "bench-100000-s20240601.tar"
    sibling = make_image.Params(100_000, 20_240_601, "legacy", top_files=1000)
    assert sibling.stamp()["top_files"] == 1000
    assert "shape" not in sibling.stamp()


@pytest.mark.parametrize(
    ("top", "digest"),
    [
        # what the generator produced before the small shape existed (commit e336065)
        (0, "1e91e4bd7987eeec2a60ac396133b89541d8099e773961c3af84bb39a566edfa"),
        (50, "c130c22a5d7d070656e93a64a77f08dca36ec0339740369048961659862905de"),
    ],
)
def test_the_mixed_image_keeps_its_bytes(tmp_path: Path, top: int, digest: str) -> None:
    assert _digest(_build(tmp_path, 1000, top=top)) == digest


def test_the_small_shape_has_its_own_key() -> None:
    params = make_image.Params(1_000_000, 20_240_601, "legacy", shape=make_image.SMALL)
    stamp = params.stamp()
    assert stamp["shape"] == make_image.SMALL
    assert stamp["shape_version"] == make_image.SMALL_VERSION
    assert make_image.default_path(params).name == "bench-small-1000000-s20240601.tar"


def test_tar_order_is_the_walk_order() -> None:
    rng = random.Random(3)
    alphabet = "ab-._/"
    paths: set[str] = set()
    while len(paths) < 2000:
        path = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))).strip("/")
        if path and "//" not in path:
            paths.add(path)
    planned = [make_image.Planned(p, "dir") for p in paths]
    entries = [make_image.Entry(p, "dir") for p in paths]
    assert [p.path for p in make_image._tar_order(planned)] == [
        e.path for e in make_image._walk_order(entries)
    ]


def _members(path: Path) -> list[list[tarfile.TarInfo]]:
    """Each layer's members, in the manifest's order."""
    layers = []
    with tarfile.open(path) as outer:
        manifest = outer.extractfile("manifest.json")
        assert manifest is not None
        for name in json.load(manifest)[0]["Layers"]:
            handle = outer.extractfile(name)
            assert handle is not None
            with tarfile.open(fileobj=handle, mode="r|") as layer:
                layers.append(list(layer))
    return layers


@pytest.mark.parametrize("entries", [3_000, 20_000])
def test_the_small_shape_has_about_the_entries_asked(tmp_path: Path, entries: int) -> None:
    path = _build(tmp_path, entries, make_image.SMALL)
    layers = _members(path)
    counts = [len(layer) for layer in layers]
    assert len(counts) == 4
    assert make_image.stamped_entries(path) == counts
    assert abs(sum(counts) - entries) <= 0.03 * entries
    files = [m for layer in layers for m in layer if m.isfile()]
    assert sum(m.size <= make_image.SMALL_MAX_SIZE for m in files) >= 0.9 * len(files)
    assert path.stat().st_size / sum(counts) < 1200  # about 1 KB per entry


def test_the_small_shape_is_the_same_at_every_size(tmp_path: Path) -> None:
    small, large = (_members(_build(tmp_path, n, make_image.SMALL)) for n in (10_000, 30_000))

    def shape(layers: list[list[tarfile.TarInfo]]) -> tuple[float, float]:
        members = [m for layer in layers for m in layer]
        dirs = sum(m.isdir() for m in members) / len(members)
        depth = sum(m.name.count("/") for m in members) / len(members)
        return dirs, depth

    (dirs_small, depth_small), (dirs_large, depth_large) = shape(small), shape(large)
    assert abs(dirs_small - dirs_large) < 0.02
    assert abs(depth_small - depth_large) < 0.5


def test_the_small_shape_is_deterministic(tmp_path: Path) -> None:
    first = _digest(_build(tmp_path / "a", 2_000, make_image.SMALL))
    assert first == _digest(_build(tmp_path / "b", 2_000, make_image.SMALL))
