"""`--compare REF`: another image's layer chain, read as cheaply as its source allows.

Sharing (`inspector.sharing`) needs only each other image's diff_ids. A registry image
gives them from its manifest and config (no layer blob), an engine image from image
inspect, an OCI layout from its index, manifest and config; an archive is read in one
pass that skips over the layer blobs without unpacking them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from inspector import reference
from inspector.errors import EngineUnavailable, ImageNotFound, InspectorError, UsageError
from inspector.model import Platform
from inspector.sharing import OtherImage


@dataclass(frozen=True, slots=True)
class CompareOptions:
    """What `chain_of` needs from the command line besides the reference."""

    platform: Platform | None = None
    creds: str | None = None
    tls_verify: bool = True
    pull_from_registry: bool = False


def chain_of(text: str, options: CompareOptions | None = None) -> OtherImage:
    """The layer chain of the image `text` names (any IMAGE the CLI accepts but `-`).

    An engine name the engine does not hold is looked up in its registry, as for IMAGE.
    Errors are InspectorErrors whose message starts with `--compare TEXT:`.
    """
    options = options or CompareOptions()
    try:
        if text == "-":
            raise UsageError("standard input can only be the IMAGE itself")
        spec = reference.parse(text)
        try:
            return _chain(spec, text, options)
        except (ImageNotFound, EngineUnavailable):
            implicit = spec.transport == reference.DAEMON and not text.startswith("docker-daemon:")
            if not (
                implicit or (spec.transport == reference.DAEMON and options.pull_from_registry)
            ):
                raise
            registry = reference.SourceSpec(reference.REGISTRY, spec.location)
            return _chain(registry, text, options)
    except InspectorError as exc:
        message = exc.message if exc.message.startswith(text) else f"{text}: {exc.message}"
        error = type(exc)(f"--compare {message}")
        raise error from None


def chains_of(texts: Sequence[str], options: CompareOptions) -> tuple[OtherImage, ...]:
    """`chain_of` for each of `texts`, in order."""
    return tuple(chain_of(text, options) for text in texts)


def _chain(spec: reference.SourceSpec, label: str, options: CompareOptions) -> OtherImage:
    platform = options.platform
    if spec.transport == reference.REGISTRY:
        from inspector.sources.registry import RegistrySource

        return RegistrySource(
            spec.location,
            label,
            platform=platform,
            creds=options.creds,
            tls_verify=options.tls_verify,
        ).chain()
    if spec.transport == reference.DAEMON:
        from inspector.sources.daemon import DaemonSource

        return DaemonSource(spec.location, label, platform=platform).chain()
    if spec.transport == reference.PODMAN:
        from inspector.sources.podman import PodmanSource

        return PodmanSource(spec.location, label, platform=platform).chain()
    if spec.transport in (reference.ARCHIVE, reference.OCI_ARCHIVE):
        from inspector.sources.archive import ArchiveSource

        return ArchiveSource(spec.location, label, ref=spec.ref, platform=platform).chain()
    if spec.transport == reference.OCI:
        from inspector.sources.oci_layout import OciLayoutSource

        return OciLayoutSource(spec.location, label, ref=spec.ref, platform=platform).chain()
    raise UsageError(f"the {spec.transport} transport is not supported")
