"""What the workers run: index one layer blob, analyse one image, load one local image.

Every function here is pure but for its input (a registry blob, a local image) and takes
and returns small picklable values, so the same code runs in a local process pool or on a
Dask cluster:

* `index_layer(LayerJob) -> LayerSummary`: one registry blob, fetched by this worker,
  checked against its digest, its size and its diff_id, indexed as it streams. The summary
  is the layer's index as the layer cache encodes it (`cachecodec.encode`), zstd-compressed,
  with the secrets the indexer found (kinds and fingerprints, never values).
* `analyse_image(Image, *LayerSummary) -> ImageResult`: the image's layer indexes back
  from their summaries, then the pipeline's own analysis (`pipeline.analyse`: exact waste,
  dive's numbers, findings), boiled down to numbers and findings.
* `load_local(LocalJob) -> LocalResult`: an engine image, an archive or an OCI layout read
  through the pipeline (`pipeline.load`) with a layer cache shared by the local workers,
  then analysed; only the summaries of layers the audit does not hold yet travel back.

A registry credential reaches a worker inside `Fetch` as a `Credential`, whose repr hides
it; it is never part of a task key, and nothing here logs it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import zstandard

from inspector import cachecodec, pipeline
from inspector.cache import LayerCache
from inspector.digest import Digest
from inspector.errors import CorruptStream, DigestMismatch
from inspector.indexer import LayerIndex, index_blob
from inspector.inspection import Inspection
from inspector.model import Image
from inspector.registry.client import ClientOptions, RegistryClient
from inspector.registry.credentials import Credential
from inspector.registry.download import BlobStream
from inspector.registry.reference import ImageReference
from inspector.secrets import SecretHit
from inspector.source import LoadedImage, LoadEvents
from inspector.transports import SourceOptions

SECRET_FINDINGS = frozenset({"secret-in-image", "secret-recoverable"})
TOP_PATHS = 5
_CLIENTS = 16  # registry clients kept per worker process (one per registry and repository)


@dataclass(frozen=True, slots=True)
class Fetch:
    """How a worker reaches a registry: its host, TLS checking and the credential."""

    registry: str
    tls_verify: bool = True
    credential: Credential | None = None


@dataclass(frozen=True, slots=True)
class LayerJob:
    """One layer blob to index: where it is and what it must turn out to be."""

    fetch: Fetch
    repository: str
    digest: str
    diff_id: str
    size: int | None

    @property
    def key(self) -> str:
        """The task's key: the blob digest, nothing secret."""
        return f"layer-{Digest.parse(self.digest).hex}"


@dataclass(frozen=True, slots=True)
class LayerSummary:
    """A layer's index as the layer cache encodes it (zstd), plus what the encoding omits."""

    diff_id: str
    digest: str
    compressed_size: int
    uncompressed_size: int
    compression: str
    data: bytes
    secrets: tuple[SecretHit, ...] = ()

    def index(self) -> LayerIndex:
        """The LayerIndex back (entries decoded when first read)."""
        raw = zstandard.ZstdDecompressor().decompress(self.data)
        index = cachecodec.decode(raw, lazy=True)
        index.secrets = list(self.secrets)
        return index


@dataclass(frozen=True, slots=True)
class FindingRow:
    """A finding as the audit keeps it: no Dockerfile fix text, the top paths only."""

    id: str
    severity: str
    title: str
    bytes: int
    evidence: str
    paths: tuple[tuple[str, int], ...]
    path_count: int
    layers: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ImageResult:
    """What the audit keeps of one image's analysis."""

    content_bytes: int  # bytes of regular files the layers store (exact accounting)
    visible_bytes: int
    wasted_bytes: int
    wasted_files: int
    efficiency: float
    dive_efficiency: float
    dive_wasted_bytes: int
    findings: tuple[FindingRow, ...]
    warnings: tuple[str, ...]

    @property
    def findings_bytes(self) -> int:
        return sum(f.bytes for f in self.findings)


@dataclass(frozen=True, slots=True)
class LocalJob:
    """A local image (engine, archive, OCI layout) to read through the pipeline."""

    text: str
    cache_root: str | None
    known: frozenset[str]  # diff_ids the audit holds already: their summaries stay here
    platform: str | None = None


@dataclass(frozen=True, slots=True)
class LocalResult:
    image: Image
    layers: tuple[LayerSummary, ...]  # the layers not in `LocalJob.known`
    result: ImageResult


def summarize(index: LayerIndex) -> LayerSummary:
    """The compact form of a layer index that travels from a worker."""
    assert index.diff_id is not None
    assert index.digest is not None
    data = zstandard.ZstdCompressor(level=3).compress(cachecodec.encode(index))
    return LayerSummary(
        str(index.diff_id),
        str(index.digest),
        index.compressed_size,
        index.uncompressed_size,
        index.compression,
        data,
        tuple(index.secrets),
    )


# --- registry layers ---------------------------------------------------------------------
_clients: OrderedDict[tuple[Fetch, str], RegistryClient] = OrderedDict()
_clients_lock = threading.Lock()


def _client(fetch: Fetch, repository: str) -> RegistryClient:
    """This process's client for a repository (a token or probe is then done once)."""
    key = (fetch, repository)
    with _clients_lock:
        found = _clients.get(key)
        if found is not None:
            _clients.move_to_end(key)
            return found
        ref = ImageReference(fetch.registry, repository)
        client = RegistryClient(
            ref,
            label=f"{fetch.registry}/{repository}",
            credential=fetch.credential,
            tls_verify=fetch.tls_verify,
            options=ClientOptions(parallel=1),
        )
        _clients[key] = client
        while len(_clients) > _CLIENTS:
            _, old = _clients.popitem(last=False)
            old.close()
        return client


def index_layer(job: LayerJob) -> LayerSummary:
    """Fetch one layer blob from its registry and index it while it streams."""
    client = _client(job.fetch, job.repository)
    digest = Digest.parse(job.digest)
    label = f"{job.fetch.registry}/{job.repository}: layer {digest}"
    stream = BlobStream(client, digest, job.size, f"layer {digest}")
    try:
        index = index_blob(stream.read, label)
    except CorruptStream:
        stream.close()
        got = _rehash(client, digest, job.size)
        if got != digest:
            raise DigestMismatch(f"{label}: blob does not match its digest (got {got})") from None
        raise
    finally:
        stream.close()
    if index.digest != digest:
        raise DigestMismatch(f"{label}: blob does not match its digest (got {index.digest})")
    if job.size is not None and index.compressed_size != job.size:
        raise DigestMismatch(
            f"{label}: blob is {index.compressed_size} bytes, the manifest says {job.size}"
        )
    if str(index.diff_id) != job.diff_id:
        raise DigestMismatch(
            f"{label}: uncompresses to {index.diff_id}, but the config says {job.diff_id}"
        )
    return summarize(index)


def _rehash(client: RegistryClient, digest: Digest, size: int | None) -> Digest:
    hasher = digest.hasher()
    stream = BlobStream(client, digest, size, f"layer {digest}")
    try:
        while chunk := stream.read(1 << 20):
            hasher.update(chunk)
    finally:
        stream.close()
    return Digest(digest.algorithm, hasher.hexdigest())


# --- images --------------------------------------------------------------------------------
def analyse_image(image: Image, *layers: LayerSummary) -> ImageResult:
    """The pipeline's analysis of an image whose layers were indexed elsewhere."""
    by_diff_id = {summary.diff_id: summary for summary in layers}
    indexes = tuple(by_diff_id[str(info.diff_id)].index() for info in image.layers)
    warnings = tuple(f"layer {i}: {w}" for i, ix in enumerate(indexes) for w in ix.warnings)
    return result_of(pipeline.analyse(LoadedImage(image, indexes, warnings)))


def result_of(found: Inspection) -> ImageResult:
    """The numbers and findings of an inspection, as the audit keeps them."""
    exact = found.analysis.exact
    findings = tuple(
        FindingRow(
            f.id,
            str(f.severity),
            f.title,
            f.bytes,
            f.evidence,
            tuple((p.path, p.bytes) for p in f.paths[:TOP_PATHS]),
            f.path_count,
            tuple(layer.index for layer in f.layers),
        )
        for f in found.findings
    )
    return ImageResult(
        exact.stored_bytes,
        exact.visible_bytes,
        exact.wasted_bytes,
        len(exact.wasted_files),
        exact.efficiency,
        found.dive.efficiency,
        found.dive.wasted_bytes,
        findings,
        found.warnings,
    )


def load_local(job: LocalJob) -> LocalResult:
    """Read a local image through the pipeline (the shared layer cache skips layers indexed
    before), analyse it, and return the summaries of the layers the audit lacks."""
    from inspector.model import Platform

    platform = Platform.parse(job.platform) if job.platform else None
    options = pipeline.InspectOptions(sources=SourceOptions(platform=platform))
    cache = LayerCache(job.cache_root) if job.cache_root else None
    loaded = pipeline.load(job.text, options, LoadEvents(), cache)
    loaded = replace(loaded, others=(), reopen=None)
    found = pipeline.analyse(loaded)
    new: dict[str, LayerSummary] = {}
    for index in loaded.layers:
        diff_id = str(index.diff_id)
        if diff_id not in job.known and diff_id not in new:
            new[diff_id] = summarize(index)
    return LocalResult(found.image, tuple(new.values()), result_of(found))
