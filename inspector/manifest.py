"""Image metadata: parse manifests, indexes and configs into the model, pick an image.

Small explicit functions over parsed JSON; every problem is a ManifestError naming the
input and the field. Shared by every source that reads an OCI graph or `manifest.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from inspector.digest import Digest
from inspector.errors import ImageNotFound, ManifestError, PlatformNotFound
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


def parse_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{what}: invalid JSON ({exc})") from None


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(f"{what}: expected a JSON object")
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
    doc = _obj(parse_json(data, what), what)
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise ManifestError(f"{what}: config has no rootfs.diff_ids")
    diff_ids = tuple(Digest.parse(str(d), f"{what}: rootfs.diff_ids") for d in rootfs["diff_ids"])
    history = tuple(
        HistoryEntry(
            created=h.get("created"),
            created_by=str(h.get("created_by") or ""),
            author=h.get("author"),
            comment=h.get("comment"),
            empty_layer=bool(h.get("empty_layer", False)),
        )
        for h in (doc.get("history") or [])
        if isinstance(h, dict)
    )
    platform = None
    if doc.get("os") and doc.get("architecture"):
        platform = Platform(str(doc["os"]), str(doc["architecture"]), doc.get("variant"))
    cfg = doc.get("config") or doc.get("container_config") or {}
    if not isinstance(cfg, dict):
        cfg = {}
    labels = cfg.get("Labels") or {}
    runtime = ImageConfig(
        entrypoint=_strs(cfg.get("Entrypoint")),
        cmd=_strs(cfg.get("Cmd")),
        env=_strs(cfg.get("Env")) or (),
        user=str(cfg.get("User") or ""),
        workdir=str(cfg.get("WorkingDir") or ""),
        exposed_ports=tuple(sorted(cfg.get("ExposedPorts") or {})),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items()))
        if isinstance(labels, dict)
        else (),
    )
    return Config(diff_ids, history, platform, runtime, doc.get("created"))


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
        platform = Platform(str(plat["os"]), str(plat["architecture"]), plat.get("variant"))
    size = doc.get("size", -1)
    return Descriptor(
        media_type=str(doc.get("mediaType") or ""),
        digest=Digest.parse(str(doc["digest"]), what),
        size=size if isinstance(size, int) else -1,
        platform=platform,
        annotations={str(k): str(v) for k, v in (doc.get("annotations") or {}).items()},
    )


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
    entries = [parse_descriptor(d, f"{label}: index.json") for d in (top.get("manifests") or [])]
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
    manifest = _obj(parse_json(fetch(desc), f"{label}: manifest {desc.digest}"), label)
    return desc, manifest, tags


def _name(desc: Descriptor) -> str:
    return desc.annotations.get(CONTAINERD_NAME) or desc.annotations.get(REF_NAME, "")


def _flatten(entries: list[Descriptor], fetch: Fetch, label: str, depth: int) -> list[Descriptor]:
    if depth > 8:
        raise ManifestError(f"{label}: indexes nested too deeply")
    found: list[Descriptor] = []
    for desc in entries:
        if desc.is_attestation:
            continue
        if desc.media_type in INDEX_TYPES:
            nested = _obj(parse_json(fetch(desc), f"{label}: index {desc.digest}"), label)
            children = [
                parse_descriptor(d, f"{label}: index {desc.digest}")
                for d in (nested.get("manifests") or [])
            ]
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
