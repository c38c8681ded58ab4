"""An OCI image layout directory: `oci-layout`, `index.json` and `blobs/<alg>/<hex>`.

The metadata is read first (the graph is small), then each layer blob is streamed from
its file into the indexer, base first, so a UI can show the layer stack before any layer
is read. Every blob is checked against its descriptor's size and digest and every layer
against its diff_id. Every file is opened by `open_regular` without following a
symbolic link: a FIFO, a device, a directory or a link inside the layout is an error.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import BinaryIO

from inspector import documents
from inspector.blobs import ExactReader, check_blob_size
from inspector.cache import LayerCache
from inspector.digest import Digest
from inspector.errors import DigestMismatch, ManifestError, SourceError, SourceNotFound
from inspector.indexer import LayerIndex, index_blob
from inspector.manifest import (
    Descriptor,
    build_layers,
    layer_descriptors,
    parse_config,
    select_manifest,
)
from inspector.model import Image, Platform
from inspector.regularfile import open_regular
from inspector.sharing import OtherImage
from inspector.source import LoadedImage, LoadEvents


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

    def _open_blob(self, desc: Descriptor, what: str) -> BinaryIO:
        """The blob file a descriptor names, a regular file as long as the descriptor says."""
        try:
            handle = open_regular(self._blob_path(desc.digest), what, follow=False)
        except FileNotFoundError:
            raise ManifestError(f"{self.label}: missing blob {desc.digest}") from None
        try:
            check_blob_size(what, desc.size, os.fstat(handle.fileno()).st_size)
        except BaseException:
            handle.close()
            raise
        return handle

    def _read_doc(self, desc: Descriptor) -> bytes:
        what = f"{self.label}: blob {desc.digest}"
        with self._open_blob(desc, what) as handle:
            data = ExactReader(handle.read, desc.size, what).read()
        if hashlib.new(desc.digest.algorithm, data).hexdigest() != desc.digest.hex:
            raise DigestMismatch(f"{what}: does not match its digest")
        return data

    def _manifest(self) -> tuple[Descriptor, dict[str, object], tuple[str, ...]]:
        if not os.path.exists(self.path):
            raise SourceNotFound(f"{self.label}: no such directory")
        if not is_layout(self.path):
            raise SourceError(f"{self.label}: not an OCI image layout (no oci-layout file)")
        what = f"{self.label}: index.json"
        try:
            handle = open_regular(os.path.join(self.path, "index.json"), what, follow=False)
        except FileNotFoundError:
            raise ManifestError(f"{self.label}: OCI layout has no index.json") from None
        with handle:
            documents.MANIFEST.check(what, os.fstat(handle.fileno()).st_size)
            index_doc = documents.load(
                handle.read(documents.MANIFEST.bytes + 1), what, documents.MANIFEST
            )
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
            [(d.digest, d.media_type, d.size, f"blobs/{d.digest.hex}") for d in layer_descs],
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
        label = f"{self.label}: layer {desc.digest}"
        if self.cache is not None:
            cached = self.cache.lookup(desc.digest.hex)
            if cached is not None and cached.digest == desc.digest:
                events.layer_started(str(desc.digest), desc.size)
                events.layer_done(str(desc.digest), cached)
                return cached
        with self._open_blob(desc, label) as handle:
            events.layer_started(str(desc.digest), desc.size)
            exact = ExactReader(handle.read, desc.size, label)
            index = index_blob(
                exact.read,
                label,
                progress=events.layer_progress,
                inflated=events.layer_inflated,
            )
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
        what = f"{self._label}: layer blob {os.path.basename(path)}"
        try:
            handle = open_regular(path, what, follow=False)
        except FileNotFoundError:
            raise SourceError(f"{what} is gone; cannot read it again") from None
        with handle:
            yield handle
