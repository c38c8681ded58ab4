"""The one front door: `inspect(IMAGE) -> Inspection`.

Every front end (the CLI's reports and CI mode, the UI, `--compare`, `extract`, and the
diff and audit to come) starts here, so an image reads the same whoever asks:

    resolve   IMAGE text → a source (transports.py), checked before any long work: a
              missing path or an image neither the engine nor its registry holds fails
              here, in one line; an engine name the engine lacks falls back to its registry
    load      source → LoadedImage (layer indexes, from the layer cache when it has them),
              plus the layer chains of the `--compare` images
    analyse   exact waste, dive's numbers (results.py, from the result cache when it has
              them), layer sharing

Sharing counts **uncompressed layer bytes** (a layer's tar size, its diff_id's bytes):
the only size that is the same for one image whichever source it comes from (an archive
stores layers plain, a registry gzip or zstd). The stored sizes stay on each layer for
whoever wants to show them beside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from inspector import reference
from inspector.cache import LayerCache
from inspector.errors import (
    EngineUnavailable,
    ImageNotFound,
    InspectorError,
    SourceNotFound,
    UsageError,
)
from inspector.findings.model import Finding
from inspector.indexer import LayerIndex
from inspector.inspection import Inspection
from inspector.model import Image
from inspector.secrets import redact_image
from inspector.sharing import OtherImage, sharing
from inspector.source import ImageSource, LoadedImage, LoadEvents
from inspector.transports import DEMO, SourceOptions, open_source


@dataclass(frozen=True, slots=True)
class InspectOptions:
    """How to read IMAGE: dive's `--source`, the source options, the images to compare."""

    source: str | None = None
    sources: SourceOptions = field(default_factory=SourceOptions)
    pull_from_registry: bool = False
    compare: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Resolved:
    """A source that is known to exist, and how it was found.

    `notes` are what a person should read before the work starts (an engine image read
    from its registry instead); `chain` is the layer chain when resolving read it.
    """

    source: ImageSource
    notes: tuple[str, ...] = ()
    chain: OtherImage | None = None


_PATHS = (reference.ARCHIVE, reference.OCI_ARCHIVE, reference.OCI)
# where a layer chain costs a few small reads (an archive's is a pass over the whole file)
_CHEAP_CHAINS = (reference.OCI, reference.REGISTRY, reference.PODMAN)


def parse(text: str, options: InspectOptions) -> reference.SourceSpec:
    """IMAGE as a SourceSpec; `demo` is the built-in demo image."""
    if text == DEMO and options.source is None:
        return reference.SourceSpec(DEMO, DEMO)
    return reference.parse(text, options.source)


def resolve(
    text: str,
    options: InspectOptions,
    cache: LayerCache | None = None,
    *,
    verify: bool = False,
) -> Resolved:
    """The source IMAGE names, checked as far as is cheap.

    A path must exist. An engine image must be in the engine, else (unless a transport or
    `--source` named the engine) it is read from its registry, whose manifest must then
    be there; both causes make one error. With `verify`, an OCI layout, a registry or a
    Podman image reads its manifest and config too (no layer blob), so a mistyped tag
    fails before a UI opens.
    """
    spec = parse(text, options)
    if spec.transport in _PATHS and spec.location != "-" and not os.path.exists(spec.location):
        kind = "directory" if spec.transport == reference.OCI else "file"
        raise SourceNotFound(f"{text}: no such {kind}")
    source = open_source(spec, text, options.sources, cache)
    if spec.transport != reference.DAEMON:
        if verify and spec.transport in _CHEAP_CHAINS:
            # a source object of its own: reading a chain may leave state behind
            return Resolved(source, chain=open_source(spec, text, options.sources).chain())
        return Resolved(source)
    try:
        return Resolved(source, chain=open_source(spec, text, options.sources).chain())
    except (ImageNotFound, EngineUnavailable) as exc:
        explicit = options.source is not None or text.startswith("docker-daemon:")
        if explicit and not options.pull_from_registry:
            raise type(exc)(
                f"{exc.message}; to read it from its registry instead, use "
                f"docker://{spec.location} or --pull-from-registry"
            ) from None
        registry = reference.SourceSpec(reference.REGISTRY, spec.location)
        fallback = open_source(registry, text, options.sources, cache)
        try:
            chain = fallback.chain()
        except InspectorError as second:
            raise type(second)(
                f"{exc.message}, and docker://{spec.location}: {_after_label(second, text)}"
            ) from None
        note = f"{exc.message}; reading docker://{spec.location} from its registry"
        return Resolved(fallback, (note,), chain)


def _after_label(error: InspectorError, label: str) -> str:
    """An error's message without the `LABEL: ` it starts with (it is said once already)."""
    return error.message.removeprefix(f"{label}: ")


def chain_of(text: str, options: InspectOptions) -> OtherImage:
    """The layer chain of the image `text` names, for `--compare` (no layer blob read).

    Errors are InspectorErrors whose message starts with `--compare TEXT:`.
    """
    try:
        if text == "-":
            raise UsageError("standard input can only be the IMAGE itself")
        resolved = resolve(text, replace(options, source=None, compare=()))
        return resolved.chain or resolved.source.chain()
    except InspectorError as exc:
        message = exc.message if exc.message.startswith(text) else f"{text}: {exc.message}"
        raise type(exc)(f"--compare {message}") from None


def compared(text: str, options: InspectOptions) -> tuple[OtherImage, ...]:
    """`--compare REF…` as layer chains; `--compare-tags` checked against IMAGE."""
    if options.sources.compare_tags:
        transport = parse(text, options).transport
        if transport not in (reference.REGISTRY, reference.DAEMON):
            raise UsageError(
                f"--compare-tags: {text} is not a registry image (docker://…); "
                "name other images with --compare REF"
            )
    return tuple(chain_of(other, options) for other in options.compare)


def load(
    target: str | Resolved,
    options: InspectOptions,
    events: LoadEvents,
    cache: LayerCache | None = None,
) -> LoadedImage:
    """IMAGE's layer indexes, with the `--compare` images among its other images.

    The compared images are read first: they are cheap (no layer blob), and a wrong one
    fails before a long pull.
    """
    resolved = resolve(target, options, cache) if isinstance(target, str) else target
    others = compared(resolved.source.label, options)
    loaded = _reopenable(resolved.source, resolved.source.load(events))
    return replace(loaded, others=loaded.others + others) if others else loaded


def _reopenable(source: ImageSource, loaded: LoadedImage) -> LoadedImage:
    """`loaded` able to read its layers again, for file contents (registry sources)."""
    if loaded.reopen is not None:
        return loaded  # (and the registry code, httpx included, is not imported)
    from inspector.sources.registry import RegistrySource

    if isinstance(source, RegistrySource):
        from inspector.sources.registry_blobs import with_reopen

        return with_reopen(source, loaded)
    return loaded


def analyse(loaded: LoadedImage, cache: LayerCache | None = None) -> Inspection:
    """The analyses of a loaded image (pure but for the result cache)."""
    from inspector.results import analyse_image

    analysis, dive = analyse_image(loaded.image, loaded.layers, cache)
    shared = sharing(
        [info.diff_id for info in loaded.image.layers],
        [index.uncompressed_size for index in loaded.layers],
        loaded.others,
    )
    image = redact_image(loaded.image)  # every front end shows the config's secrets hidden
    found = Inspection(
        replace(loaded, image=image),
        replace(analysis, image=image),
        dive,
        shared,
        loaded.warnings + analysis.warnings,
    )
    return replace(found, findings=_findings(found, loaded.image, cache))


def _findings(found: Inspection, as_given: Image, cache: LayerCache | None) -> tuple[Finding, ...]:
    """The findings, from the result cache when it has them (a warm run then neither
    decodes a layer's entries nor runs a detector)."""
    from inspector.findings import stored  # the detectors only on a miss: a warm run
    # neither imports them nor compiles their patterns

    found_key = stored.key(as_given, found.layers) if cache is not None else None
    if cache is not None and found_key is not None:
        known = stored.load(cache, found_key)
        if known is not None:
            return known
    from inspector.findings import detect_all

    findings = detect_all(found, as_given)
    if cache is not None and found_key is not None:
        stored.store(cache, found_key, findings)
    return findings


def inspect(
    target: str | Resolved,
    options: InspectOptions | None = None,
    events: LoadEvents | None = None,
    cache: LayerCache | None = None,
) -> Inspection:
    """Read, index and analyse IMAGE (a text as the CLI takes it, or a resolved source)."""
    options = options or InspectOptions()
    events = events or LoadEvents()
    loaded = load(target, options, _Redacting(events), cache)
    found = analyse(loaded, cache)
    events.image_loaded(found.loaded)
    return found


class _Redacting(LoadEvents):
    """Passes a source's events on with the image's secrets hidden (`redact_image`), so a
    UI drawing the layer stack while layers arrive never shows a secret either."""

    def __init__(self, events: LoadEvents) -> None:
        self.events = events

    def image_known(self, image: Image) -> None:
        self.events.image_known(redact_image(image))

    def layer_started(self, name: str, total: int | None) -> None:
        self.events.layer_started(name, total)

    def layer_progress(self, nbytes: int) -> None:
        self.events.layer_progress(nbytes)

    def layer_done(self, name: str, index: LayerIndex) -> None:
        self.events.layer_done(name, index)
