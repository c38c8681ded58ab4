"""Every archive shape of formats.md §1 (and OCI layouts) loads to the same image.

One logical image is written in each shape; each load must give the same layers (diff
IDs, order, history lined up past `empty_layer` entries), the same config and the same
LayerIndex entries, whether it is read from a file or from a stream.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from imagebuilder import (
    OCI_MANIFEST,
    BuiltImage,
    Compression,
    Dir,
    File,
    Hardlink,
    Layer,
    Member,
    Opaque,
    Symlink,
    Whiteout,
    build_image,
    compress,
    containerd_save,
    docker25_save,
    docker_save_legacy,
    gzip_outer,
    kaniko_tarball,
    multi_platform,
    oci_layout,
    pack,
    podman_archive,
    sha256,
    write_tree,
)

from inspector.digest import Digest
from inspector.errors import ImageNotFound, PlatformNotFound, SourceError
from inspector.indexer import LayerIndex, index_blob
from inspector.model import HistoryEntry, Platform
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.archive import ArchiveSource

TMP_LAYER = Layer([Dir("tmp", mode=0o1777)], created_by="RUN mkdir -m 1777 /tmp")
RICH = build_image(
    Layer(
        [
            Dir("etc"),
            File("etc/os-release", 2000),
            Dir("bin"),
            File("bin/sh", 30_000, mode=0o755),
            Symlink("bin/ash", "sh"),
            Hardlink("bin/busybox", "bin/sh"),
        ],
        created_by="ADD rootfs.tar /",
    ),
    TMP_LAYER,
    Layer(
        [
            Dir("app"),
            File("app/" + "long-module-name-" * 10 + ".py", 500),
            Whiteout("etc/os-release"),
            Dir("bin"),
            Opaque("bin"),
            File("bin/sh", 1000, mode=0o755, seed="new shell"),
        ],
        created_by="COPY app /app",
        format=tarfile.GNU_FORMAT,
        prefix="./",
    ),
    Layer(
        [Dir("app"), File("app/data", 50_000), File("app/data", 20_000, seed="dup")],
        created_by="RUN make",
        format=tarfile.USTAR_FORMAT,
    ),
    TMP_LAYER,  # the same layer twice: a symlinked layer.tar in legacy saves
    tags=("example/app:1.0",),
)


def reference(image: BuiltImage) -> list[LayerIndex]:
    return [index_blob(io.BytesIO(layer.tar).read, "ref") for layer in image.layers]


REF = reference(RICH)


def load(data: bytes, label: str = "img.tar", **kwargs: Any) -> LoadedImage:
    return ArchiveSource(None, label, stream=io.BytesIO(data), **kwargs).load(LoadEvents())


def tar_members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return archive.getmembers()


def blob_digests(image: BuiltImage, compression: Compression) -> list[Digest]:
    return [
        Digest("sha256", hashlib.sha256(compress(layer.tar, compression)).hexdigest())
        for layer in image.layers
    ]


# name -> (writer, expected tags, stored compression of the layers)
SHAPES: dict[str, tuple[Callable[[BuiltImage], bytes], tuple[str, ...], Compression]] = {
    "legacy-link-first": (
        lambda i: docker_save_legacy(i, link_first=True),
        ("example/app:1.0",),
        "none",
    ),
    "legacy-link-after": (
        lambda i: docker_save_legacy(i, link_first=False),
        ("example/app:1.0",),
        "none",
    ),
    "legacy-gzipped": (lambda i: gzip_outer(docker_save_legacy(i)), ("example/app:1.0",), "none"),
    "podman-docker-archive": (podman_archive, ("docker.io/example/app:1.0",), "none"),
    "docker25": (lambda i: pack(docker25_save(i)), ("example/app:1.0",), "none"),
    "containerd-gzip": (lambda i: pack(containerd_save(i)), ("example/app:1.0",), "gzip"),
    "containerd-zstd": (
        lambda i: pack(containerd_save(i, compression="zstd")),
        ("example/app:1.0",),
        "zstd",
    ),
    "buildx-oci": (lambda i: pack(oci_layout(i, ref_names="none")), (), "gzip"),
    "oci-archive": (lambda i: pack(oci_layout(i, ref_names="full")), ("example/app:1.0",), "gzip"),
    "oci-archive-zstd-frames": (
        lambda i: pack(oci_layout(i, compression="zstd-frames")),
        ("example/app:1.0",),
        "zstd-frames",
    ),
    "oci-uncompressed": (
        lambda i: pack(oci_layout(i, compression="none")),
        ("example/app:1.0",),
        "none",
    ),
    "oci-gzipped-outer": (lambda i: gzip_outer(pack(oci_layout(i))), ("example/app:1.0",), "gzip"),
    "kaniko": (kaniko_tarball, ("example/app:1.0",), "gzip"),
    "single-platform-index-with-attestation": (
        lambda i: pack(multi_platform(i, name="example/app:1.0")),
        ("example/app:1.0",),
        "gzip",
    ),
}


def check_image(loaded: LoadedImage, image: BuiltImage, ref: list[LayerIndex]) -> None:
    got = loaded.image
    assert [str(layer.diff_id) for layer in got.layers] == image.diff_ids
    assert [layer.position for layer in got.layers] == list(range(len(image.layers)))
    assert [layer.created_by for layer in got.layers] == image.created_by
    assert str(got.config_digest) == image.config_digest
    assert got.platform == Platform(image.os, image.architecture, image.variant)
    assert [h.empty_layer for h in got.history].count(True) == 2
    assert got.history[1] == HistoryEntry(
        created="2023-11-14T22:13:20Z", created_by="ENV A=1", empty_layer=True
    )
    assert got.config.env == ("A=1",)
    assert got.config.cmd == ("sh",)
    assert len(loaded.layers) == len(ref)
    for position, (idx, expected) in enumerate(zip(loaded.layers, ref, strict=True)):
        assert idx.entries == expected.entries, position
        assert idx.whiteouts.keys() == expected.whiteouts.keys(), position
        assert idx.opaque == expected.opaque, position
        assert idx.shadowed == expected.shadowed, position
        assert idx.tar_bytes == expected.tar_bytes, position
        assert idx.diff_id == expected.diff_id, position


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_loads_the_same_image(shape: str) -> None:
    writer, tags, compression = SHAPES[shape]
    loaded = load(writer(RICH))
    check_image(loaded, RICH, REF)
    assert loaded.image.tags == tags
    assert loaded.image.label == "img.tar"
    assert [layer.digest for layer in loaded.image.layers] == blob_digests(RICH, compression)
    assert [idx.digest for idx in loaded.layers] == blob_digests(RICH, compression)
    assert [layer.size for layer in loaded.image.layers] == [
        len(compress(layer.tar, compression)) for layer in RICH.layers
    ]
    assert loaded.warnings == ()


def test_the_rich_image_exercises_what_it_claims() -> None:
    assert RICH.diff_ids[1] == RICH.diff_ids[4]
    assert REF[2].opaque == ["bin"]
    assert list(REF[2].whiteouts) == ["etc/os-release"]
    assert [s.size for s in REF[3].shadowed] == [50_000]
    links = [m for m in tar_members(docker_save_legacy(RICH)) if m.issym()]
    assert len(links) == 1
    assert links[0].name.endswith("/layer.tar")
    assert links[0].linkname.startswith("../")


@pytest.mark.parametrize("link_first", [True, False])
def test_legacy_symlink_order(link_first: bool) -> None:
    data = docker_save_legacy(RICH, link_first=link_first)
    members = tar_members(data)
    names = [m.name for m in members]
    (link,) = [m for m in members if m.issym()]
    target = link.linkname.split("/")[1] + "/layer.tar"
    assert (
        names.index(link.name) < names.index(target)
        if link_first
        else names.index(link.name) > names.index(target)
    )
    assert names[-1] == "manifest.json"
    loaded = load(data)
    assert loaded.layers[1].entries == loaded.layers[4].entries == REF[1].entries


def _with_big_extra_member(data: bytes) -> bytes:
    """A 3 MiB member nobody references, before the rest (a file source seeks over it)."""
    junk = Member("junk.bin", b"\x01" * (3 << 20))
    return pack([junk])[:-1024] + data


SHAPES["legacy-with-big-junk"] = (
    lambda i: _with_big_extra_member(docker_save_legacy(i)),
    ("example/app:1.0",),
    "none",
)


@pytest.mark.parametrize(
    "shape",
    ["legacy-link-first", "containerd-zstd", "buildx-oci", "kaniko", "legacy-with-big-junk"],
)
def test_stream_equals_file(shape: str, tmp_path: Path) -> None:
    data = SHAPES[shape][0](RICH)
    path = tmp_path / "image.tar"
    path.write_bytes(data)
    from_file = ArchiveSource(str(path), "-").load(LoadEvents())
    from_stream = ArchiveSource(None, "-", stream=io.BytesIO(data)).load(LoadEvents())
    assert from_stream == from_file
    check_image(from_stream, RICH, REF)


class Recorder(LoadEvents):
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.progress = 0

    def image_known(self, image: Any) -> None:
        self.calls.append(("image", image.tags))

    def layer_started(self, name: str, total: int | None) -> None:
        self.calls.append(("start", (name, total)))

    def layer_progress(self, nbytes: int) -> None:
        self.progress += nbytes

    def layer_done(self, name: str, index: LayerIndex) -> None:
        self.calls.append(("done", (name, str(index.diff_id))))


def test_load_events() -> None:
    events = Recorder()
    ArchiveSource(None, "img", stream=io.BytesIO(podman_archive(RICH))).load(events)
    unique = list(dict.fromkeys(RICH.diff_ids))
    starts = [c[1] for c in events.calls if c[0] == "start"]
    dones = [c[1] for c in events.calls if c[0] == "done"]
    assert [name for name, _ in starts] == [f"{d.removeprefix('sha256:')}.tar" for d in unique]
    assert [total for _, total in starts] == [
        len(layer.tar) for layer in RICH.layers if layer.diff_id in unique
    ][: len(unique)]
    assert [d for _, d in dones] == unique
    assert events.calls[-1] == ("image", ("docker.io/example/app:1.0",))
    assert events.progress == sum(len(RICH.layers[RICH.diff_ids.index(d)].tar) for d in unique)


def test_history_without_empty_layers_and_missing_history() -> None:
    bare = build_image(*RICH_LAYERS[:2], history=False)
    loaded = load(docker_save_legacy(bare))
    assert [layer.history for layer in loaded.image.layers] == [None, None]
    assert [layer.created_by for layer in loaded.image.layers] == ["", ""]


RICH_LAYERS = [
    Layer([File("a", b"1")], created_by="one"),
    Layer([File("b", b"2")], created_by="two"),
]


# --- several images in one archive --------------------------------------------------------------

SHARED = Layer([Dir("usr"), File("usr/lib.so", 4000)], created_by="ADD base")
IMAGE_A = build_image(SHARED, Layer([File("a.txt", b"A")], created_by="A"), tags=("example/a:1",))
IMAGE_B = build_image(
    SHARED,
    Layer([File("b.txt", b"BB")], created_by="B"),
    tags=("example/b:2", "example/b:latest"),
)

MULTI: dict[str, Callable[[], bytes]] = {
    "legacy": lambda: docker_save_legacy(IMAGE_A, IMAGE_B),
    "legacy-link-after": lambda: docker_save_legacy(IMAGE_A, IMAGE_B, link_first=False),
    "podman": lambda: podman_archive(IMAGE_A, IMAGE_B),
    "docker25": lambda: pack(docker25_save(IMAGE_A, IMAGE_B)),
    "containerd": lambda: pack(containerd_save(IMAGE_A, IMAGE_B)),
    "oci-archive": lambda: pack(oci_layout(IMAGE_A, IMAGE_B)),
}


@pytest.mark.parametrize("shape", list(MULTI))
@pytest.mark.parametrize(
    ("ref", "image"),
    [("example/a:1", IMAGE_A), ("example/b:2", IMAGE_B), ("example/b:latest", IMAGE_B)],
)
def test_multi_image_archive_picks_by_tag(shape: str, ref: str, image: BuiltImage) -> None:
    loaded = load(MULTI[shape](), ref=ref)
    check_image(loaded, image, reference(image))


@pytest.mark.parametrize("shape", list(MULTI))
def test_multi_image_archive_without_a_tag_is_ambiguous(shape: str) -> None:
    with pytest.raises(ImageNotFound) as info:
        load(MULTI[shape](), label="two.tar")
    message = str(info.value)
    assert message.startswith("two.tar: ")
    assert "\n" not in message
    assert "example/a:1" in message
    assert "example/b:2" in message


@pytest.mark.parametrize("shape", list(MULTI))
def test_multi_image_archive_unknown_tag_lists_the_tags(shape: str) -> None:
    with pytest.raises(ImageNotFound, match=r"^two\.tar: .*'example/c:3'.*example/a:1"):
        load(MULTI[shape](), label="two.tar", ref="example/c:3")


def test_shared_layer_is_stored_once() -> None:
    members = tar_members(MULTI["legacy"]())
    layer_tars = [m for m in members if m.name.endswith("/layer.tar")]
    assert len(layer_tars) == 4
    assert sum(m.issym() for m in layer_tars) == 1
    base_a = load(MULTI["legacy"](), ref="example/a:1").layers[0]
    base_b = load(MULTI["legacy"](), ref="example/b:2").layers[0]
    assert base_a.entries == base_b.entries
    assert base_a.diff_id == base_b.diff_id


def test_tag_given_as_a_short_name() -> None:
    loaded = load(MULTI["podman"](), ref="example/b")  # :latest implied
    assert [str(d.diff_id) for d in loaded.image.layers] == IMAGE_B.diff_ids


# --- multi-platform -----------------------------------------------------------------------------

BASE_LAYER = Layer([Dir("etc"), File("etc/hostname", b"box\n")], created_by="ADD base")
AMD = build_image(BASE_LAYER, Layer([File("bin/app", 3000, seed="amd64")], created_by="amd64"))
ARM = build_image(
    BASE_LAYER,
    Layer([File("bin/app", 2800, seed="arm64")], created_by="arm64"),
    platform="linux/arm64/v8",
)


@pytest.mark.parametrize("nested", [True, False], ids=["nested-index", "flat-index"])
@pytest.mark.parametrize(
    ("platform", "image"),
    [
        (Platform("linux", "amd64"), AMD),
        (Platform("linux", "arm64"), ARM),
        (Platform("linux", "arm64", "v8"), ARM),
    ],
)
def test_multi_platform_picks_by_platform(
    nested: bool, platform: Platform, image: BuiltImage
) -> None:
    data = pack(multi_platform(AMD, ARM, nested=nested))
    loaded = load(data, platform=platform)
    check_image(loaded, image, reference(image))
    assert loaded.image.manifest_digest is not None


@pytest.mark.parametrize(
    "platform",
    [Platform("linux", "s390x"), Platform("linux", "arm64", "v7"), Platform("windows", "amd64")],
)
def test_multi_platform_error_lists_the_platforms(platform: Platform) -> None:
    data = pack(multi_platform(AMD, ARM))
    with pytest.raises(PlatformNotFound) as info:
        load(data, label="multi.tar", platform=platform)
    message = str(info.value)
    assert message.startswith("multi.tar: ")
    assert str(platform) in message
    assert "linux/amd64" in message
    assert "linux/arm64/v8" in message
    assert "unknown" not in message  # attestation manifests are not images
    assert isinstance(info.value, SourceError)


def test_multi_platform_without_a_platform_uses_the_host() -> None:
    data = pack(multi_platform(AMD, ARM))
    host = Platform.host()
    if host.architecture not in ("amd64", "arm64"):
        with pytest.raises(PlatformNotFound):
            load(data)
        return
    loaded = load(data)
    assert loaded.image.platform is not None
    assert loaded.image.platform.architecture == host.architecture


def test_attestation_is_never_picked() -> None:
    loaded = load(pack(multi_platform(ARM, attestation=True)))
    check_image(loaded, ARM, reference(ARM))


def test_multi_platform_image_by_name_and_platform() -> None:
    data = pack(multi_platform(AMD, ARM, name="example/app:2"))
    loaded = load(data, ref="example/app:2", platform=Platform("linux", "arm64"))
    assert loaded.image.tags == ("example/app:2",)
    assert [str(d.diff_id) for d in loaded.image.layers] == ARM.diff_ids


# --- OCI layout directories ---------------------------------------------------------------------


def layout_source(path: Path, label: str = "layout", **kwargs: Any) -> LoadedImage:
    module = pytest.importorskip("inspector.sources.oci_layout")
    source = module.OciLayoutSource(str(path), label, **kwargs)
    result: LoadedImage = source.load(LoadEvents())
    return result


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd", "zstd-frames"])
def test_oci_layout_directory(compression: Compression, tmp_path: Path) -> None:
    members = oci_layout(RICH, compression=compression)
    loaded = layout_source(write_tree(tmp_path / "layout", members))
    check_image(loaded, RICH, REF)
    assert [layer.digest for layer in loaded.image.layers] == blob_digests(RICH, compression)
    archived = load(pack(members), label="layout")
    # the two sources name a layer's origin differently (source_id); the rest is equal
    assert [replace(x, source_id="") for x in loaded.image.layers] == [
        replace(x, source_id="") for x in archived.image.layers
    ]
    assert loaded.image.tags == archived.image.tags == ("example/app:1.0",)


def test_oci_layout_directory_multi_platform(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "multi", multi_platform(AMD, ARM))
    loaded = layout_source(root, platform=Platform("linux", "arm64"))
    check_image(loaded, ARM, reference(ARM))
    with pytest.raises(PlatformNotFound) as info:
        layout_source(root, label="multi-dir", platform=Platform("linux", "ppc64le"))
    message = str(info.value)
    assert message.startswith("multi-dir: ")
    assert "linux/amd64" in message
    assert "linux/arm64/v8" in message
    assert "unknown" not in message


def test_oci_layout_directory_several_images(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "two", oci_layout(IMAGE_A, IMAGE_B))
    loaded = layout_source(root, ref="example/b:latest")
    check_image(loaded, IMAGE_B, reference(IMAGE_B))
    with pytest.raises(ImageNotFound, match=r"^two-dir: .*example/a:1"):
        layout_source(root, label="two-dir")


def test_oci_layout_directory_with_docker25_extras(tmp_path: Path) -> None:
    members = [m for m in docker25_save(RICH) if m.name != "manifest.json"]
    members.append(Member("manifest.json", b"[]"))  # ignored by a layout reader
    loaded = layout_source(write_tree(tmp_path / "d25", members))
    check_image(loaded, RICH, REF)


def _without_other_platforms(members: list[Member], keep: BuiltImage) -> list[Member]:
    """Drop the blobs only other platforms and attestations use (a containerd save of
    an image pulled for one platform has none of them)."""
    wanted = {layer.blob("gzip") for layer in keep.layers} | {keep.config}
    kept: list[Member] = []
    for member in members:
        if member.name.startswith("blobs/sha256/") and member.data not in wanted:
            try:
                doc = json.loads(member.data)
            except ValueError:
                continue  # a layer of another platform
            if doc.get("mediaType") == OCI_MANIFEST and doc["config"]["digest"] != sha256(
                keep.config
            ):
                continue
            if doc.get("os") == "unknown" or "_type" in doc:
                continue
        kept.append(member)
    return kept


def test_missing_blobs_of_other_platforms_are_tolerated() -> None:
    members = _without_other_platforms(multi_platform(AMD, ARM), AMD)
    assert len(members) < len(multi_platform(AMD, ARM))
    loaded = load(pack(members), platform=Platform("linux", "amd64"))
    check_image(loaded, AMD, reference(AMD))


def test_one_image_with_two_tags_in_an_oci_archive() -> None:
    loaded = load(pack(oci_layout(IMAGE_B)))
    assert loaded.image.tags == ("example/b:2", "example/b:latest")
    check_image(loaded, IMAGE_B, reference(IMAGE_B))
