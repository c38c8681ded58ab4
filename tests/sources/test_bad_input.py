"""Bad input: every failure is an InspectorError whose one-line message names the input."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from imagebuilder import (
    BuiltImage,
    Dir,
    File,
    Layer,
    Member,
    Symlink,
    base256,
    build_image,
    compress,
    containerd_save,
    docker25_save,
    docker_save_legacy,
    gzip_outer,
    kaniko_tarball,
    oci_layout,
    pack,
    podman_archive,
    sha256,
    tar_entry,
    tar_header,
    write_tree,
)

from inspector.errors import (
    CorruptStream,
    DigestMismatch,
    ImageNotFound,
    InspectorError,
    LayerFormatError,
    ManifestError,
    SourceError,
    SourceNotFound,
)
from inspector.source import LoadEvents
from inspector.sources.archive import ArchiveSource

LABEL = "bad-image.tar"
IMG = build_image(
    Layer([Dir("etc"), File("etc/a", 3000), Symlink("etc/b", "a")], created_by="base"),
    Layer([File("big", 20_000)], created_by="add big"),
)


def load(data: bytes, label: str = LABEL, **kwargs: Any) -> None:
    ArchiveSource(None, label, stream=io.BytesIO(data), **kwargs).load(LoadEvents())


def fails(data: bytes, error: type[InspectorError] = InspectorError, **kwargs: Any) -> str:
    """Load `data`, expect `error`, return its message after checking its form."""
    with pytest.raises(error) as info:
        load(data, **kwargs)
    return one_line(info.value)


def one_line(error: BaseException, label: str = LABEL) -> str:
    assert isinstance(error, InspectorError)
    message = str(error)
    assert message.startswith(f"{label}: "), message
    assert "\n" not in message
    assert len(message) < 400
    return message


def swap(members: list[Member], name: str, data: bytes) -> list[Member]:
    assert any(m.name == name for m in members), name
    return [Member(m.name, data) if m.name == name else m for m in members]


def blob_name(data: bytes) -> str:
    return "blobs/sha256/" + sha256(data).removeprefix("sha256:")


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


# --- the file itself ----------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    source = ArchiveSource(str(tmp_path / "nope.tar"), LABEL)
    with pytest.raises(SourceNotFound) as info:
        source.load(LoadEvents())
    assert one_line(info.value) == f"{LABEL}: no such file"


def test_directory_is_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        ArchiveSource(str(tmp_path), LABEL).load(LoadEvents())
    one_line(info.value)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.tar"
    path.write_bytes(b"")
    with pytest.raises(SourceError) as info:
        ArchiveSource(str(path), LABEL).load(LoadEvents())
    assert "empty" in one_line(info.value)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"PK\x03\x04" + bytes(2000), id="zip"),
        pytest.param(b'{"schemaVersion": 2}', id="json"),
        pytest.param(b"hello\n", id="short-text"),
        pytest.param(b"x" * 5000, id="text"),
        pytest.param(tar_entry("a", checksum_delta=1) + bytes(1024), id="bad-checksum"),
    ],
)
def test_not_a_tar(data: bytes) -> None:
    assert "not a tar" in fails(data, SourceError)


def test_tar_without_image_metadata() -> None:
    data = pack([Member("hello.txt", b"hi"), Member("layer.tar", IMG.layers[0].tar)])
    assert "no manifest.json or index.json" in fails(data, ManifestError)


# --- truncation ---------------------------------------------------------------------------------

WRITERS: dict[str, Callable[[BuiltImage], bytes]] = {
    "legacy": docker_save_legacy,
    "podman": podman_archive,
    "docker25": lambda i: pack(docker25_save(i)),
    "containerd": lambda i: pack(containerd_save(i)),
    "oci": lambda i: pack(oci_layout(i)),
    "kaniko": kaniko_tarball,
}


def _metadata_end(data: bytes) -> int:
    """Offset where the last member's content ends (cuts after it only lose padding)."""
    end = 0
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            end = member.offset_data + member.size
    return end


@pytest.mark.parametrize("shape", list(WRITERS))
def test_truncated_archive(shape: str) -> None:
    data = WRITERS[shape](IMG)
    end = _metadata_end(data)
    cuts = sorted({1, 100, 511, 512, 700, 1024, 1500, end // 3, end // 2, end - 700, end - 1})
    for cut in cuts:
        with pytest.raises(InspectorError) as info:
            load(data[:cut])
        one_line(info.value)


def test_truncated_inside_a_layer_says_truncated() -> None:
    data = docker_save_legacy(IMG)
    offsets = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive:
            offsets[member.name] = member.offset_data
    layer = next(name for name in offsets if name.endswith("/layer.tar"))
    assert "truncated" in fails(data[: offsets[layer] + 1000], CorruptStream)


def test_truncated_outer_gzip() -> None:
    data = gzip_outer(docker_save_legacy(IMG))
    for cut in (5, 100, len(data) // 2, len(data) - 4):
        message = fails(data[:cut])
        assert "gzip" in message or "not" in message or "truncated" in message


def test_outer_zstd_is_read() -> None:
    load(compress(docker_save_legacy(IMG), "zstd"))


# --- layer blobs --------------------------------------------------------------------------------


def test_corrupt_gzip_layer() -> None:
    members = oci_layout(IMG, compression="gzip")
    blob = IMG.layers[1].blob("gzip")
    message = fails(pack(swap(members, blob_name(blob), flip(blob, len(blob) // 2))), CorruptStream)
    assert "corrupt gzip data" in message
    assert blob_name(blob) in message


def test_corrupt_gzip_layer_in_kaniko_tarball() -> None:
    data = kaniko_tarball(IMG)
    blob = IMG.layers[1].blob("gzip")
    at = data.index(blob)
    damaged = (
        data[:at]
        + blob[: len(blob) // 2]
        + bytes(len(blob) - len(blob) // 2)
        + data[at + len(blob) :]
    )
    assert "corrupt gzip data" in fails(damaged, CorruptStream)


def test_corrupt_zstd_layer() -> None:
    members = oci_layout(IMG, compression="zstd")
    blob = IMG.layers[0].blob("zstd")
    damaged = blob[:4] + b"\xff\xff" + blob[6:]  # an impossible frame header
    message = fails(pack(swap(members, blob_name(blob), damaged)), CorruptStream)
    assert "corrupt zstd data" in message


def test_absurd_header_size_in_a_layer() -> None:
    members = docker25_save(IMG)
    huge = tar_header("huge", size=base256(1 << 60, 12), magic=b"ustar  \0") + bytes(4096)
    message = fails(pack(swap(members, blob_name(IMG.layers[0].tar), huge)), CorruptStream)
    assert "absurd entry size" in message


def test_absurd_header_size_in_the_archive() -> None:
    data = tar_header("huge", size=base256(1 << 60, 12), magic=b"ustar  \0") + bytes(4096)
    assert "absurd entry size" in fails(data, CorruptStream)


def test_layer_that_is_not_a_tar_is_an_error() -> None:
    members = docker25_save(IMG)
    fails(pack(swap(members, blob_name(IMG.layers[0].tar), b"not a tar at all\n" * 100)))


def test_layer_that_is_not_a_tar_is_a_layer_format_error() -> None:
    members = docker25_save(IMG)
    message = fails(
        pack(swap(members, blob_name(IMG.layers[0].tar), b"not a tar at all\n" * 100)),
        LayerFormatError,
    )
    assert "missing" not in message


# --- metadata -----------------------------------------------------------------------------------


def test_manifest_naming_a_missing_blob() -> None:
    members = oci_layout(IMG)
    name = blob_name(IMG.layers[1].blob("gzip"))
    message = fails(pack([m for m in members if m.name != name]), ManifestError)
    assert name in message


def test_manifest_json_naming_a_missing_layer() -> None:
    data = pack([m for m in docker25_save(IMG) if m.name != blob_name(IMG.layers[0].tar)])
    assert "missing layer" in fails(data, ManifestError)


def test_manifest_json_naming_a_missing_config() -> None:
    doc: list[dict[str, Any]] = [{"Config": "nope.json", "RepoTags": None, "Layers": []}]
    data = pack(swap(docker25_save(IMG), "manifest.json", json.dumps(doc).encode()))
    assert "'nope.json'" in fails(data, ManifestError)


def test_broken_legacy_symlink() -> None:
    data = pack(
        [
            Member("abc", directory=True),
            Member("abc/layer.tar", symlink="../def/layer.tar"),
            Member(f"{IMG.config_hex}.json", IMG.config),
            Member(
                "manifest.json",
                json.dumps(
                    [{"Config": f"{IMG.config_hex}.json", "Layers": ["abc/layer.tar"]}]
                ).encode(),
            ),
        ]
    )
    assert "abc/layer.tar" in fails(data, ManifestError)


def test_wrong_diff_id_in_config() -> None:
    bad = IMG.with_config(lambda doc: doc["rootfs"]["diff_ids"].__setitem__(1, sha256(b"x")))
    for data in (docker_save_legacy(bad), pack(oci_layout(bad)), kaniko_tarball(bad)):
        message = fails(data, DigestMismatch)
        assert "layer 1" in message
        assert sha256(b"x") in message
        assert IMG.diff_ids[1] in message


def test_diff_id_count_differs_from_layer_count() -> None:
    bad = IMG.with_config(lambda doc: doc["rootfs"]["diff_ids"].pop())
    assert "1 diff_ids" in fails(docker_save_legacy(bad), ManifestError)


def test_config_without_rootfs() -> None:
    bad = IMG.with_config(lambda doc: doc.pop("rootfs"))
    assert "rootfs.diff_ids" in fails(podman_archive(bad), ManifestError)


def test_layer_blob_not_matching_its_digest_name() -> None:
    members = oci_layout(IMG)
    name = blob_name(IMG.layers[0].blob("gzip"))
    message = fails(pack(swap(members, name, IMG.layers[1].blob("gzip"))), DigestMismatch)
    assert name in message


def test_config_blob_not_matching_its_digest_name() -> None:
    members = oci_layout(IMG)
    name = blob_name(IMG.config)
    message = fails(pack(swap(members, name, IMG.config + b" ")), DigestMismatch)
    assert name in message


def test_legacy_config_not_matching_its_file_name() -> None:
    data = docker_save_legacy(IMG)
    config_at = data.index(IMG.config)
    damaged = (
        data[:config_at]
        + IMG.config.replace(b'"amd64"', b'"arm64"')
        + data[config_at + len(IMG.config) :]
    )
    assert f"{IMG.config_hex}.json" in fails(damaged, DigestMismatch)


@pytest.mark.parametrize(
    ("document", "text"),
    [
        pytest.param(b'[{"Config": ', "invalid JSON", id="truncated"),
        pytest.param(b'{"Config": "x"}', "not a list", id="object"),
        pytest.param(b"[]", "not a list", id="empty-list"),
        pytest.param(
            b'[{"Config": "x", "Layers": "y"}]', "lacks Config or Layers", id="layers-str"
        ),
        pytest.param(b'[{"Layers": []}]', "lacks Config or Layers", id="no-config"),
    ],
)
def test_invalid_manifest_json(document: bytes, text: str) -> None:
    data = pack(swap(docker25_save(IMG), "manifest.json", document))
    message = fails(data, ManifestError)
    assert "manifest.json" in message
    assert text in message


@pytest.mark.parametrize(
    ("document", "text"),
    [
        pytest.param(b'{"manifests": [', "invalid JSON", id="truncated"),
        pytest.param(b"[1, 2]", "expected a JSON object", id="list"),
        pytest.param(b'{"manifests": [{"size": 3}]}', "no digest", id="no-digest"),
        pytest.param(b'{"manifests": []}', "no image manifest", id="empty"),
    ],
)
def test_invalid_index_json(document: bytes, text: str) -> None:
    data = pack(swap(oci_layout(IMG), "index.json", document))
    message = fails(data, ManifestError if text != "no image manifest" else ImageNotFound)
    assert text in message


def test_invalid_digest_in_index_json_names_the_input() -> None:
    document = {
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:1234"}
        ]
    }
    fails(pack(swap(oci_layout(IMG), "index.json", json.dumps(document).encode())), ManifestError)


def test_invalid_diff_id_in_config_names_the_input() -> None:
    bad = IMG.with_config(lambda doc: doc["rootfs"]["diff_ids"].__setitem__(1, "sha256:zz"))
    fails(docker_save_legacy(bad), ManifestError)


def test_invalid_diff_id_in_config_is_a_manifest_error() -> None:
    bad = IMG.with_config(lambda doc: doc["rootfs"]["diff_ids"].__setitem__(1, "sha256:zz"))
    with pytest.raises(ManifestError, match="sha256:zz"):
        load(docker_save_legacy(bad))


def test_artifact_manifest_is_not_an_image() -> None:
    members = oci_layout(IMG)
    manifest_name = next(
        m.name
        for m in members
        if m.name.startswith("blobs/") and b'"layers"' in m.data and b"schemaVersion" in m.data
    )
    manifest = json.loads(next(m.data for m in members if m.name == manifest_name))
    manifest["config"]["mediaType"] = "application/vnd.cncf.helm.config.v1+json"
    raw = json.dumps(manifest).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": sha256(raw),
                "size": len(raw),
            }
        ],
    }
    members = [*members, Member(blob_name(raw), raw)]
    data = pack(swap(members, "index.json", json.dumps(index).encode()))
    assert "artifact" in fails(data, ManifestError)


# --- picking an image ---------------------------------------------------------------------------


def test_unknown_tag() -> None:
    message = fails(docker_save_legacy(IMG), ImageNotFound, ref="other/app:9")
    assert "'other/app:9'" in message
    assert "example/app:latest" in message


# --- OCI layout directories ---------------------------------------------------------------------


def layout_error(path: Path, error: type[InspectorError], label: str = LABEL) -> str:
    module = pytest.importorskip("inspector.sources.oci_layout")
    with pytest.raises(error) as info:
        module.OciLayoutSource(str(path), label).load(LoadEvents())
    return one_line(info.value, label)


def test_layout_missing_directory(tmp_path: Path) -> None:
    layout_error(tmp_path / "nope", SourceNotFound)


def test_layout_without_oci_layout_file(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "l", [m for m in oci_layout(IMG) if m.name != "oci-layout"])
    layout_error(root, SourceError)


def test_layout_missing_blob(tmp_path: Path) -> None:
    name = blob_name(IMG.layers[0].blob("gzip"))
    root = write_tree(tmp_path / "l", [m for m in oci_layout(IMG) if m.name != name])
    layout_error(root, InspectorError)


def test_layout_blob_not_matching_its_digest(tmp_path: Path) -> None:
    name = blob_name(IMG.layers[0].blob("gzip"))
    root = write_tree(tmp_path / "l", swap(oci_layout(IMG), name, IMG.layers[1].blob("gzip")))
    layout_error(root, DigestMismatch)


def test_layout_invalid_index_json(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "l", swap(oci_layout(IMG), "index.json", b"{nope"))
    assert "index.json" in layout_error(root, ManifestError)


def test_layout_corrupt_zstd_layer(tmp_path: Path) -> None:
    blob = IMG.layers[1].blob("zstd")
    members = swap(
        oci_layout(IMG, compression="zstd"), blob_name(blob), blob[:4] + b"\xff\xff" + blob[6:]
    )
    layout_error(write_tree(tmp_path / "l", members), CorruptStream)


def test_layout_wrong_diff_id(tmp_path: Path) -> None:
    bad = IMG.with_config(lambda doc: doc["rootfs"]["diff_ids"].__setitem__(0, sha256(b"y")))
    layout_error(write_tree(tmp_path / "l", oci_layout(bad)), DigestMismatch)


def test_truncated_file_on_disk(tmp_path: Path) -> None:
    # a file source seeks over large members it does not need; a cut inside one, or
    # anywhere else, must still be an error
    junk = pack([Member("junk.bin", b"\x01" * (3 << 20))])[:-1024]
    data = junk + docker_save_legacy(IMG)
    path = tmp_path / "cut.tar"
    for cut in (1 << 20, len(junk) - 100, len(junk) + 2000, len(data) - 3000):
        path.write_bytes(data[:cut])
        with pytest.raises(InspectorError) as info:
            ArchiveSource(str(path), LABEL).load(LoadEvents())
        one_line(info.value)
    path.write_bytes(data)
    ArchiveSource(str(path), LABEL).load(LoadEvents())


# --- documents past their caps ------------------------------------------------------------------


def test_a_config_over_its_cap_is_named_with_the_cap() -> None:
    big = IMG.with_config(lambda doc: doc.__setitem__("padding", "p" * (33 << 20)))
    message = fails(docker_save_legacy(big), ManifestError)
    assert f"'{big.config_hex}.json': larger than 32 MiB" in message
    assert "the limit for an image config" in message


def test_json_members_past_the_archive_budget_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import inspector.sources.archive as archive

    monkeypatch.setattr(archive, "MAX_DOCUMENTS", 64 << 10)
    junk = [Member(f"junk{i}.json", b'{"x": "' + b"j" * 20_000 + b'"}') for i in range(5)]
    message = fails(pack([*junk, *docker25_save(IMG)]), SourceError)
    assert message == f"{LABEL}: holds more than 0 MiB of JSON documents"


def test_the_listing_of_images_is_short() -> None:
    many = [
        {"Config": f"{IMG.config_hex}.json", "RepoTags": [f"r/app:{i}" for i in range(500)],
         "Layers": []}
        for _ in range(2)
    ]  # fmt: skip
    data = pack(swap(docker25_save(IMG), "manifest.json", json.dumps(many).encode()))
    message = fails(data, ImageNotFound)
    assert message.endswith("r/app:0, r/app:1, r/app:2, r/app:3, r/app:4, … (1000 names))")
