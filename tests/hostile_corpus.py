"""A corpus of hostile images, generated: every case is built into a directory on demand.

Images are untrusted input. Each `Case` here writes one image that attacks a part of the
inspector (the JSON documents, the tar reader, the file system of an OCI layout, the
descriptors, the path handling, the decompressor) and says what the inspector must do
with it: exit 2 with one short line on stderr naming the problem, or read the image
(exit 0) with at most one warning line. `tests/sources/test_hostile.py` runs the real
command line on every case under a time and memory bound.

    python tests/hostile_corpus.py DIRECTORY    writes every case into DIRECTORY/<name>

Nothing is stored in the repository: the cases are small to build and some (a FIFO, a
symlink loop) cannot be stored in git anyway.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import sys
import tarfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagebuilder import (
    BLOCK,
    CREATED,
    END_OF_ARCHIVE,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYOUT,
    OCI_MANIFEST,
    Dir,
    File,
    Layer,
    Member,
    Raw,
    RawBytes,
    base256,
    pack,
    pax_records,
    sha256,
    tar_entry,
    tar_header,
)

GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
PLAIN_LAYER = "application/vnd.oci.image.layer.v1.tar"

Build = Callable[[Path], str]
"""Writes a case under the given directory; returns the IMAGE argument for it."""


@dataclass(frozen=True)
class Case:
    """One hostile image and what the inspector must do with it.

    `exit_code` is the documented exit code; `stderr` a text the one stderr line must
    contain (None: stderr stays empty). `seconds` and `megabytes` bound the run.
    """

    name: str
    build: Build
    exit_code: int
    stderr: str | None
    seconds: float = 20.0
    megabytes: int = 150


# --- building blocks -------------------------------------------------------------------------


def _json(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _config(diff_ids: Sequence[str], **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [{"created": CREATED, "created_by": f"layer {i}"} for i in range(len(diff_ids))],
    }
    doc.update(extra)
    return doc


def _descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data), **extra}


def _hex(data: bytes) -> str:
    return sha256(data).removeprefix("sha256:")


def small_layer() -> bytes:
    """An ordinary layer tar: a directory and two files."""
    return Layer([Dir("etc"), File("etc/hostname", b"hostile\n"), File("bin/tool", 2000)]).tar()


def nested(depth: int) -> bytes:
    """A JSON array nested `depth` deep."""
    return b"[" * depth + b"]" * depth


@dataclass
class Layout:
    """An OCI layout under construction: blobs by hex, and the documents to write."""

    blobs: dict[str, bytes]

    @classmethod
    def new(cls) -> Layout:
        return cls({})

    def add(self, data: bytes) -> str:
        self.blobs[_hex(data)] = data
        return sha256(data)

    def write(self, root: Path, index: bytes) -> str:
        (root / "blobs" / "sha256").mkdir(parents=True)
        for hex_, data in self.blobs.items():
            (root / "blobs" / "sha256" / hex_).write_bytes(data)
        (root / "oci-layout").write_bytes(OCI_LAYOUT.data)
        (root / "index.json").write_bytes(index)
        return str(root)


def oci_image(
    root: Path,
    layers: Sequence[bytes],
    *,
    diff_ids: Sequence[str] | None = None,
    config: bytes | None = None,
    config_desc: Callable[[dict[str, Any]], None] | None = None,
    layer_descs: Callable[[list[dict[str, Any]]], None] | None = None,
    manifest: bytes | None = None,
    index: bytes | None = None,
    compressed: bool = False,
) -> str:
    """An OCI layout directory holding one image; every part can be replaced or edited
    (the edits see the descriptors before the documents naming them are written)."""
    layout = Layout.new()
    blobs = [gzip.compress(tar, mtime=0) if compressed else tar for tar in layers]
    if config is None:
        config = _json(_config(diff_ids if diff_ids is not None else [sha256(t) for t in layers]))
    layout.add(config)
    descs = [_descriptor(GZIP_LAYER if compressed else PLAIN_LAYER, blob) for blob in blobs]
    for blob in blobs:
        layout.add(blob)
    if layer_descs is not None:
        layer_descs(descs)
    cdesc = _descriptor(OCI_CONFIG, config)
    if config_desc is not None:
        config_desc(cdesc)
    if manifest is None:
        manifest = _json(
            {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc, "layers": descs}
        )
    layout.add(manifest)
    if index is None:
        index = _json(
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [_descriptor(OCI_MANIFEST, manifest)],
            }
        )
    return layout.write(root, index)


def docker_archive(
    path: Path,
    layers: Sequence[bytes],
    *,
    config: bytes | None = None,
    manifest: bytes | None = None,
    extra: Sequence[Member] = (),
) -> str:
    """A `docker save` archive (podman's shape: `<hex>.tar` layers, `<hex>.json` config)."""
    if config is None:
        config = _json(_config([sha256(t) for t in layers]))
    names = [f"{_hex(t)}.tar" for t in layers]
    if manifest is None:
        manifest = _json([{"Config": f"{_hex(config)}.json", "RepoTags": ["x:1"], "Layers": names}])
    members = [Member(n, t) for n, t in zip(names, layers, strict=True)]
    members += [Member(f"{_hex(config)}.json", config), *extra, Member("manifest.json", manifest)]
    path.write_bytes(pack(members))
    return str(path)


def pax_entry(name: str, data: bytes, records: dict[str, str]) -> bytes:
    """A PAX extended header carrying `records`, then a plain ustar entry."""
    body = pax_records(records)
    head = tar_header("././@PaxHeader", typeflag=b"x", size=len(body))
    return head + body + bytes(-len(body) % BLOCK) + tar_entry(name, data)


def layer_of(*parts: bytes) -> bytes:
    return b"".join(parts) + END_OF_ARCHIVE


def in_layout(layer: bytes) -> Build:
    return lambda d: oci_image(d / "layout", [layer])


# --- the cases -------------------------------------------------------------------------------


def _deep_manifest_json(d: Path) -> str:
    return docker_archive(d / "image.tar", [small_layer()], manifest=nested(100_000))


def _deep_index(d: Path) -> str:
    return oci_image(d / "layout", [small_layer()], index=nested(100_000))


def _deep_config(d: Path) -> str:
    layer = small_layer()
    doc = _config([sha256(layer)])
    text = _json(doc).replace(b'"Cmd":["sh"]', b'"Cmd":' + nested(100_000))
    return oci_image(d / "layout", [layer], config=text)


def _deep_label(d: Path) -> str:
    layer = small_layer()
    doc = _config([sha256(layer)])
    text = _json(doc).replace(b'"Cmd":["sh"]', b'"Labels":{"a":' + nested(200) + b"}")
    return docker_archive(d / "image.tar", [layer], config=text)


def _huge_manifest_json(d: Path) -> str:
    layer = small_layer()
    config = _json(_config([sha256(layer)]))
    entry = {
        "Config": f"{_hex(config)}.json",
        "RepoTags": ["x:1"],
        "Layers": [f"{_hex(layer)}.tar"],
    }
    entry["Comment"] = "x" * (5 << 20)
    return docker_archive(d / "image.tar", [layer], config=config, manifest=_json([entry]))


def _huge_index(d: Path) -> str:
    padding = {"annotations": {"x": "y" * (5 << 20)}}
    return oci_image(d / "layout", [small_layer()], index=_json({"schemaVersion": 2, **padding}))


def _huge_config(d: Path) -> str:
    layer = small_layer()
    config = _json(_config([sha256(layer)], padding="z" * (40 << 20)))
    return oci_image(d / "layout", [layer], config=config)


def _many_tags(d: Path) -> str:
    layer = small_layer()
    config = _json(_config([sha256(layer)]))
    entries = [
        {
            "Config": f"{_hex(config)}.json",
            "RepoTags": [f"registry.example/team/app:{side}-{i}" for i in range(40_000)],
            "Layers": [f"{_hex(layer)}.tar"],
        }
        for side in ("a", "b")
    ]
    return docker_archive(d / "image.tar", [layer], config=config, manifest=_json(entries))


def _pax_number(key: str, value: str) -> Build:
    return in_layout(layer_of(pax_entry("etc/file", b"data", {key: value})))


def _base256_mtime(d: Path) -> str:
    header = tar_header("etc/file", size=4, mtime=base256(1 << 80, 12), magic=b"ustar  \0")
    return oci_image(d / "layout", [layer_of(header + b"data" + bytes(BLOCK - 4))])


def _nonoctal_size(d: Path) -> str:
    header = tar_header("etc/odd-file", size=b"12345678x00\0")
    return oci_image(d / "layout", [layer_of(header + bytes(BLOCK))])


def _negative_size(d: Path) -> str:
    header = tar_header("etc/file", size=base256(-1, 12), magic=b"ustar  \0")
    return oci_image(d / "layout", [layer_of(header)])


def _huge_size(d: Path) -> str:
    header = tar_header("etc/file", size=base256(1 << 62, 12), magic=b"ustar  \0")
    return oci_image(d / "layout", [layer_of(header + bytes(BLOCK))])


def _nul_name(d: Path) -> str:
    data = b"nameless"
    header = tar_header(b"\0" * 100, size=len(data))
    layer = layer_of(tar_entry("etc/hostname", b"x\n"), header + data + bytes(BLOCK - len(data)))
    return oci_image(d / "layout", [layer])


def zeros_gzip(head: bytes, mebibytes: int, tail: bytes) -> bytes:
    """gzip of `head`, `mebibytes` MiB of zeros and `tail`, built in a blink: after a full
    flush deflate forgets its history, so every MiB of zeros compresses to the same bytes."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    first = deflate.compress(head) + deflate.flush(zlib.Z_FULL_FLUSH)
    zeros = bytes(1 << 20)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    last = deflate.compress(tail) + deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + (mebibytes << 20) + len(tail)
    trailer = crc.to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little")
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + first + block * mebibytes + last + trailer


def zstd_zeros(head: bytes, gibibytes: int) -> bytes:
    """A zstd frame of `head` (at most 128 KiB) then `gibibytes` GiB of zeros, written by
    hand: a raw block, then run-length blocks of 128 KiB at 4 bytes each (32,768:1)."""
    assert len(head) <= 1 << 17
    blocks = gibibytes << 13
    frame = b"\x28\xb5\x2f\xfd" + bytes([0x00, 7 << 3])  # no size, checksum; 128 KiB window
    raw = (len(head) << 3 | 0 << 1).to_bytes(3, "little") + head
    rle = ((1 << 17) << 3 | 1 << 1).to_bytes(3, "little") + b"\x00"
    last = ((1 << 17) << 3 | 1 << 1 | 1).to_bytes(3, "little") + b"\x00"
    return frame + raw + rle * (blocks - 1) + last


def layout_of_blob(root: Path, blob: bytes, diff_id: str) -> str:
    """An OCI layout whose one layer is `blob`, which the config says is `diff_id`."""
    layout = Layout.new()
    config = _json(_config([diff_id]))
    layout.add(config)
    layout.add(blob)
    manifest = _json(
        {
            "schemaVersion": 2,
            "config": _descriptor(OCI_CONFIG, config),
            "layers": [_descriptor(GZIP_LAYER, blob)],
        }
    )
    layout.add(manifest)
    index = _json({"schemaVersion": 2, "manifests": [_descriptor(OCI_MANIFEST, manifest)]})
    return layout.write(root, index)


def _pax_header_bomb(d: Path) -> str:
    """A PAX header that claims (and holds) 1 GiB, gzipped: reading it whole takes 1 GiB."""
    head = tar_header("././@PaxHeader", typeflag=b"x", size=1 << 30)
    blob = zeros_gzip(head, 1024, END_OF_ARCHIVE)
    return layout_of_blob(d / "layout", blob, sha256(b"unknowable"))


def _deep_path(d: Path) -> str:
    path = "/".join(["ab"] * 33_000)  # 99,000 bytes
    layer = Layer([Raw(path, data=b"deep")], format=tarfile.PAX_FORMAT).tar()
    return docker_archive(d / "image.tar", [layer])


def _long_path(d: Path) -> str:
    path = "etc/" + "n" * 5000
    layer = Layer([File("etc/ok", b"ok"), Raw(path, data=b"long")]).tar()
    return docker_archive(d / "image.tar", [layer])


def _deep_paths_at_the_limit(d: Path) -> str:
    """Many distinct paths just inside the limits: each implies its own directories."""
    ops: list[Raw] = []
    for i in range(60):
        parts = [f"t{i:02d}"] + ["d" * 14] * 255
        ops.append(Raw("/".join(parts)[:4096], data=b"x"))
    layer = Layer(ops).tar()
    return oci_image(d / "layout", [layer], compressed=True)


def _tiny_entries(d: Path) -> str:
    """300,000 empty files in one (gzipped) layer."""
    headers = [tar_header(f"f/{i // 1000}/{i}") for i in range(300_000)]
    return oci_image(d / "layout", [layer_of(*headers)], compressed=True)


def _gzip_bomb(d: Path) -> str:
    """One file of 1 GiB of zeros: about 1 MB gzipped."""
    head = tar_header("zeros", size=1 << 30)
    digest = hashlib.sha256(head)
    zeros = bytes(1 << 20)
    for _ in range(1024):
        digest.update(zeros)
    digest.update(END_OF_ARCHIVE)
    blob = zeros_gzip(head, 1024, END_OF_ARCHIVE)
    return layout_of_blob(d / "layout", blob, "sha256:" + digest.hexdigest())


def _index_is_a_directory(d: Path) -> str:
    root = Path(oci_image(d / "layout", [small_layer()]))
    (root / "index.json").unlink()
    (root / "index.json").mkdir()
    return str(root)


def _layer_blob(root: Path) -> Path:
    index = json.loads((root / "index.json").read_bytes())
    manifest_hex = index["manifests"][0]["digest"].removeprefix("sha256:")
    manifest = json.loads((root / "blobs" / "sha256" / manifest_hex).read_bytes())
    layer_hex = str(manifest["layers"][0]["digest"]).removeprefix("sha256:")
    return root / "blobs" / "sha256" / layer_hex


def _fifo_layer(d: Path) -> str:
    root = Path(oci_image(d / "layout", [small_layer()]))
    blob = _layer_blob(root)
    blob.unlink()
    os.mkfifo(blob)
    return str(root)


def _fifo_index(d: Path) -> str:
    root = Path(oci_image(d / "layout", [small_layer()]))
    (root / "index.json").unlink()
    os.mkfifo(root / "index.json")
    return str(root)


def _fifo_archive(d: Path) -> str:
    path = d / "image.tar"
    os.mkfifo(path)
    return f"docker-archive:{path}"


def _symlink_loop_layer(d: Path) -> str:
    root = Path(oci_image(d / "layout", [small_layer()]))
    blob = _layer_blob(root)
    blob.unlink()
    blob.symlink_to(blob.name)
    return str(root)


def _index_links_to_dev_zero(d: Path) -> str:
    root = Path(oci_image(d / "layout", [small_layer()]))
    (root / "index.json").unlink()
    (root / "index.json").symlink_to("/dev/zero")
    return str(root)


def _blob_links_outside(d: Path) -> str:
    root = Path(oci_image(d / "layout", [small_layer()]))
    blob = _layer_blob(root)
    outside = d / "outside.tar"
    outside.write_bytes(blob.read_bytes())
    blob.unlink()
    blob.symlink_to(outside)
    return str(root)


def _manifest_json_symlink(d: Path) -> str:
    layer = small_layer()
    config = _json(_config([sha256(layer)]))
    members = [
        Member(f"{_hex(layer)}.tar", layer),
        Member(f"{_hex(config)}.json", config),
        Member("manifest.json", symlink="/etc/passwd"),
    ]
    (d / "image.tar").write_bytes(pack(members))
    return str(d / "image.tar")


def _size(value: Any) -> Build:
    def build(d: Path) -> str:
        def edit(descs: list[dict[str, Any]]) -> None:
            descs[0]["size"] = value

        return oci_image(d / "layout", [small_layer()], layer_descs=edit)

    return build


def _size_off_by(delta: int) -> Build:
    def build(d: Path) -> str:
        return oci_image(d / "layout", [small_layer()], layer_descs=_grow(delta), compressed=True)

    return build


def _config_size_wrong(d: Path) -> str:
    def edit(desc: dict[str, Any]) -> None:
        desc["size"] += 1

    return oci_image(d / "layout", [small_layer()], config_desc=edit)


def _absurd_layer_count(d: Path) -> str:
    layer = small_layer()
    count = 20_000
    config = _json(_config([sha256(layer)] * count))
    layout = Layout.new()
    layout.add(config)
    layout.add(layer)
    desc = _descriptor(PLAIN_LAYER, layer)
    manifest = _json(
        {
            "schemaVersion": 2,
            "config": _descriptor(OCI_CONFIG, config),
            "layers": [desc] * count,
        }
    )
    layout.add(manifest)
    index = _json({"schemaVersion": 2, "manifests": [_descriptor(OCI_MANIFEST, manifest)]})
    return layout.write(d / "layout", index)


def _duplicate_digests(d: Path) -> str:
    layer = small_layer()
    layout = Layout.new()
    config = _json(_config([sha256(layer)] * 3))
    layout.add(config)
    layout.add(layer)
    desc = _descriptor(PLAIN_LAYER, layer)
    manifest = _json(
        {"schemaVersion": 2, "config": _descriptor(OCI_CONFIG, config), "layers": [desc] * 3}
    )
    layout.add(manifest)
    entry = _descriptor(OCI_MANIFEST, manifest)
    index = _json({"schemaVersion": 2, "manifests": [entry, entry, entry]})
    return layout.write(d / "layout", index)


def _diff_id_count(d: Path) -> str:
    layer = small_layer()
    return oci_image(d / "layout", [layer], diff_ids=[sha256(layer)] * 2)


def _nested_indexes(d: Path) -> str:
    layer = small_layer()
    layout = Layout.new()
    config = _json(_config([sha256(layer)]))
    layout.add(config)
    layout.add(layer)
    manifest = _json(
        {
            "schemaVersion": 2,
            "config": _descriptor(OCI_CONFIG, config),
            "layers": [_descriptor(PLAIN_LAYER, layer)],
        }
    )
    layout.add(manifest)
    entry = _descriptor(OCI_MANIFEST, manifest)
    for _ in range(40):
        nested_index = _json({"schemaVersion": 2, "manifests": [entry]})
        layout.add(nested_index)
        entry = _descriptor(OCI_INDEX, nested_index)
    return layout.write(d / "layout", _json({"schemaVersion": 2, "manifests": [entry]}))


def _empty_layer_blob(d: Path) -> str:
    return oci_image(d / "layout", [b""], diff_ids=[sha256(b"")])


def _fake_gzip(d: Path) -> str:
    return oci_image(d / "layout", [b"\x1f\x8b\x08\x00" + bytes(range(256)) * 8])


def _hardlink_loop(d: Path) -> str:
    layer = Layer(
        [
            Raw("a", type=tarfile.LNKTYPE, linkname="b"),
            Raw("b", type=tarfile.LNKTYPE, linkname="a"),
            Raw("c", type=tarfile.SYMTYPE, linkname="d"),
            Raw("d", type=tarfile.SYMTYPE, linkname="c"),
        ]
    ).tar()
    return docker_archive(d / "image.tar", [layer])


def _file_then_directory(d: Path) -> str:
    layer = Layer([File("x", b"file"), File("x/y", b"under a file"), RawBytes(b"")]).tar()
    return docker_archive(d / "image.tar", [layer])


def _config_field_types(d: Path) -> str:
    layer = small_layer()
    doc = _config([sha256(layer)], variant=["v8"], created={"when": 1}, history="none")
    doc["config"] = {
        "ExposedPorts": [{"80/tcp": {}}, {"443/tcp": {}}],
        "Labels": ["a"],
        "Env": {"A": 1},
    }
    return docker_archive(d / "image.tar", [layer], config=_json(doc))


def _pax_global_flood(d: Path) -> str:
    records = {f"comment{i}": "c" * 1000 for i in range(100)}
    body = pax_records(records)
    head = tar_header("pax_global_header", typeflag=b"g", size=len(body))
    flood = head + body + bytes(-len(body) % BLOCK)
    return oci_image(d / "layout", [layer_of(flood, tar_entry("etc/file", b"x"))])


def _oci_archive_size_mismatch(d: Path) -> str:
    root = Path(oci_image(d / "layout", [small_layer()], layer_descs=_grow(7)))
    files = sorted(p for p in root.rglob("*") if p.is_file())
    members = [Member(str(p.relative_to(root)), p.read_bytes()) for p in files]
    (d / "image.tar").write_bytes(pack(members))
    return f"oci-archive:{d / 'image.tar'}"


def _grow(delta: int) -> Callable[[list[dict[str, Any]]], None]:
    def edit(descs: list[dict[str, Any]]) -> None:
        descs[0]["size"] += delta

    return edit


def _nan_size(d: Path) -> str:
    layer = small_layer()
    config = _json(_config([sha256(layer)]))
    manifest = _json(
        {
            "schemaVersion": 2,
            "config": _descriptor(OCI_CONFIG, config),
            "layers": [_descriptor(PLAIN_LAYER, layer)],
        }
    ).replace(b'"size":%d}]' % len(layer), b'"size":NaN}]')
    return oci_image(d / "layout", [layer], config=config, manifest=manifest)


CASES: tuple[Case, ...] = (
    # JSON documents
    Case("deep-json-manifest-json", _deep_manifest_json, 2, "nested"),
    Case("deep-json-index", _deep_index, 2, "nested"),
    Case("deep-json-config", _deep_config, 2, "nested"),
    Case("deep-json-label", _deep_label, 2, "nested"),
    Case("huge-manifest-json", _huge_manifest_json, 2, "4 MiB"),
    Case("huge-index-json", _huge_index, 2, "4 MiB"),
    Case("huge-config", _huge_config, 2, "32 MiB"),
    Case("many-tags", _many_tags, 2, "holds 2 images"),
    # tar headers
    Case("pax-mtime-4000-digits", _pax_number("mtime", "9" * 4000), 2, "mtime"),
    Case("pax-mtime-inf", _pax_number("mtime", "1e999"), 2, "mtime"),
    Case("pax-size-4000-digits", _pax_number("size", "9" * 4000), 2, "size"),
    Case("pax-uid-4000-digits", _pax_number("uid", "9" * 4000), 2, "uid"),
    Case("pax-gid-4000-digits", _pax_number("gid", "9" * 4000), 2, "gid"),
    Case("base256-huge-mtime", _base256_mtime, 2, "mtime"),
    Case("non-octal-size", _nonoctal_size, 2, "etc/odd-file"),
    Case("negative-size", _negative_size, 2, "size"),
    Case("huge-size", _huge_size, 2, "size"),
    Case("nul-filled-name", _nul_name, 0, None),
    Case("pax-global-flood", _pax_global_flood, 2, "PAX global records of more than 64 KiB"),
    Case("pax-header-bomb", _pax_header_bomb, 2, "metadata record of 1073741824 bytes"),
    # paths
    Case("deep-path", _deep_path, 0, "skipped"),
    Case("long-path", _long_path, 0, "skipped"),
    Case("deep-paths-at-the-limit", _deep_paths_at_the_limit, 0, None, megabytes=350),
    Case("tiny-entries", _tiny_entries, 0, None, seconds=40, megabytes=400),
    Case("gzip-bomb", _gzip_bomb, 0, None, seconds=40),
    # the file system of a layout or an archive path
    Case("index-json-is-a-directory", _index_is_a_directory, 2, "index.json"),
    Case("fifo-layer-blob", _fifo_layer, 2, "not a regular file"),
    Case("fifo-index-json", _fifo_index, 2, "not a regular file"),
    Case("fifo-archive", _fifo_archive, 2, "not a regular file"),
    Case("symlink-loop-layer-blob", _symlink_loop_layer, 2, "symbolic link"),
    Case("index-json-links-to-dev-zero", _index_links_to_dev_zero, 2, "symbolic link"),
    Case("layer-blob-links-outside", _blob_links_outside, 2, "symbolic link"),
    Case("manifest-json-is-a-symlink", _manifest_json_symlink, 2, "manifest.json"),
    # descriptors
    Case("descriptor-size-huge", _size(10**18), 2, "size"),
    Case("descriptor-size-negative", _size(-1), 2, "size"),
    Case("descriptor-size-string", _size("12"), 2, "size"),
    Case("descriptor-size-bool", _size(True), 2, "size"),
    Case("blob-shorter-than-descriptor", _size_off_by(100), 2, "shorter"),
    Case("blob-longer-than-descriptor", _size_off_by(-100), 2, "longer"),
    Case("config-size-wrong", _config_size_wrong, 2, "shorter than"),
    Case("oci-archive-blob-size-wrong", _oci_archive_size_mismatch, 2, "shorter than"),
    Case("descriptor-size-nan", _nan_size, 2, "NaN is not JSON"),
    # structure
    Case("absurd-layer-count", _absurd_layer_count, 0, None, megabytes=300),
    Case("duplicate-digests", _duplicate_digests, 0, None),
    Case("diff-ids-count-differs", _diff_id_count, 2, "diff_ids"),
    Case("indexes-nested-40-deep", _nested_indexes, 2, "nested"),
    Case("empty-layer-blob", _empty_layer_blob, 2, "empty"),
    Case("fake-gzip-layer", _fake_gzip, 2, "gzip"),
    Case("link-loops-in-a-layer", _hardlink_loop, 0, "hard link 'a' names missing 'b'"),
    Case("file-then-directory", _file_then_directory, 0, None),
    Case("config-field-types", _config_field_types, 0, None),
)


def case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python tests/hostile_corpus.py DIRECTORY\n")
        return 2
    out = Path(argv[0])
    for item in CASES:
        directory = out / item.name
        directory.mkdir(parents=True, exist_ok=True)
        image = item.build(directory)
        sys.stdout.write(f"{item.name}\t{image}\texit {item.exit_code}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
