"""The table of transports: which source class reads a parsed IMAGE argument.

This is the one place that dispatches on `SourceSpec.transport`; the pipeline, `--compare`
and every front end reach a source through `open_source`. Source modules are imported
only when their transport is used (the registry code pulls in httpx, the engine code the
docker SDK).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from inspector import reference
from inspector.cache import LayerCache
from inspector.errors import UsageError
from inspector.model import Platform
from inspector.source import ImageSource

DEMO = "demo"
"""The built-in demo image (`inspector demo`), a transport of its own."""


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """What a source needs besides its location: the command line's source options."""

    platform: Platform | None = None
    creds: str | None = None
    tls_verify: bool = True
    compare_tags: int = 0
    timeout: float | None = None


def open_source(
    spec: reference.SourceSpec,
    label: str,
    options: SourceOptions,
    cache: LayerCache | None = None,
) -> ImageSource:
    """The source object for `spec`; `label` is what the person typed."""
    opener = _OPENERS.get(spec.transport)
    if opener is None:
        raise UsageError(f"{label}: the {spec.transport} transport is not supported")
    return opener(spec, label, options, cache)


def _registry(
    spec: reference.SourceSpec, label: str, options: SourceOptions, cache: LayerCache | None
) -> ImageSource:
    from inspector.sources.registry import RegistrySource

    return RegistrySource(
        spec.location,
        label,
        platform=options.platform,
        creds=options.creds,
        tls_verify=options.tls_verify,
        cache=cache,
        compare_tags=options.compare_tags,
        timeout=options.timeout,
    )


def _archive(
    spec: reference.SourceSpec, label: str, options: SourceOptions, cache: LayerCache | None
) -> ImageSource:
    from inspector.sources.archive import ArchiveSource

    return ArchiveSource(spec.location, label, ref=spec.ref, platform=options.platform, cache=cache)


def _layout(
    spec: reference.SourceSpec, label: str, options: SourceOptions, cache: LayerCache | None
) -> ImageSource:
    from inspector.sources.oci_layout import OciLayoutSource

    return OciLayoutSource(
        spec.location, label, ref=spec.ref, platform=options.platform, cache=cache
    )


def _daemon(
    spec: reference.SourceSpec, label: str, options: SourceOptions, cache: LayerCache | None
) -> ImageSource:
    from inspector.sources.daemon import DaemonSource

    return DaemonSource(spec.location, label, platform=options.platform, cache=cache)


def _podman(
    spec: reference.SourceSpec, label: str, options: SourceOptions, cache: LayerCache | None
) -> ImageSource:
    from inspector.sources.podman import PodmanSource

    return PodmanSource(spec.location, label, platform=options.platform, cache=cache)


def _demo(
    spec: reference.SourceSpec, label: str, options: SourceOptions, cache: LayerCache | None
) -> ImageSource:
    from inspector.demo import build_demo
    from inspector.sources.archive import ArchiveSource

    data = build_demo()
    return ArchiveSource(
        None,
        label,
        platform=options.platform,
        stream=io.BytesIO(data),
        cache=cache,
        reopen_file=lambda: io.BytesIO(data),
    )


_Opener = Callable[[reference.SourceSpec, str, SourceOptions, LayerCache | None], ImageSource]
_OPENERS: dict[str, _Opener] = {
    reference.REGISTRY: _registry,
    reference.ARCHIVE: _archive,
    reference.OCI_ARCHIVE: _archive,
    reference.OCI: _layout,
    reference.DAEMON: _daemon,
    reference.PODMAN: _podman,
    DEMO: _demo,
}
