"""Build byte-accurate container images in memory from a declarative layer list.

A layer is a list of operations (`File`, `Dir`, `Symlink`, `Hardlink`, `Whiteout`,
`Opaque`, `Raw`, `RawBytes`); `build_image` turns layers into tars, diff IDs and an image
config. Writers then lay one or more built images out in every archive shape the
inspector reads (formats.md §1): legacy `docker save`, podman/skopeo docker-archive,
Docker 25+ (OCI layout plus manifest.json), containerd-store save, OCI-only tars
(buildx `type=oci`, oci-archive), kaniko tarballs, multi-platform indexes and OCI layout
directories. Everything is deterministic, so digests are stable from run to run.

Low-level helpers (`tar_header`, `tar_entry`, `pax_records`, `base256`) write single
tar records by hand for tests of malformed or unusual headers.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import zstandard

MTIME = 1_700_000_000
CREATED = "2023-11-14T22:13:20Z"
BLOCK = 512
END_OF_ARCHIVE = bytes(2 * BLOCK)

Compression = Literal["none", "gzip", "zstd", "zstd-frames"]
TarFormat = Literal[0, 1, 2]  # tarfile.USTAR_FORMAT, GNU_FORMAT, PAX_FORMAT

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES: dict[str, str] = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "zstd-frames": "application/vnd.oci.image.layer.v1.tar+zstd",
}
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


def content(size: int, seed: str = "") -> bytes:
    """`size` deterministic bytes; different seeds give different bytes."""
    block = hashlib.sha256(seed.encode()).digest()
    return (block * (size // len(block) + 1))[:size]


def sha256(data: bytes) -> str:
    """`sha256:<hex>` of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- layer operations --------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    """A regular file. `data` is its bytes, or an int size (content derived from `seed`,
    which defaults to the path, so the same path and size always give the same bytes)."""

    path: str
    data: bytes | int = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    seed: str | None = None
    mtime: float = MTIME

    @property
    def payload(self) -> bytes:
        if isinstance(self.data, int):
            return content(self.data, self.path if self.seed is None else self.seed)
        return self.data


@dataclass(frozen=True)
class Dir:
    path: str
    mode: int = 0o755
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Symlink:
    path: str
    target: str
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Hardlink:
    path: str
    target: str


@dataclass(frozen=True)
class Whiteout:
    """Deletes `path` from the layers below: writes `<dir>/.wh.<name>`."""

    path: str


@dataclass(frozen=True)
class Opaque:
    """Hides everything lower layers put in `dir`: writes `<dir>/.wh..wh..opq`."""

    dir: str


@dataclass(frozen=True)
class Raw:
    """One tar entry whose name (and link name) is written verbatim, prefix not applied."""

    name: str
    type: bytes = tarfile.REGTYPE
    data: bytes = b""
    linkname: str = ""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    devmajor: int = 0
    devminor: int = 0


@dataclass(frozen=True)
class RawBytes:
    """Bytes spliced into the tar stream as they are (hand-made headers)."""

    data: bytes


Op = File | Dir | Symlink | Hardlink | Whiteout | Opaque | Raw | RawBytes


@dataclass(frozen=True)
class Layer:
    """One layer: its operations in tar order and the history line that made it.

    `prefix` is put before every name (`"./"` like GNU tar, `"/"` for absolute names);
    `format` is the tarfile header format; `end_marker` False leaves off the two zero
    blocks that end an archive.
    """

    ops: Sequence[Op]
    created_by: str = ""
    format: TarFormat = tarfile.PAX_FORMAT
    prefix: str = ""
    end_marker: bool = True

    def tar(self) -> bytes:
        parts: list[bytes] = []
        for op in self.ops:
            parts.append(_op_bytes(op, self.prefix, self.format))
        if self.end_marker:
            parts.append(END_OF_ARCHIVE)
        return b"".join(parts)


def _info(name: str, kind: bytes, *, mode: int, uid: int = 0, gid: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid = uid
    info.gid = gid
    info.mtime = MTIME
    info.uname = ""
    info.gname = ""
    return info


def _record(info: tarfile.TarInfo, data: bytes, fmt: TarFormat) -> bytes:
    info.size = len(data) if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    header = info.tobuf(fmt, "utf-8", "surrogateescape")
    return header + data + bytes(-len(data) % BLOCK)


def _split(path: str) -> tuple[str, str]:
    path = path.strip("/")
    head, _, base = path.rpartition("/")
    return head, base


def _op_bytes(op: Op, prefix: str, fmt: TarFormat) -> bytes:
    if isinstance(op, RawBytes):
        return op.data
    if isinstance(op, Raw):
        info = _info(op.name, op.type, mode=op.mode, uid=op.uid, gid=op.gid)
        info.linkname = op.linkname
        info.devmajor = op.devmajor
        info.devminor = op.devminor
        return _record(info, op.data, fmt)
    if isinstance(op, File):
        info = _info(prefix + op.path, tarfile.REGTYPE, mode=op.mode, uid=op.uid, gid=op.gid)
        info.mtime = op.mtime
        return _record(info, op.payload, fmt)
    if isinstance(op, Dir):
        info = _info(prefix + op.path, tarfile.DIRTYPE, mode=op.mode, uid=op.uid, gid=op.gid)
        return _record(info, b"", fmt)
    if isinstance(op, Symlink):
        info = _info(prefix + op.path, tarfile.SYMTYPE, mode=0o777, uid=op.uid, gid=op.gid)
        info.linkname = op.target
        return _record(info, b"", fmt)
    if isinstance(op, Hardlink):
        info = _info(prefix + op.path, tarfile.LNKTYPE, mode=0o644)
        info.linkname = prefix + op.target
        return _record(info, b"", fmt)
    if isinstance(op, Whiteout):
        head, base = _split(op.path)
        name = f"{head}/.wh.{base}" if head else f".wh.{base}"
        info = _info(prefix + name, tarfile.REGTYPE, mode=0)
        info.mtime = 0
        return _record(info, b"", fmt)
    directory = op.dir.strip("/")
    name = f"{directory}/.wh..wh..opq" if directory else ".wh..wh..opq"
    info = _info(prefix + name, tarfile.REGTYPE, mode=0)
    info.mtime = 0
    return _record(info, b"", fmt)


# --- hand-made tar records -----------------------------------------------------------------


def base256(value: int, width: int) -> bytes:
    """A GNU base-256 numeric field (high bit set; two's complement when negative)."""
    if value < 0:
        return (value % (1 << (8 * width))).to_bytes(width, "big")
    raw = value.to_bytes(width, "big")
    return bytes([0x80 | raw[0]]) + raw[1:]


def _field(value: int | bytes, width: int) -> bytes:
    if isinstance(value, bytes):
        assert len(value) == width, (value, width)
        return value
    return b"%0*o\0" % (width - 1, value)


def _text_field(value: str | bytes, width: int) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    assert len(raw) <= width, raw
    return raw.ljust(width, b"\0")


def tar_header(
    name: str | bytes,
    *,
    typeflag: bytes = b"0",
    size: int | bytes = 0,
    mode: int | bytes = 0o644,
    uid: int | bytes = 0,
    gid: int | bytes = 0,
    mtime: int | bytes = MTIME,
    linkname: str = "",
    prefix: str = "",
    magic: bytes = b"ustar\x0000",
    devmajor: int = 0,
    devminor: int = 0,
    checksum_delta: int = 0,
) -> bytes:
    """One 512-byte header; ints are written as octal, bytes fields verbatim."""
    block = bytearray(BLOCK)
    block[0:100] = _text_field(name, 100)
    block[100:108] = _field(mode, 8)
    block[108:116] = _field(uid, 8)
    block[116:124] = _field(gid, 8)
    block[124:136] = _field(size, 12)
    block[136:148] = _field(mtime, 12)
    block[148:156] = b" " * 8
    block[156:157] = typeflag
    block[157:257] = _text_field(linkname, 100)
    block[257:265] = magic.ljust(8, b"\0")
    block[329:337] = _field(devmajor, 8)
    block[337:345] = _field(devminor, 8)
    block[345:500] = _text_field(prefix, 155)
    checksum = sum(block) + checksum_delta
    block[148:156] = b"%06o\0 " % checksum
    return bytes(block)


def tar_entry(name: str | bytes, data: bytes = b"", **fields: Any) -> bytes:
    """A header (size = len(data) unless given) followed by `data` padded to a block."""
    fields.setdefault("size", len(data))
    return tar_header(name, **fields) + data + bytes(-len(data) % BLOCK)


def pax_records(records: dict[str, str]) -> bytes:
    """The body of a PAX header: `<len> key=value\\n` records, length self-inclusive."""
    out = []
    for key, value in records.items():
        body = f" {key}={value}\n".encode()
        length = len(body) + 1
        while len(str(length)) + len(body) != length:
            length = len(str(length)) + len(body)
        out.append(str(length).encode() + body)
    return b"".join(out)


# --- images ----------------------------------------------------------------------------


def compress(data: bytes, compression: Compression) -> bytes:
    """`data` stored the way a registry or archive would store it."""
    if compression == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(data)
    if compression == "zstd-frames":
        step = max(1, len(data) // 3)
        cctx = zstandard.ZstdCompressor(level=3)
        return b"".join(cctx.compress(data[i : i + step]) for i in range(0, len(data), step))
    return data


@dataclass(frozen=True)
class BuiltLayer:
    tar: bytes
    created_by: str

    @property
    def diff_id(self) -> str:
        return sha256(self.tar)

    def blob(self, compression: Compression = "none") -> bytes:
        return compress(self.tar, compression)


@dataclass(frozen=True)
class BuiltImage:
    """An image ready to be written in any shape."""

    layers: tuple[BuiltLayer, ...]
    config: bytes
    tags: tuple[str, ...]
    os: str
    architecture: str
    variant: str | None = None

    @property
    def config_digest(self) -> str:
        return sha256(self.config)

    @property
    def config_hex(self) -> str:
        return self.config_digest.removeprefix("sha256:")

    @property
    def diff_ids(self) -> list[str]:
        return [layer.diff_id for layer in self.layers]

    @property
    def created_by(self) -> list[str]:
        return [layer.created_by for layer in self.layers]

    @property
    def platform(self) -> dict[str, str]:
        result = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            result["variant"] = self.variant
        return result

    def with_config(self, change: Callable[[dict[str, Any]], None]) -> BuiltImage:
        """A copy whose config JSON went through `change` (for broken-config tests)."""
        doc = json.loads(self.config)
        change(doc)
        return replace(self, config=_json(doc))


def _json(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def build_image(
    *layers: Layer,
    tags: Sequence[str] = ("example/app:latest",),
    platform: str = "linux/amd64",
    history: bool = True,
) -> BuiltImage:
    """Tar every layer and write a config whose history has `empty_layer` entries
    (an ENV after the first layer and a CMD at the end) between the real ones."""
    built = tuple(
        BuiltLayer(layer.tar(), layer.created_by or f"/bin/sh -c #(nop) layer {i}")
        for i, layer in enumerate(layers)
    )
    parts = platform.split("/")
    os_name, arch = parts[0], parts[1]
    variant = parts[2] if len(parts) > 2 else None
    entries: list[dict[str, Any]] = []
    for i, layer in enumerate(built):
        entries.append({"created": CREATED, "created_by": layer.created_by})
        if i == 0:
            entries.append(
                {"created": CREATED, "created_by": "ENV A=1", "empty_layer": True},
            )
    entries.append({"created": CREATED, "created_by": 'CMD ["sh"]', "empty_layer": True})
    doc: dict[str, Any] = {
        "architecture": arch,
        "os": os_name,
        "created": CREATED,
        "config": {"Env": ["A=1"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in built]},
    }
    if history:
        doc["history"] = entries
    if variant:
        doc["variant"] = variant
    return BuiltImage(built, _json(doc), tuple(tags), os_name, arch, variant)


# --- archive members ---------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One entry of an archive: a file (`data`), a symlink (`symlink`) or a directory."""

    name: str
    data: bytes = b""
    symlink: str | None = None
    directory: bool = False


def pack(members: Sequence[Member]) -> bytes:
    """Members as an uncompressed tar, in the order given."""
    parts: list[bytes] = []
    for member in members:
        if member.directory:
            info = _info(member.name.rstrip("/") + "/", tarfile.DIRTYPE, mode=0o755)
            parts.append(_record(info, b"", tarfile.PAX_FORMAT))
        elif member.symlink is not None:
            info = _info(member.name, tarfile.SYMTYPE, mode=0o777)
            info.linkname = member.symlink
            parts.append(_record(info, b"", tarfile.PAX_FORMAT))
        else:
            info = _info(member.name, tarfile.REGTYPE, mode=0o644)
            parts.append(_record(info, member.data, tarfile.PAX_FORMAT))
    parts.append(END_OF_ARCHIVE)
    return b"".join(parts)


def write_tree(root: Path, members: Sequence[Member]) -> Path:
    """Members written as files under `root` (an OCI layout directory, say)."""
    root.mkdir(parents=True, exist_ok=True)
    for member in members:
        target = root / member.name
        if member.directory:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if member.symlink is not None:
            target.symlink_to(member.symlink)
        else:
            target.write_bytes(member.data)
    return root


def gzip_outer(archive: bytes) -> bytes:
    """A whole archive gzipped, like `docker save x | gzip`."""
    return gzip.compress(archive, mtime=0)


def _v1_ids(image: BuiltImage) -> list[str]:
    ids: list[str] = []
    parent = ""
    chain = ""
    for layer in image.layers:
        chain = layer.diff_id if not chain else sha256(f"{chain} {layer.diff_id}".encode())
        parent = hashlib.sha256(f"{chain}|{parent}|{image.config_hex}".encode()).hexdigest()
        ids.append(parent)
    return ids


def _familiar(tag: str) -> str:
    if "/" not in tag:
        return "docker.io/library/" + tag
    first = tag.split("/", 1)[0]
    if "." in first or ":" in first or first == "localhost":
        return tag
    return "docker.io/" + tag


def _repositories(images: Sequence[BuiltImage], tops: Sequence[str], full: bool) -> bytes:
    repos: dict[str, dict[str, str]] = {}
    for image, top in zip(images, tops, strict=True):
        for tag in image.tags:
            name, _, version = (_familiar(tag) if full else tag).rpartition(":")
            repos.setdefault(name, {})[version] = top
    return _json(repos)


def docker_save_legacy(*images: BuiltImage, link_first: bool = True) -> bytes:
    """Docker ≤ 24 `docker save`: `<v1id>/{VERSION,json,layer.tar}`, `<config>.json`,
    `repositories`, and `manifest.json` last. A layer seen again (in the same image or
    another) is a relative symlink `../<v1id>/layer.tar`, written before its target when
    `link_first` (what Docker's lexical walk did in the verified case) or after it."""
    real: list[Member] = []
    links: list[Member] = []
    stored: dict[str, str] = {}
    manifest: list[dict[str, Any]] = []
    tops: list[str] = []
    for image in images:
        ids = _v1_ids(image)
        tops.append(ids[-1] if ids else "")
        for position, (v1, layer) in enumerate(zip(ids, image.layers, strict=True)):
            legacy = {"id": v1, "created": CREATED}
            if position:
                legacy["parent"] = ids[position - 1]
            group = [
                Member(v1, directory=True),
                Member(f"{v1}/VERSION", b"1.0"),
                Member(f"{v1}/json", _json(legacy)),
            ]
            if layer.diff_id in stored:
                group.append(
                    Member(f"{v1}/layer.tar", symlink=f"../{stored[layer.diff_id]}/layer.tar")
                )
                links.extend(group)
            else:
                stored[layer.diff_id] = v1
                group.append(Member(f"{v1}/layer.tar", layer.tar))
                real.extend(group)
        manifest.append(
            {
                "Config": f"{image.config_hex}.json",
                "RepoTags": list(image.tags) or None,
                "Layers": [f"{v1}/layer.tar" for v1 in ids],
            }
        )
    configs = [Member(f"{image.config_hex}.json", image.config) for image in images]
    members = (links + real) if link_first else (real + links)
    members += configs
    members.append(Member("repositories", _repositories(images, tops, full=False)))
    members.append(Member("manifest.json", _json(manifest)))
    return pack(members)


def podman_archive(*images: BuiltImage) -> bytes:
    """containers/image docker-archive: `<diffid>.tar` layers first, `<config>.json`,
    legacy `<v1id>/layer.tar` symlinks to `../<diffid>.tar`, fully qualified RepoTags."""
    layers: list[Member] = []
    legacy: list[Member] = []
    seen: set[str] = set()
    manifest: list[dict[str, Any]] = []
    tops: list[str] = []
    for image in images:
        ids = _v1_ids(image)
        tops.append(ids[-1] if ids else "")
        for v1, layer in zip(ids, image.layers, strict=True):
            hexname = layer.diff_id.removeprefix("sha256:")
            if hexname not in seen:
                seen.add(hexname)
                layers.append(Member(f"{hexname}.tar", layer.tar))
            legacy += [
                Member(v1, directory=True),
                Member(f"{v1}/VERSION", b"1.0"),
                Member(f"{v1}/json", _json({"id": v1})),
                Member(f"{v1}/layer.tar", symlink=f"../{hexname}.tar"),
            ]
        manifest.append(
            {
                "Config": f"{image.config_hex}.json",
                "RepoTags": [_familiar(t) for t in image.tags],
                "Layers": [f"{d.removeprefix('sha256:')}.tar" for d in image.diff_ids],
            }
        )
    configs = [Member(f"{image.config_hex}.json", image.config) for image in images]
    members = layers + configs + legacy
    members.append(Member("manifest.json", _json(manifest)))
    members.append(Member("repositories", _repositories(images, tops, full=True)))
    return pack(members)


def kaniko_tarball(image: BuiltImage) -> bytes:
    """kaniko `--tar-path`: config named `sha256:<hex>`, gzip layers `<digest-hex>.tar.gz`."""
    members = [Member(f"sha256:{image.config_hex}", image.config)]
    names: list[str] = []
    for layer in image.layers:
        blob = layer.blob("gzip")
        name = f"{hashlib.sha256(blob).hexdigest()}.tar.gz"
        names.append(name)
        if all(m.name != name for m in members):
            members.append(Member(name, blob))
    manifest = [
        {"Config": f"sha256:{image.config_hex}", "RepoTags": list(image.tags), "Layers": names}
    ]
    members.append(Member("manifest.json", _json(manifest)))
    return pack(members)


@dataclass
class _Blobs:
    """A content-addressed blob store, in insertion order."""

    blobs: dict[str, bytes] = field(default_factory=dict)

    def add(self, data: bytes, media_type: str, **extra: Any) -> dict[str, Any]:
        digest = sha256(data)
        self.blobs.setdefault(digest.removeprefix("sha256:"), data)
        return {"mediaType": media_type, "digest": digest, "size": len(data), **extra}

    def members(self) -> list[Member]:
        head = [Member("blobs", directory=True), Member("blobs/sha256", directory=True)]
        return head + [Member(f"blobs/sha256/{h}", d) for h, d in sorted(self.blobs.items())]


def _manifest(
    blobs: _Blobs, image: BuiltImage, compression: Compression
) -> tuple[dict[str, Any], list[str]]:
    """Store an image's config, layers and OCI manifest; return the manifest descriptor
    (with platform) and the layer blob names."""
    config = blobs.add(image.config, OCI_CONFIG)
    layers = [
        blobs.add(layer.blob(compression), LAYER_TYPES[compression]) for layer in image.layers
    ]
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers}
    desc = blobs.add(_json(doc), OCI_MANIFEST, platform=image.platform)
    names = [f"blobs/sha256/{d['digest'].removeprefix('sha256:')}" for d in layers]
    return desc, names


def _attestation(blobs: _Blobs, target: dict[str, Any]) -> dict[str, Any]:
    statement = _json({"_type": "https://in-toto.io/Statement/v0.1", "subject": []})
    config = blobs.add(_json({"architecture": "unknown", "os": "unknown"}), OCI_CONFIG)
    layer = blobs.add(statement, "application/vnd.in-toto+json")
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}
    return blobs.add(
        _json(doc),
        OCI_MANIFEST,
        platform={"architecture": "unknown", "os": "unknown"},
        annotations={
            "vnd.docker.reference.type": "attestation-manifest",
            "vnd.docker.reference.digest": target["digest"],
        },
    )


def _index(manifests: list[dict[str, Any]]) -> bytes:
    return _json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})


def _docker_manifest_entry(image: BuiltImage, layers: list[str], full: bool) -> dict[str, Any]:
    return {
        "Config": f"blobs/sha256/{image.config_hex}",
        "RepoTags": [_familiar(t) if full else t for t in image.tags],
        "Layers": layers,
    }


def _names(tag: str) -> dict[str, str]:
    return {CONTAINERD_NAME: _familiar(tag), REF_NAME: tag.rpartition(":")[2]}


OCI_LAYOUT = Member("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')


def docker25_save(*images: BuiltImage) -> list[Member]:
    """Docker 25+ classic store: OCI layout with uncompressed layers at
    `blobs/sha256/<diffid>`, unreferenced legacy v1 JSON blobs, `index.json` with name
    annotations, and the Docker `manifest.json` + `repositories`. Pass to `pack`."""
    blobs = _Blobs()
    index: list[dict[str, Any]] = []
    docker: list[dict[str, Any]] = []
    tops: list[str] = []
    for image in images:
        ids = _v1_ids(image)
        tops.append(ids[-1] if ids else "")
        for v1 in ids:
            blobs.add(_json({"id": v1, "created": CREATED}), "application/json")
        desc, names = _manifest(blobs, image, "none")
        desc.pop("platform")
        for tag in image.tags:
            index.append({**desc, "annotations": _names(tag)})
        docker.append(_docker_manifest_entry(image, names, full=False))
    return [
        *blobs.members(),
        Member("index.json", _index(index)),
        Member("manifest.json", _json(docker)),
        OCI_LAYOUT,
        Member("repositories", _repositories(images, tops, full=False)),
    ]


def containerd_save(*images: BuiltImage, compression: Compression = "gzip") -> list[Member]:
    """Docker with the containerd store (or `ctr images export`): compressed blobs named
    by their digest, `index.json` → nested image index → manifest, and `manifest.json`
    (no `repositories`). Pass to `pack`."""
    blobs = _Blobs()
    index: list[dict[str, Any]] = []
    docker: list[dict[str, Any]] = []
    for image in images:
        desc, names = _manifest(blobs, image, compression)
        nested = blobs.add(_index([desc]), OCI_INDEX)
        for tag in image.tags:
            index.append({**nested, "annotations": _names(tag)})
        docker.append(_docker_manifest_entry(image, names, full=False))
    return [
        *blobs.members(),
        Member("index.json", _index(index)),
        Member("manifest.json", _json(docker)),
        OCI_LAYOUT,
    ]


def oci_layout(
    *images: BuiltImage,
    compression: Compression = "gzip",
    ref_names: Literal["full", "tag", "none"] = "full",
    manifest_json: bool = False,
) -> list[Member]:
    """A plain OCI image layout (buildx `type=oci` with `ref_names="none"`, skopeo
    oci-archive with `"full"`): `blobs/…`, `index.json`, `oci-layout`. Pass to `pack`
    for an archive or to `write_tree` for a directory."""
    blobs = _Blobs()
    index: list[dict[str, Any]] = []
    docker: list[dict[str, Any]] = []
    for image in images:
        desc, names = _manifest(blobs, image, compression)
        if ref_names == "none" or not image.tags:
            index.append(desc)
        for tag in image.tags if ref_names != "none" else ():
            name = tag if ref_names == "full" else tag.rpartition(":")[2]
            index.append({**desc, "annotations": {REF_NAME: name}})
        docker.append(_docker_manifest_entry(image, names, full=False))
    members = [*blobs.members(), Member("index.json", _index(index)), OCI_LAYOUT]
    if manifest_json:
        members.append(Member("manifest.json", _json(docker)))
    return members


def multi_platform(
    *images: BuiltImage,
    compression: Compression = "gzip",
    attestation: bool = True,
    nested: bool = True,
    name: str | None = "example/app:latest",
) -> list[Member]:
    """One name for several platforms: an image index (nested under `index.json` when
    `nested`, else `index.json` itself) listing one manifest per image and, with
    `attestation`, a BuildKit attestation manifest (platform unknown/unknown) for each."""
    blobs = _Blobs()
    entries: list[dict[str, Any]] = []
    for image in images:
        desc, _ = _manifest(blobs, image, compression)
        entries.append(desc)
        if attestation:
            entries.append(_attestation(blobs, desc))
    annotations = {REF_NAME: name} if name else {}
    if nested:
        top = blobs.add(_index(entries), OCI_INDEX)
        if annotations:
            top["annotations"] = annotations
        index = [top]
    else:
        index = [{**e, "annotations": annotations} if annotations else e for e in entries]
    return [*blobs.members(), Member("index.json", _index(index)), OCI_LAYOUT]
