"""Run an audit on Dask: each layer indexed once, each image analysed from the indexes.

The coordinator (this process) walks the sources, reads each registry image's manifest
and config, skips what the database already holds, and submits two kinds of task to a
Dask cluster (a `LocalCluster` of worker processes by default, or `--scheduler`):

* `index_layer`, once per layer blob the database lacks, keyed `layer-<digest>`: the
  worker fetches the blob from the registry itself and returns its summary;
* `analyse_image`, once per image (per manifest digest; tags of one image share it),
  depending on the futures of its layers: Dask hands it the summaries where they are.

Layers the database holds from an earlier run are read from it and scattered once. A
layer future is dropped as soon as no image still to be submitted needs it, and at most
`window` images are in flight, so neither the workers nor the coordinator ever hold the
fleet. Local images (engine, archives, OCI layouts) are one `load_local` task each,
through the pipeline with a layer cache the local workers share; an image waits while
another one in flight is indexing a layer it needs, so a shared layer is parsed once and
then read from that cache.

Every finished layer and image is committed as it arrives; an interrupted audit keeps
them, and the next run skips them. A failed image or layer is recorded with its message
and the audit goes on.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from inspector import pipeline
from inspector.audit import sources as walker
from inspector.audit.sources import Problem, Target, WalkOptions
from inspector.audit.store import AuditStore, text
from inspector.audit.tasks import (
    Fetch,
    ImageResult,
    LayerJob,
    LayerSummary,
    LocalJob,
    LocalResult,
    analyse_image,
    index_layer,
    load_local,
)
from inspector.digest import Digest
from inspector.errors import InspectorError, UsageError
from inspector.model import Image
from inspector.secrets import redact_image

GIB = 1 << 30
WORKER_MEMORY = GIB  # the least memory a local worker gets
CONNECT_TIMEOUT = 30


@dataclass(frozen=True, slots=True)
class AuditOptions:
    db: str
    walk: WalkOptions = field(default_factory=WalkOptions)
    engine: bool = False
    scheduler: str | None = None
    workers: int | None = None
    cache_root: str | None = None  # the layer cache local workers share
    window: int | None = None  # images in flight (default: 2 per worker thread, at least 4)


@dataclass(frozen=True, slots=True)
class AuditSummary:
    run: int
    images: int  # images named by the sources (after filters)
    analysed: int  # images analysed in this run
    unchanged: int  # images the database held already
    layers_indexed: int
    layers_reused: int  # layers an image needed that an earlier run had indexed
    fetched_bytes: int
    failures: int
    seconds: float
    status: str
    worker_peak_rss: tuple[tuple[str, int], ...] = ()  # worker address, peak RSS bytes


class AuditEvents:
    """What the audit reports while it runs. The base class ignores it all."""

    def planned(self, images: int, layers: int, nbytes: int) -> None:
        """The work is known: images to analyse, layers to index, their stored bytes."""

    def layer_done(self, nbytes: int) -> None:
        """A layer was indexed (nbytes: its stored size)."""

    def image_done(self, name: str) -> None:
        """An image was analysed and stored."""

    def failed(self, name: str, message: str) -> None:
        """Something failed; it is recorded and the audit goes on."""

    def note(self, text: str) -> None:
        """A line for the person (where the work runs, what was skipped)."""


def dask_modules() -> Any:
    """`dask.distributed`, or a UsageError saying how to install it."""
    try:
        import dask.distributed as distributed
    except ImportError:
        raise UsageError(
            "inspector audit needs Dask: pip install 'inspector[audit]' "
            "(or pip install 'dask[distributed]')"
        ) from None
    return distributed


def local_workers(requested: int | None) -> int:
    """Worker processes for this machine: one per core, each with at least 1 GiB."""
    cores = os.cpu_count() or 1
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        memory = cores * WORKER_MEMORY
    bound = max(1, min(cores, memory // WORKER_MEMORY))
    return max(1, min(requested or bound, bound if requested is None else requested))


def connect(options: AuditOptions, events: AuditEvents) -> tuple[Any, Any]:
    """A Dask client, and the LocalCluster it runs on (None for `--scheduler`)."""
    distributed = dask_modules()
    if options.scheduler:
        try:
            client = distributed.Client(options.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--scheduler {options.scheduler}: cannot connect ({exc})") from None
        workers = len(client.scheduler_info().get("workers", {}))
        events.note(f"running on the Dask cluster at {options.scheduler} ({workers} workers)")
        return client, None
    count = local_workers(options.workers)
    cluster = distributed.LocalCluster(
        n_workers=count,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        memory_limit="auto",
        dashboard_address=":0",  # (the scheduler serves HTTP anyway; any free port)
        silence_logs=logging.ERROR,
    )
    events.note(f"running on {count} local worker process{'es' if count > 1 else ''}")
    return distributed.Client(cluster), cluster


@dataclass
class _Work:
    """One image to analyse (one identity) and every name that points at it."""

    key: str
    targets: list[Target]
    image: Image | None = None  # registry images: from the manifest and config
    chain: tuple[str, ...] = ()  # local images: diff_ids, for the layer barrier


@dataclass
class _Counts:
    analysed: int = 0
    unchanged: int = 0
    layers_indexed: int = 0
    layers_reused: int = 0
    fetched_bytes: int = 0
    failures: int = 0


def run_audit(sources: Sequence[str], options: AuditOptions, events: AuditEvents) -> AuditSummary:
    """Audit the images `sources` name into `options.db`."""
    for source in sources:
        walker.kind_of(source)  # a wrong SOURCE fails before any work
    dask_modules()
    store = AuditStore(options.db)
    started = time.monotonic()
    run = store.start_run([*sources, *(["--engine"] if options.engine else [])])
    counts = _Counts()
    status = "interrupted"
    peaks: tuple[tuple[str, int], ...] = ()
    try:
        found = walker.walk(sources, options.walk, engine=options.engine)
        for problem in found.problems:
            _fail(store, run, counts, events, problem)
        remote, local = _plan(store, run, found, options, counts, events)
        if remote or local:
            client, cluster = connect(options, events)
            try:
                audit = _Audit(store, run, client, options, events, counts, found)
                audit.run(remote, local)
                peaks = _peaks(client)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
        else:
            events.planned(0, 0, 0)
        status = "done"
    except KeyboardInterrupt:
        raise  # (status stays "interrupted")
    except BaseException:
        status = "failed"
        raise
    finally:
        seconds = time.monotonic() - started
        store.finish_run(
            run,
            status,
            seconds,
            images=counts.analysed + counts.unchanged,
            new_images=counts.analysed,
            new_layers=counts.layers_indexed,
            fetched_bytes=counts.fetched_bytes,
            failures=counts.failures,
        )
        store.close()
    return AuditSummary(
        run,
        counts.analysed + counts.unchanged + counts.failures,
        counts.analysed,
        counts.unchanged,
        counts.layers_indexed,
        counts.layers_reused,
        counts.fetched_bytes,
        counts.failures,
        seconds,
        status,
        peaks,
    )


def _fail(store: AuditStore, run: int, counts: _Counts, events: AuditEvents, p: Problem) -> None:
    store.add_failure(run, p.name, p.stage, p.message)
    counts.failures += 1
    events.failed(p.name, p.message)


def _message(exc: BaseException) -> str:
    if isinstance(exc, InspectorError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def _plan(
    store: AuditStore,
    run: int,
    found: walker.Walk,
    options: AuditOptions,
    counts: _Counts,
    events: AuditEvents,
) -> tuple[list[_Work], list[_Work]]:
    """The images to analyse: registry ones described, the ones already stored skipped."""
    remote: dict[str, _Work] = {}
    local: dict[str, _Work] = {}
    registry = [t for t in found.targets if t.kind == walker.REGISTRY]
    stored = store.image_keys()  # (the describing threads must not use the connection)
    described_all = walker.describe_all(
        registry, options.walk, found, lambda name, key: (text(name), key) in stored
    )
    for target, described in described_all:
        if isinstance(described, Problem):
            _fail(store, run, counts, events, described)
        elif described is None or store.has_image(target.name, target.key):
            store.image_seen(target.name, target.key, run)
            counts.unchanged += 1
        else:
            remote.setdefault(target.key, _Work(target.key, [], described)).targets.append(target)
    for target in found.targets:
        if target.kind == walker.REGISTRY:
            continue
        if store.has_image(target.name, target.key):
            store.image_seen(target.name, target.key, run)
            counts.unchanged += 1
            continue
        work = local.get(target.key)
        if work is None:
            chain = target.chain
            if not chain:
                try:
                    other = pipeline.chain_of(target.text, pipeline.InspectOptions())
                except InspectorError as exc:
                    _fail(store, run, counts, events, Problem(target.name, "chain", exc.message))
                    continue
                chain = tuple(str(d) for d in other.diff_ids)
            work = local[target.key] = _Work(target.key, [], chain=chain)
        work.targets.append(target)
    return list(remote.values()), list(local.values())


class _Audit:
    """The submission loop: a window of images in flight, layer futures by reference."""

    def __init__(
        self,
        store: AuditStore,
        run: int,
        client: Any,
        options: AuditOptions,
        events: AuditEvents,
        counts: _Counts,
        found: walker.Walk,
    ) -> None:
        self.store = store
        self.run_id = run
        self.client = client
        self.options = options
        self.events = events
        self.counts = counts
        self.found = found
        self.known = store.known_layers()
        self.distributed = dask_modules()
        self.layers: dict[str, Any] = {}  # diff_id -> future of its LayerSummary
        self.unstored: dict[str, Any] = {}  # diff_id -> layer future whose result is not stored
        self.remaining: Counter[str] = Counter()  # diff_id -> images still to submit
        self.pending: Any = self.distributed.as_completed()
        self.what: dict[str, tuple[str, Any]] = {}  # future key -> (kind, payload)
        self.in_flight = 0
        self.indexing: set[str] = set()  # diff_ids local images in flight are indexing
        self.sizes: dict[str, int] = {}  # diff_id -> uncompressed size

    def window(self) -> int:
        if self.options.window:
            return self.options.window
        threads = sum(self.client.nthreads().values()) or 1
        return max(4, 2 * threads)

    def run(self, remote: list[_Work], local: list[_Work]) -> None:
        remote.sort(key=lambda w: (w.targets[0].repository, walker.version_key(w.targets[0].tag)))
        new_layers: dict[str, int] = {}
        for work in remote:
            assert work.image is not None
            self.remaining.update({str(info.diff_id) for info in work.image.layers})
            for info in work.image.layers:
                if str(info.diff_id) not in self.known:
                    new_layers[str(info.diff_id)] = info.size or 0
        local_new = {d for w in local for d in w.chain if d not in self.known}
        self.events.planned(
            len(remote) + len(local),
            len(new_layers) + len(local_new - new_layers.keys()),
            sum(new_layers.values()),
        )
        queue = deque(remote)
        waiting = list(local)
        limit = self.window()
        while queue or waiting or self.in_flight or self.unstored:
            while queue and self.in_flight < limit:
                self._submit_remote(queue.popleft())
            while waiting and self.in_flight < limit:
                ready = next((w for w in waiting if self._unblocked(w)), None)
                if ready is None:
                    break
                waiting.remove(ready)
                self._submit_local(ready)
            if not self.in_flight and not self.unstored:
                continue
            future = next(self.pending)
            self._finished(future)

    # --- submitting ------------------------------------------------------------------------
    def _fetch(self, target: Target) -> Fetch:
        credential = walker.credential(
            self.found, self.options.walk, target.registry, target.repository
        )
        return Fetch(target.registry, self.options.walk.tls_verify, credential)

    def _layer_future(self, target: Target, info: Any) -> Any:
        diff_id = str(info.diff_id)
        future = self.layers.get(diff_id)
        if future is not None:
            return future
        if diff_id in self.known:
            summary = self.store.layer_summary(diff_id)
            self.sizes[diff_id] = summary.uncompressed_size
            future = self.client.scatter(summary, hash=False)
            self.counts.layers_reused += 1
        else:
            job = LayerJob(
                self._fetch(target), target.repository, str(info.digest), diff_id, info.size
            )
            future = self.client.submit(index_layer, job, key=job.key, pure=False)
            self.what[future.key] = ("layer", (diff_id, target.name))
            self.unstored[diff_id] = future
            self.pending.add(future)
        self.layers[diff_id] = future
        return future

    def _submit_remote(self, work: _Work) -> None:
        image = work.image
        assert image is not None
        target = work.targets[0]
        futures: dict[str, Any] = {}
        for info in image.layers:
            if info.digest is None:
                continue
            futures.setdefault(str(info.diff_id), self._layer_future(target, info))
        key = f"image-{_hex(work.key)}"
        future = self.client.submit(analyse_image, image, *futures.values(), key=key, pure=False)
        for diff_id in {str(info.diff_id) for info in image.layers}:
            self.remaining[diff_id] -= 1
            if self.remaining[diff_id] <= 0:
                self.layers.pop(diff_id, None)  # the submitted image keeps its own reference
        self.what[future.key] = ("image", work)
        self.pending.add(future)
        self.in_flight += 1

    def _unblocked(self, work: _Work) -> bool:
        return not any(d in self.indexing for d in work.chain if d not in self.known)

    def _submit_local(self, work: _Work) -> None:
        target = work.targets[0]
        known = frozenset(d for d in work.chain if d in self.known)
        platform = self.options.walk.platform
        job = LocalJob(
            target.text, self.options.cache_root, known, str(platform) if platform else None
        )
        future = self.client.submit(load_local, job, key=f"local-{_hex(work.key)}", pure=False)
        self.indexing.update(d for d in work.chain if d not in self.known)
        self.what[future.key] = ("local", work)
        self.pending.add(future)
        self.in_flight += 1

    # --- results ---------------------------------------------------------------------------
    def _finished(self, future: Any) -> None:
        kind, payload = self.what.pop(future.key)
        if kind == "layer" and self.unstored.pop(payload[0], None) is None:
            return  # stored already, before the first image that needed it
        try:
            value = future.result()
        except Exception as exc:
            self._failed(kind, payload, _message(exc))
            return
        finally:
            if kind != "layer":
                self.in_flight -= 1
        if kind == "layer":
            assert isinstance(value, LayerSummary)
            self._layer(value)
        elif kind == "image":
            assert isinstance(value, ImageResult)
            self._image(payload, payload.image, value)
        else:
            assert isinstance(value, LocalResult)
            for summary in value.layers:
                self._layer(summary, fetched=False)
            self.indexing.difference_update(payload.chain)
            for index_info in value.image.layers:
                self.known.add(str(index_info.diff_id))
            self._image(payload, value.image, value.result)

    def _layer(self, summary: LayerSummary, *, fetched: bool = True) -> None:
        self.sizes[summary.diff_id] = summary.uncompressed_size
        if self.store.add_layer(summary, self.run_id):
            self.counts.layers_indexed += 1
            if fetched:
                self.counts.fetched_bytes += summary.compressed_size
        self.known.add(summary.diff_id)
        self.events.layer_done(summary.compressed_size)

    def _image(self, work: _Work, image: Image, result: ImageResult) -> None:
        for info in image.layers:  # its layers first (as_completed may give them later)
            layer = self.unstored.pop(str(info.diff_id), None)
            if layer is not None:
                self._layer(layer.result())
        shown = redact_image(image)
        sizes = {str(info.diff_id): self.sizes.get(str(info.diff_id), 0) for info in image.layers}
        missing = [d for d, size in sizes.items() if not size and d in self.known]
        for diff_id in missing:
            sizes[diff_id] = self._stored_size(diff_id)
        for target in work.targets:
            repository, tag = target.repository, target.tag
            if not repository and image.tags:
                repository, tag = walker.split_tag(image.tags[0])
            self.store.add_image(
                target.name,
                repository,
                tag,
                target.kind,
                work.key,
                shown,
                result,
                sizes,
                self.run_id,
            )
            self.counts.analysed += 1
            self.events.image_done(target.name)

    def _stored_size(self, diff_id: str) -> int:
        row = self.store.db.execute(
            "SELECT uncompressed_size FROM layers WHERE diff_id = ?", (diff_id,)
        ).fetchone()
        return int(row[0]) if row else 0

    def _failed(self, kind: str, payload: Any, message: str) -> None:
        if kind == "layer":
            return  # every image on this layer fails with the same error, and says so
        work: _Work = payload
        if kind == "local":
            self.indexing.difference_update(work.chain)
        for target in work.targets:
            self.store.add_failure(self.run_id, target.name, kind, message)
            self.counts.failures += 1
            self.events.failed(target.name, message)


def _hex(key: str) -> str:
    if Digest.is_valid(key):
        return Digest.parse(key).hex
    import hashlib

    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def _peaks(client: Any) -> tuple[tuple[str, int], ...]:
    """Each worker's peak resident memory (bytes) so far."""
    try:
        found = client.run(peak_rss)
    except Exception:
        return ()
    return tuple(sorted((str(k), int(v)) for k, v in found.items()))


def peak_rss() -> int:
    """This process's peak resident memory in bytes: VmHWM, which, unlike ru_maxrss, does
    not carry the peak of the process that forked it over an exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
