"""A Docker (or Podman) engine: the image's save stream, read once into the archive reader.

The engine exports the image as a `docker save` tar; that stream goes straight into the
same single-pass reader as an archive file, never to a temporary copy.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from inspector.cache import LayerCache
from inspector.digest import Digest
from inspector.errors import EngineUnavailable, ImageNotFound, SourceError
from inspector.model import Platform
from inspector.sharing import OtherImage
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.archive import ArchiveSource

DEFAULT_SOCKET = "unix:///var/run/docker.sock"


def engine_note(engine_name: str) -> str:
    """Why files of an engine's image cannot be read again, and what to do instead."""
    command = engine_name.split()[0].lower()  # "Docker engine" -> docker
    return (
        f"the {engine_name} can only hand over the whole image again ({command} save); save "
        f"it once ({command} save -o image.tar IMAGE) and open the archive to view or "
        "extract files"
    )


class ChunkStream:
    """A `read(n)` view of an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return b""
        if n < 0 or n >= len(self._buf):
            data, self._buf = self._buf, b""
            return data
        data, self._buf = self._buf[:n], self._buf[n:]
        return data


def engine_host() -> str:
    """The engine address the docker CLI would use: DOCKER_HOST, else the current context."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return host
    try:
        from docker.context import ContextAPI

        context = ContextAPI.get_current_context()
        if context is not None and context.Host:  # type: ignore[redundant-expr]
            return str(context.Host)
    except Exception:  # a broken CLI config must not stop us; fall back to the default
        return DEFAULT_SOCKET
    return DEFAULT_SOCKET


@dataclass(frozen=True, slots=True)
class Engine:
    """A Docker-compatible engine API: its name, the addresses to try, how to fix access."""

    name: str
    hosts: Callable[[], list[str]]
    hint: str


DOCKER = Engine(
    "Docker engine",
    lambda: [engine_host()],
    "start it, or point DOCKER_HOST at another engine",
)


def connect_any(hosts: list[str], engine: Engine) -> tuple[Any, str]:
    """A client for the first of `hosts` that answers, and its address."""
    import docker
    from docker.errors import DockerException

    reason = ""
    for host in hosts:
        if host.startswith("unix://") and not os.path.exists(host.removeprefix("unix://")):
            reason = "no such socket"  # (the SDK would leak a socket finding that out)
            continue
        try:
            return docker.DockerClient(base_url=host, version="auto", timeout=60), host
        except DockerException as exc:
            reason = _short(exc)
    tried = " or ".join(hosts)
    raise EngineUnavailable(f"cannot reach the {engine.name} at {tried} ({reason}); {engine.hint}")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


class DaemonSource:
    """An image held by a Docker-compatible engine, by name or ID."""

    def __init__(
        self,
        name: str,
        label: str,
        *,
        platform: Platform | None = None,
        cache: LayerCache | None = None,
        engine: Engine = DOCKER,
    ) -> None:
        self.cache = cache
        self.engine = engine
        self.name = name
        self.label = label
        self.platform = platform

    def load(self, events: LoadEvents) -> LoadedImage:
        from docker.errors import APIError, DockerException, NotFound

        client, host = connect_any(self.engine.hosts(), self.engine)
        engine = f"the {self.engine.name} at {host}"
        try:
            try:
                image = client.images.get(self.name)
            except NotFound:
                raise ImageNotFound(f"{self.name}: no such image in {engine}") from None
            image_id = str(image.id)
            stream = ChunkStream(iter(client.api.get_image(image_id, chunk_size=1 << 20)))
            archive = ArchiveSource(
                None,
                self.label,
                ref=None,
                stream=stream,
                stream_label=self.name,
                cache=self.cache,
            )
            loaded = archive.load(events)
            tags = tuple(str(t) for t in image.tags) or loaded.image.tags
            return replace(
                loaded,
                image=replace(loaded.image, tags=tags),
                others=engine_images(client, image_id),
                reopen=None,
                reopen_note=engine_note(self.engine.name),
            )
        except (APIError, DockerException) as exc:
            raise SourceError(f"{self.name}: {engine} failed: {_short(exc)}") from None
        except OSError as exc:
            raise EngineUnavailable(f"{self.name}: lost {engine} ({exc})") from None
        finally:
            client.close()

    def chain(self) -> OtherImage:
        """Only the image's layer chain, from image inspect (nothing is saved)."""
        from docker.errors import DockerException, NotFound

        client, host = connect_any(self.engine.hosts(), self.engine)
        try:
            image = client.images.get(self.name)
            return OtherImage(self.label, layer_chain(image.attrs))
        except NotFound:
            raise ImageNotFound(
                f"{self.name}: no such image in the {self.engine.name} at {host}"
            ) from None
        except DockerException as exc:
            raise SourceError(
                f"{self.name}: the {self.engine.name} at {host} failed: {_short(exc)}"
            ) from None
        finally:
            client.close()


def layer_chain(attrs: dict[str, Any]) -> tuple[Digest, ...]:
    """An image inspect document's `RootFS.Layers` (diff_ids, base first)."""
    layers = (attrs.get("RootFS") or {}).get("Layers") or []
    return tuple(Digest.parse(str(d), "image inspect RootFS.Layers") for d in layers)


def engine_images(client: Any, exclude_id: str) -> tuple[OtherImage, ...]:
    """Every other image in the engine with its layer chain (image inspect, no save)."""
    others: list[OtherImage] = []
    for image in client.images.list():
        if image.id == exclude_id:
            continue
        try:
            diff_ids = layer_chain(image.attrs)
        except Exception:  # an engine entry we cannot read is left out, not fatal
            continue
        tags = [str(t) for t in image.tags]
        name = ", ".join(tags) if tags else str(image.id).removeprefix("sha256:")[:12]
        others.append(OtherImage(name, diff_ids))
    return tuple(others)
