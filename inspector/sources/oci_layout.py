"""An OCI image layout directory: `oci-layout`, `index.json` and `blobs/<alg>/<hex>`.

The metadata is read first (the graph is small), then each layer blob is streamed from
its file into the indexer, base first, so a UI can show the layer stack before any layer
is read. Every blob is checked against its digest and every layer against its diff_id.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import BinaryIO

from inspector.cache import LayerCache
from inspector.digest import Digest
from inspector.errors import DigestMismatch, ManifestError, SourceError, SourceNotFound
from inspector.indexer import LayerIndex, index_blob
from inspector.manifest import (
    Descriptor,
    build_layers,
    layer_descriptors,
    parse_config,
    parse_json,
    select_manifest,
)
from inspector.model import Image, Platform
from inspector.sharing import OtherImage
from inspector.source import LoadedImage, LoadEvents

MAX_DOC = 64 << 20


def is_layout(path: str) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, "oci-layout"))


class OciLayoutSource:
    """An OCI image layout directory on disk."""

    def __init__(
        self,
        path: str,
        label: str,
        *,
        ref: str | None = None,
        platform: Platform | None = None,
        cache: LayerCache | None = None,
    ) -> None:
        self.cache = cache
        self.path = path
        self.label = label
        self.ref = ref
        self.platform = platform

    def _blob_path(self, digest: Digest) -> str:
        return os.path.join(self.path, "blobs", digest.algorithm, digest.hex)

    def _read_doc(self, desc: Descriptor) -> bytes:
        path = self._blob_path(desc.digest)
        try:
            size = os.path.getsize(path)
            if size > MAX_DOC:
                raise ManifestError(f"{self.label}: blob {desc.digest} is too large for JSON")
            with open(path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise ManifestError(f"{self.label}: missing blob {desc.digest}") from None
        except OSError as exc:
            raise SourceError(f"{self.label}: cannot read blob {desc.digest} ({exc})") from None
        if hashlib.new(desc.digest.algorithm, data).hexdigest() != desc.digest.hex:
            raise DigestMismatch(f"{self.label}: blob {desc.digest} does not match its digest")
        return data

    def _manifest(self) -> tuple[Descriptor, dict[str, object], tuple[str, ...]]:
        if not os.path.exists(self.path):
            raise SourceNotFound(f"{self.label}: no such directory")
        if not is_layout(self.path):
            raise SourceError(f"{self.label}: not an OCI image layout (no oci-layout file)")
        try:
            with open(os.path.join(self.path, "index.json"), "rb") as handle:
                index_doc = parse_json(handle.read(), f"{self.label}: index.json")
        except FileNotFoundError:
            raise ManifestError(f"{self.label}: OCI layout has no index.json") from None
        return select_manifest(
            index_doc, self._read_doc, self.label, ref=self.ref, platform=self.platform
        )

    def chain(self) -> OtherImage:
        """Only the image's layer chain: index, manifest and config, no layer blob."""
        _, manifest, _ = self._manifest()
        config_desc, _ = layer_descriptors(manifest, self.label)
        config = parse_config(self._read_doc(config_desc), f"{self.label}: config")
        return OtherImage(self.label, config.diff_ids)

    def load(self, events: LoadEvents) -> LoadedImage:
        desc, manifest, tags = self._manifest()
        config_desc, layer_descs = layer_descriptors(manifest, self.label)
        config_bytes = self._read_doc(config_desc)
        config = parse_config(config_bytes, f"{self.label}: config {config_desc.digest}")
        if len(config.diff_ids) != len(layer_descs):
            raise ManifestError(
                f"{self.label}: config lists {len(config.diff_ids)} diff_ids but the manifest "
                f"{len(layer_descs)} layers"
            )
        infos = build_layers(
            config,
            [
                (d.digest, d.media_type, d.size if d.size >= 0 else None, f"blobs/{d.digest.hex}")
                for d in layer_descs
            ],
        )
        image = Image(
            label=self.label,
            tags=tags,
            config_digest=config_desc.digest,
            platform=config.platform or desc.platform,
            layers=infos,
            history=config.history,
            config=config.runtime,
            created=config.created,
            manifest_digest=desc.digest,
        )
        events.image_known(image)
        indexes: list[LayerIndex] = []
        done: dict[Digest, LayerIndex] = {}
        for position, layer_desc in enumerate(layer_descs):
            index = done.get(layer_desc.digest)
            if index is None:
                index = self._index_layer(layer_desc, events)
                done[layer_desc.digest] = index
            if index.diff_id != config.diff_ids[position]:
                raise DigestMismatch(
                    f"{self.label}: layer {position} uncompresses to {index.diff_id}, "
                    f"but the config says {config.diff_ids[position]}"
                )
            indexes.append(index)
        warnings = tuple(f"layer {i}: {w}" for i, ix in enumerate(indexes) for w in ix.warnings)
        blobs = [self._blob_path(d.digest) for d in layer_descs]
        return LoadedImage(image, tuple(indexes), warnings, reopen=BlobFiles(blobs, self.label))

    def _index_layer(self, desc: Descriptor, events: LoadEvents) -> LayerIndex:
        path = self._blob_path(desc.digest)
        label = f"{self.label}: layer {desc.digest}"
        if self.cache is not None:
            cached = self.cache.lookup(desc.digest.hex)
            if cached is not None and cached.digest == desc.digest:
                events.layer_started(str(desc.digest), desc.size if desc.size >= 0 else None)
                events.layer_done(str(desc.digest), cached)
                return cached
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise ManifestError(f"{self.label}: missing layer blob {desc.digest}") from None
        except OSError as exc:
            raise SourceError(f"{label}: cannot open ({exc.strerror})") from None
        events.layer_started(str(desc.digest), desc.size if desc.size >= 0 else None)
        with handle:
            read: Callable[[int], bytes] = handle.read
            index = index_blob(read, label, progress=events.layer_progress)
        if index.digest != desc.digest:
            raise DigestMismatch(f"{label}: blob does not match its digest (got {index.digest})")
        if self.cache is not None:
            self.cache.put(index, desc.digest.hex)
        events.layer_done(str(desc.digest), index)
        return index


class BlobFiles:
    """A `LayerOpener` over an OCI layout: layer `position` is the blob file `paths[position]`."""

    def __init__(self, paths: Sequence[str], label: str) -> None:
        self._paths = tuple(paths)
        self._label = label

    @contextmanager
    def __call__(self, position: int) -> Iterator[BinaryIO]:
        path = self._paths[position]
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise SourceError(
                f"{self._label}: cannot open layer blob {os.path.basename(path)} again "
                f"({exc.strerror})"
            ) from None
        with handle:
            yield handle
