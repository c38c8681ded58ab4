"""Re-read one layer blob of a registry image after the load: one GET, on a new connection.

`with_reopen(source, loaded)` gives a loaded registry image its `LayerOpener`. The
credential is looked up again the same way as for the load (--creds, environment, auth
files), on the first re-read only; nothing is printed or stored.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

from inspector.digest import Digest
from inspector.errors import ManifestError
from inspector.registry.client import RegistryClient
from inspector.registry.credentials import Credential
from inspector.registry.download import BlobStream
from inspector.registry.reference import ImageReference, parse_reference
from inspector.source import LoadedImage
from inspector.sources.registry import RegistrySource


class RegistryBlobs:
    """A `LayerOpener` over a registry: layer `position` is blob `digests[position]`."""

    def __init__(
        self,
        source: RegistrySource,
        ref: ImageReference,
        digests: Sequence[Digest | None],
    ) -> None:
        self._source = source
        self._ref = ref
        self._digests = tuple(digests)
        self._credential: tuple[Credential | None] | None = None

    def credential(self) -> Credential | None:
        if self._credential is None:
            self._credential = (self._source.credential(self._ref),)
        return self._credential[0]

    @contextmanager
    def __call__(self, position: int) -> Iterator[BlobStream]:
        source = self._source
        digest = self._digests[position]
        if digest is None:  # pragma: no cover - a registry layer always has a digest
            raise ManifestError(f"{source.label}: layer {position} has no blob digest")
        with RegistryClient(
            self._ref,
            label=source.label,
            credential=self.credential(),
            tls_verify=source.tls_verify,
            options=source.options,
        ) as client:
            stream = BlobStream(client, digest, None, f"layer {digest}")
            try:
                yield stream
            finally:
                stream.close()


def with_reopen(source: RegistrySource, loaded: LoadedImage) -> LoadedImage:
    """`loaded` (read by `source`) able to read its layer blobs again."""
    ref = parse_reference(source.reference, source.label)
    digests = [layer.digest for layer in loaded.image.layers]
    return replace(loaded, reopen=RegistryBlobs(source, ref, digests))
