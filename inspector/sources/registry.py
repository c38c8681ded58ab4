"""An image in a registry, read over the OCI Distribution API: no daemon, nothing on disk.

The tag is resolved to a digest with HEAD, the manifest (or index, then the platform's
manifest; attestations skipped) and the config are read and verified, and the layer stack
is announced. Then the layer blobs stream straight from HTTP into the indexer, a few at a
time on worker threads (`ClientOptions.parallel`); each blob is checked against its
digest and each layer against the config's diff_id before it counts.

Progress is reported on the caller's thread, one layer at a time and base first, as
`LoadEvents` expects: bytes of layers further up that arrive early are held back and
reported when their turn comes.
"""

from __future__ import annotations

import contextlib
import os
import queue
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from inspector import documents
from inspector.blobs import check_blob_size
from inspector.cache import LayerCache
from inspector.digest import Digest
from inspector.errors import (
    AuthenticationError,
    CorruptStream,
    DigestMismatch,
    InspectorError,
    ManifestError,
    PlatformNotFound,
)
from inspector.indexer import LayerIndex, index_blob
from inspector.manifest import (
    INDEX_TYPES,
    Config,
    Descriptor,
    build_layers,
    layer_descriptors,
    parse_config,
    select_manifest,
)
from inspector.model import Image, Platform
from inspector.registry import deadline
from inspector.registry.client import Cancelled, ClientOptions, RegistryClient
from inspector.registry.credentials import Credential, CredentialStore, parse_user_password
from inspector.registry.download import BlobStream
from inspector.registry.reference import ImageReference, parse_reference
from inspector.sharing import OtherImage
from inspector.source import LoadedImage, LoadEvents

_POLL = 0.2  # seconds between checks for Ctrl-C while waiting on workers
_POST_BYTES = 1 << 20  # progress a worker gathers before it tells the caller's thread


@dataclass(frozen=True, slots=True)
class _Metadata:
    """What the manifest and config say, before any layer blob is read."""

    top: Digest  # the tag's manifest or index
    desc: Descriptor  # the image manifest (the platform's, from an index)
    config_desc: Descriptor
    layer_descs: list[Descriptor]
    config: Config


_Others = tuple[tuple[OtherImage, ...], tuple[str, ...]]


@dataclass(slots=True)
class _Job:
    """One distinct layer blob and the positions (with their diff_ids) that use it."""

    number: int
    desc: Descriptor
    diff_ids: list[tuple[int, Digest]] = field(default_factory=list)


class RegistrySource:
    """`docker://REGISTRY/REPOSITORY[:TAG|@DIGEST]`."""

    def __init__(
        self,
        reference: str,
        label: str,
        *,
        platform: Platform | None = None,
        creds: str | None = None,
        tls_verify: bool = True,
        cache: LayerCache | None = None,
        options: ClientOptions | None = None,
        env: Mapping[str, str] | None = None,
        compare_tags: int = 0,
        timeout: float | None = None,
    ) -> None:
        """`timeout` (`--timeout`), else INSPECTOR_TIMEOUT in `env`, replaces the timeout
        of `options` (see `inspector.registry.deadline`)."""
        self.reference = reference
        self.label = label
        self.platform = platform
        self.creds = creds
        self.tls_verify = tls_verify
        self.cache = cache
        self.env = os.environ if env is None else env
        self.options = options or ClientOptions()
        seconds = deadline.timeout_seconds(timeout, self.env)
        if seconds is not None:
            self.options = replace(self.options, timeout=seconds)
        self.notes: list[str] = []
        self.compare_tags = compare_tags  # how many other tags to read layer chains from

    def credential(self, ref: ImageReference) -> Credential | None:
        """--creds, else the environment variable, else the auth files and helpers."""
        if self.creds is not None:
            return parse_user_password(self.creds, "--creds")
        store = CredentialStore(self.env)
        found = store.lookup(ref.registry, ref.repository)
        self.notes.extend(store.notes)
        return found

    def load(self, events: LoadEvents) -> LoadedImage:
        ref = parse_reference(self.reference, self.label)
        credential = self.credential(ref)
        with RegistryClient(
            ref,
            label=self.label,
            credential=credential,
            tls_verify=self.tls_verify,
            options=self.options,
        ) as client:
            try:
                return self._load(client, ref, events)
            except AuthenticationError as exc:
                if self.notes:
                    exc.message += " [" + "; ".join(self.notes) + "]"
                    exc.args = (exc.message,)
                raise

    def _metadata(self, client: RegistryClient, reference: str, label: str) -> _Metadata:
        """The manifest (the platform's, from an index) and config of a tag or digest."""
        digest = Digest.parse(reference) if Digest.is_valid(reference) else None
        digest = digest or client.head_manifest(reference)
        top = client.get_manifest(str(digest) if digest else reference, digest)
        single = top.media_type not in INDEX_TYPES
        if single:
            desc = Descriptor(top.media_type, top.digest, len(top.data), None, {})
            what = f"{label}: manifest {top.digest}"
            manifest = documents.load(top.data, what, documents.MANIFEST)
            if not isinstance(manifest, dict):
                raise ManifestError(f"{what} is not a JSON object")
        else:

            def fetch(wanted: Descriptor) -> bytes:
                data = client.get_manifest(str(wanted.digest), wanted.digest).data
                check_blob_size(f"{label}: manifest {wanted.digest}", wanted.size, len(data))
                return data

            what = f"{label}: index {top.digest}"
            index_doc = documents.load(top.data, what, documents.MANIFEST)
            desc, manifest, _ = select_manifest(
                index_doc, fetch, label, ref=None, platform=self.platform
            )
        config_desc, layer_descs = layer_descriptors(manifest, label)
        config_what = f"config {config_desc.digest}"
        config_bytes = client.get_blob(config_desc.digest, limit=documents.CONFIG, what=config_what)
        check_blob_size(f"{label}: {config_what}", config_desc.size, len(config_bytes))
        config = parse_config(config_bytes, f"{label}: {config_what}")
        wanted = self.platform
        if single and wanted and config.platform and not wanted.matches(config.platform):
            raise PlatformNotFound(
                f"{label}: no image for platform {self.platform} (available: {config.platform})"
            )
        if len(config.diff_ids) != len(layer_descs):
            raise ManifestError(
                f"{label}: config lists {len(config.diff_ids)} diff_ids but the manifest "
                f"{len(layer_descs)} layers"
            )
        return _Metadata(top.digest, desc, config_desc, layer_descs, config)

    def chain(self) -> OtherImage:
        """Only the image's layer chain: manifest and config, no layer blob."""
        ref = parse_reference(self.reference, self.label)
        with RegistryClient(
            ref,
            label=self.label,
            credential=self.credential(ref),
            tls_verify=self.tls_verify,
            options=self.options,
        ) as client:
            found = self._metadata(client, str(ref.digest or ref.reference), self.label)
        return OtherImage(self.label, found.config.diff_ids)

    def _other_tags(self, client: RegistryClient, ref: ImageReference, top: Digest) -> _Others:
        """Up to `compare_tags` other tags of the repository, each as a layer chain.

        A tag that cannot be read (another platform only, a schema 1 manifest, …) is
        left out with a warning. Tags pointing at this very image are not "other" images.
        """
        others: list[OtherImage] = []
        notes: list[str] = []
        try:
            tags = client.tags(self.compare_tags + 1)
        except InspectorError as exc:
            return (), (f"--compare-tags: cannot list the tags ({exc.message})",)
        for tag in [t for t in tags if t != ref.tag][: self.compare_tags]:
            name = ImageReference(ref.registry, ref.repository, tag).familiar
            try:
                found = self._metadata(client, tag, name)
            except InspectorError as exc:
                notes.append(f"--compare-tags: {tag} left out ({exc.message})")
                continue
            if found.top != top:
                others.append(OtherImage(name, found.config.diff_ids))
        return tuple(others), tuple(notes)

    def describe(self, client: RegistryClient) -> Image:
        """The image as its manifest and config describe it (no layer blob is read); each
        LayerInfo names its blob (`digest`, `size`). `client` reads this repository."""
        ref = parse_reference(self.reference, self.label)
        found = self._metadata(client, str(ref.digest or ref.reference), self.label)
        return self._image(found, ref)

    def _image(self, found: _Metadata, ref: ImageReference) -> Image:
        desc, config_desc, layer_descs, config = (
            found.desc,
            found.config_desc,
            found.layer_descs,
            found.config,
        )
        for layer in layer_descs:
            if layer.digest.algorithm != "sha256":
                raise ManifestError(
                    f"{self.label}: layer {layer.digest} uses {layer.digest.algorithm}; "
                    "only sha256 layer digests are supported"
                )
            if "encrypted" in layer.media_type:
                raise ManifestError(f"{self.label}: layer {layer.digest} is encrypted")
        infos = build_layers(
            config,
            [(d.digest, d.media_type, d.size, f"blobs/{d.digest.hex}") for d in layer_descs],
        )
        tags = (ref.familiar,) if ref.tag else ()
        return Image(
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

    def _load(self, client: RegistryClient, ref: ImageReference, events: LoadEvents) -> LoadedImage:
        found = self._metadata(client, str(ref.digest or ref.reference), self.label)
        layer_descs, config = found.layer_descs, found.config
        image = self._image(found, ref)
        events.image_known(image)
        jobs: dict[Digest, _Job] = {}
        for position, layer in enumerate(layer_descs):
            job = jobs.setdefault(layer.digest, _Job(len(jobs), layer))
            job.diff_ids.append((position, config.diff_ids[position]))
        done = self._index_all(client, list(jobs.values()), events)
        indexes = tuple(done[jobs[layer.digest].number] for layer in layer_descs)
        warnings = tuple(f"layer {i}: {w}" for i, ix in enumerate(indexes) for w in ix.warnings)
        notes = tuple(f"credentials: {note}" for note in self.notes)
        others, skipped = (
            self._other_tags(client, ref, found.top) if self.compare_tags else ((), ())
        )
        return LoadedImage(image, indexes, notes + skipped + warnings, others)

    # --- layers ------------------------------------------------------------------------
    def _index_all(
        self, client: RegistryClient, jobs: list[_Job], events: LoadEvents
    ) -> list[LayerIndex]:
        """Index every job on worker threads; report progress here, in layer order."""
        results: list[LayerIndex | None] = [None] * len(jobs)
        if not jobs:
            return []
        # Bounded, so a worker is never far ahead of what has been reported.
        posted: queue.Queue[tuple[int, str, object]] = queue.Queue(maxsize=32)

        def post(number: int, kind: str, value: object) -> None:
            while True:
                client.check_cancelled()
                try:
                    posted.put((number, kind, value), timeout=_POLL)
                    return
                except queue.Full:
                    continue

        def work(job: _Job) -> None:
            # bytes are posted in steps of _POST_BYTES, not per network read (a post per
            # 64 KiB woke the caller's thread over a thousand times on an 80 MB pull)
            unposted = {"bytes": 0, "inflated": 0}

            def tally(kind: str, nbytes: int) -> None:
                client.check_cancelled()
                unposted[kind] += nbytes
                if unposted[kind] >= _POST_BYTES:
                    post(job.number, kind, unposted[kind])
                    unposted[kind] = 0

            try:
                index = self._index_job(
                    client,
                    job,
                    lambda n: tally("bytes", n),
                    lambda n: tally("inflated", n),
                )
            except Cancelled:
                return
            except BaseException as exc:  # handed to the caller's thread, raised there
                with contextlib.suppress(Cancelled):
                    post(job.number, "error", exc)
                return
            with contextlib.suppress(Cancelled):
                for kind, nbytes in unposted.items():
                    if nbytes:
                        post(job.number, kind, nbytes)
                post(job.number, "done", index)

        held = [0] * len(jobs)
        held_inflated = [0] * len(jobs)
        current = 0
        workers = max(1, min(self.options.parallel, len(jobs)))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inspector-pull")
        try:
            for job in jobs:
                pool.submit(work, job)
            self._start(jobs[0], events)
            while current < len(jobs):
                try:
                    number, kind, value = posted.get(timeout=_POLL)
                except queue.Empty:
                    continue
                if kind == "error":
                    assert isinstance(value, BaseException)
                    raise value
                if kind in ("bytes", "inflated"):
                    assert isinstance(value, int)
                    if number != current:
                        (held if kind == "bytes" else held_inflated)[number] += value
                    elif kind == "bytes":
                        events.layer_progress(value)
                    else:
                        events.layer_inflated(value)
                    continue
                assert isinstance(value, LayerIndex)
                results[number] = value
                while current < len(jobs) and results[current] is not None:
                    index = results[current]
                    assert index is not None
                    events.layer_done(str(jobs[current].desc.digest), index)
                    current += 1
                    if current < len(jobs):
                        self._start(jobs[current], events)
                        if held[current]:
                            events.layer_progress(held[current])
                            held[current] = 0
                        if held_inflated[current]:
                            events.layer_inflated(held_inflated[current])
                            held_inflated[current] = 0
        finally:
            if current < len(jobs):
                client.cancelled.set()  # an error or Ctrl-C: stop the other downloads
            pool.shutdown(wait=True, cancel_futures=True)
        return [index for index in results if index is not None]

    @staticmethod
    def _start(job: _Job, events: LoadEvents) -> None:
        events.layer_started(str(job.desc.digest), job.desc.size)

    def _index_job(
        self,
        client: RegistryClient,
        job: _Job,
        progress: Callable[[int], None],
        inflated: Callable[[int], None],
    ) -> LayerIndex:
        """Index one blob on a worker thread; `progress` and `inflated` post to the
        caller's thread, and raise Cancelled once the pull is stopped (a decompression
        bomb then stops within a chunk, not at its next stored batch)."""
        desc = job.desc
        label = f"{self.label}: layer {desc.digest}"
        what = f"layer {desc.digest}"
        size = desc.size
        index = self._cached(job)
        if index is None:
            stream = BlobStream(client, desc.digest, size, what)
            try:
                index = index_blob(stream.read, label, progress=progress, inflated=inflated)
            except CorruptStream:
                # A registry that serves the wrong bytes usually breaks the decompressor
                # before the digest can be compared: hash the blob again to tell.
                got = self._rehash(client, desc, size, what)
                if got != desc.digest:
                    raise DigestMismatch(
                        f"{label}: blob does not match its digest (got {got})"
                    ) from None
                raise
            finally:
                stream.close()
            if index.digest != desc.digest:
                raise DigestMismatch(
                    f"{label}: blob does not match its digest (got {index.digest})"
                )
            check_blob_size(label, size, index.compressed_size)
        else:
            progress(size)
        for position, diff_id in job.diff_ids:
            if index.diff_id != diff_id:
                raise DigestMismatch(
                    f"{self.label}: layer {position} uncompresses to {index.diff_id}, "
                    f"but the config says {diff_id}"
                )
        if self.cache is not None:
            self.cache.put(index, desc.digest.hex)
        return index

    def _cached(self, job: _Job) -> LayerIndex | None:
        if self.cache is None:
            return None
        index = self.cache.lookup(job.desc.digest.hex)
        if index is None or index.digest != job.desc.digest:
            return None  # only a blob seen before: its sizes and digest are known
        if index.diff_id != job.diff_ids[0][1]:
            return None
        return index

    @staticmethod
    def _rehash(client: RegistryClient, desc: Descriptor, size: int, what: str) -> Digest:
        hasher = desc.digest.hasher()
        stream = BlobStream(client, desc.digest, size, what)
        try:
            while chunk := stream.read(1 << 20):
                hasher.update(chunk)
        finally:
            stream.close()
        return Digest(desc.digest.algorithm, hasher.hexdigest())
