"""Image metadata: parse manifests, indexes and configs into the model, pick an image.

Small explicit functions over parsed JSON; every problem is a ManifestError naming the
input and the field. Shared by every source that reads an OCI graph or `manifest.json`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inspector import documents
from inspector.digest import Digest
from inspector.errors import ImageNotFound, ManifestError, PlatformNotFound, excerpt
from inspector.model import HistoryEntry, ImageConfig, LayerInfo, Platform

INDEX_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)
MANIFEST_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    }
)
CONFIG_TYPES = frozenset(
    {
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    }
)
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
MAX_BLOB = 1 << 42
"""The largest blob size a descriptor may give (4 TiB)."""
MAX_INDEX_DEPTH = 8
"""How many indexes deep an index may nest others."""


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(f"{what}: expected a JSON object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    """An optional JSON array (absent or null: empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ManifestError(f"{what}: expected a JSON array of descriptors")
    return value


def _strs(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    return None


@dataclass(frozen=True, slots=True)
class Config:
    """The parts of an image config the inspector uses."""

    diff_ids: tuple[Digest, ...]
    history: tuple[HistoryEntry, ...]
    platform: Platform | None
    runtime: ImageConfig
    created: str | None


def parse_config(data: bytes, what: str) -> Config:
    """The config's layers, history, platform and runtime settings.

    Fields of the wrong JSON type are read as absent (an image config is free-form
    beyond `rootfs`); only `rootfs.diff_ids` is required.
    """
    doc = _obj(documents.load(data, what, documents.CONFIG), what)
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise ManifestError(f"{what}: config has no rootfs.diff_ids")
    diff_ids = tuple(Digest.parse(str(d), f"{what}: rootfs.diff_ids") for d in rootfs["diff_ids"])
    history = tuple(
        HistoryEntry(
            created=_text(h.get("created")),
            created_by=str(h.get("created_by") or ""),
            author=_text(h.get("author")),
            comment=_text(h.get("comment")),
            empty_layer=bool(h.get("empty_layer", False)),
        )
        for h in _array(doc.get("history"))
        if isinstance(h, dict)
    )
    platform = None
    if doc.get("os") and doc.get("architecture"):
        platform = Platform(str(doc["os"]), str(doc["architecture"]), _text(doc.get("variant")))
    cfg = doc.get("config") or doc.get("container_config") or {}
    if not isinstance(cfg, dict):
        cfg = {}
    labels = cfg.get("Labels") or {}
    ports = cfg.get("ExposedPorts") or {}
    runtime = ImageConfig(
        entrypoint=_strs(cfg.get("Entrypoint")),
        cmd=_strs(cfg.get("Cmd")),
        env=_strs(cfg.get("Env")) or (),
        user=str(cfg.get("User") or ""),
        workdir=str(cfg.get("WorkingDir") or ""),
        exposed_ports=tuple(sorted(p for p in ports if isinstance(p, str)))
        if isinstance(ports, dict | list)
        else (),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items()))
        if isinstance(labels, dict)
        else (),
    )
    return Config(diff_ids, history, platform, runtime, _text(doc.get("created")))


def _text(value: Any) -> str | None:
    """A JSON string field; any other type reads as absent."""
    return value if isinstance(value, str) else None


def _array(value: Any) -> list[Any]:
    """A JSON array field; any other type reads as empty."""
    return value if isinstance(value, list) else []


def layer_history(history: Sequence[HistoryEntry], count: int) -> list[HistoryEntry | None]:
    """Line history up with layers: each entry without `empty_layer` takes the next layer."""
    result: list[HistoryEntry | None] = []
    for entry in history:
        if not entry.empty_layer:
            result.append(entry)
    result = result[:count]
    result.extend([None] * (count - len(result)))
    return result


@dataclass(frozen=True, slots=True)
class Descriptor:
    """An OCI content descriptor; `size` is the blob's exact length, checked on reading."""

    media_type: str
    digest: Digest
    size: int
    platform: Platform | None
    annotations: Mapping[str, str]

    @property
    def is_attestation(self) -> bool:
        if self.annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            return True
        return self.platform is not None and self.platform.os == "unknown"


def parse_descriptor(value: Any, what: str) -> Descriptor:
    doc = _obj(value, what)
    if "digest" not in doc:
        raise ManifestError(f"{what}: descriptor has no digest")
    platform = None
    plat = doc.get("platform")
    if isinstance(plat, dict) and plat.get("os") and plat.get("architecture"):
        platform = Platform(str(plat["os"]), str(plat["architecture"]), _text(plat.get("variant")))
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ManifestError(f"{what}: descriptor annotations are not a JSON object")
    return Descriptor(
        media_type=str(doc.get("mediaType") or ""),
        digest=Digest.parse(str(doc["digest"]), what),
        size=descriptor_size(doc.get("size"), what),
        platform=platform,
        annotations={str(k): str(v) for k, v in annotations.items()},
    )


def descriptor_size(value: Any, what: str) -> int:
    """A descriptor's `size`: a whole number of bytes from 0 to MAX_BLOB (not a bool, a
    float or a string), as the OCI image spec requires; ManifestError otherwise."""
    if value is None:
        raise ManifestError(f"{what}: descriptor has no size")
    if type(value) is not int:
        raise ManifestError(f"{what}: descriptor size {excerpt(value)} is not a byte count")
    if value < 0:
        raise ManifestError(f"{what}: descriptor size {value} is negative")
    if value > MAX_BLOB:
        raise ManifestError(
            f"{what}: descriptor size {excerpt(value)} is larger than {MAX_BLOB >> 40} TiB"
        )
    return value


def ref_matches(ref: str, desc: Descriptor) -> bool:
    """Does a user's reference (tag, name:tag or digest) name this index entry?"""
    if Digest.is_valid(ref):
        return str(desc.digest) == ref
    names = {desc.annotations.get(REF_NAME, ""), desc.annotations.get(CONTAINERD_NAME, "")}
    names.discard("")
    if ref in names:
        return True
    wanted = normalize_name(ref)
    return any(wanted == normalize_name(n) for n in names if ":" in n or "/" in n)


def normalize_name(name: str) -> str:
    """`busybox` → `docker.io/library/busybox:latest`; used to compare tags."""
    if "@" in name:
        name = name.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        name += ":latest"
    first = name.split("/", 1)[0]
    if "/" not in name or ("." not in first and ":" not in first and first != "localhost"):
        if "/" not in name:
            name = "library/" + name
        name = "docker.io/" + name
    return name


Fetch = Callable[[Descriptor], bytes]


def select_manifest(
    index_doc: Any,
    fetch: Fetch,
    label: str,
    *,
    ref: str | None,
    platform: Platform | None,
) -> tuple[Descriptor, dict[str, Any], tuple[str, ...]]:
    """Walk an OCI index (nesting allowed) to one image manifest.

    Returns the manifest's descriptor, the parsed manifest and the names the index gives
    it. `platform` None means "the host's, or the only image there is".
    """
    top = _obj(index_doc, f"{label}: index.json")
    entries = [
        parse_descriptor(d, f"{label}: index.json")
        for d in _list(top.get("manifests"), f"{label}: index.json")
    ]
    if ref is not None:
        chosen = [d for d in entries if ref_matches(ref, d)]
        if not chosen:
            names = sorted({_name(d) for d in entries if _name(d)})
            listing = ", ".join(names) or "none"
            raise ImageNotFound(f"{label}: no image named {ref!r} (available: {listing})")
        entries = chosen
    else:
        named = [d for d in entries if _name(d)]
        distinct = {_name(d) for d in named}
        if len(distinct) > 1 and len({d.digest for d in named}) > 1:
            listing = ", ".join(sorted(distinct))
            raise ImageNotFound(f"{label}: holds several images; pick one of: {listing}")
    tags = tuple(sorted({_name(d) for d in entries if _name(d)}))
    candidates = _flatten(entries, fetch, label, depth=0)
    if not candidates:
        raise ImageNotFound(f"{label}: the index holds no image manifest")
    desc = _pick_platform(candidates, platform, label)
    manifest = _obj(_fetch_document(desc, fetch, f"{label}: manifest {desc.digest}"), label)
    return desc, manifest, tags


def _fetch_document(desc: Descriptor, fetch: Fetch, what: str) -> Any:
    """A manifest or index a descriptor names: its size is checked against the cap before
    it is fetched (the fetcher checks the blob against the size and digest)."""
    documents.MANIFEST.check(what, desc.size)
    return documents.load(fetch(desc), what, documents.MANIFEST)


def _name(desc: Descriptor) -> str:
    return desc.annotations.get(CONTAINERD_NAME) or desc.annotations.get(REF_NAME, "")


def _flatten(entries: list[Descriptor], fetch: Fetch, label: str, depth: int) -> list[Descriptor]:
    if depth > MAX_INDEX_DEPTH:
        raise ManifestError(f"{label}: indexes nested more than {MAX_INDEX_DEPTH} deep")
    found: list[Descriptor] = []
    for desc in entries:
        if desc.is_attestation:
            continue
        if desc.media_type in INDEX_TYPES:
            what = f"{label}: index {desc.digest}"
            nested = _obj(_fetch_document(desc, fetch, what), what)
            children = [parse_descriptor(d, what) for d in _list(nested.get("manifests"), what)]
            found.extend(_flatten(children, fetch, label, depth + 1))
        elif desc.media_type in MANIFEST_TYPES or not desc.media_type:
            found.append(desc)
    return found


def _pick_platform(
    candidates: list[Descriptor], platform: Platform | None, label: str
) -> Descriptor:
    if platform is None:
        if len(candidates) == 1:
            return candidates[0]
        wanted = Platform.host()
    else:
        wanted = platform
    for desc in candidates:
        if desc.platform is None and platform is None:
            return desc
        if desc.platform is not None and wanted.matches(desc.platform):
            return desc
    available = ", ".join(str(d.platform) if d.platform else "unspecified" for d in candidates)
    raise PlatformNotFound(f"{label}: no image for platform {wanted} (available: {available})")


def layer_descriptors(manifest: dict[str, Any], label: str) -> tuple[Descriptor, list[Descriptor]]:
    """The config descriptor and layer descriptors of an image manifest."""
    config = parse_descriptor(manifest.get("config"), f"{label}: manifest config")
    documents.CONFIG.check(f"{label}: config {config.digest}", config.size)
    if config.media_type and config.media_type not in CONFIG_TYPES:
        raise ManifestError(
            f"{label}: manifest is an artifact ({config.media_type}), not a container image"
        )
    layers_doc = manifest.get("layers")
    if not isinstance(layers_doc, list):
        raise ManifestError(f"{label}: manifest has no layers list")
    layers = [parse_descriptor(d, f"{label}: manifest layer") for d in layers_doc]
    return config, layers


def media_type_for(compression: str) -> str:
    return {
        "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
        "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    }.get(compression, "application/vnd.oci.image.layer.v1.tar")


def build_layers(
    config: Config,
    found: Sequence[tuple[Digest | None, str, int | None, str]],
) -> tuple[LayerInfo, ...]:
    """LayerInfo for each layer: (digest, media type, stored size, source id) per position."""
    history = layer_history(config.history, len(config.diff_ids))
    return tuple(
        LayerInfo(
            position=i,
            diff_id=config.diff_ids[i],
            digest=digest,
            media_type=media_type,
            size=size,
            history=history[i],
            source_id=source_id,
        )
        for i, (digest, media_type, size, source_id) in enumerate(found)
    )
