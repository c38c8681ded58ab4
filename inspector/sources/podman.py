"""Podman: its Docker-compatible API socket, or `podman save` when no socket answers.

The socket is the one `CONTAINER_HOST` names; without it the rootful socket
(`/run/podman/podman.sock`) and then the rootless one (`$XDG_RUNTIME_DIR/podman/podman.sock`)
are tried. Through a socket the image is read exactly as from the Docker engine
(`sources/daemon.py`). When none answers and a `podman` command exists, its
`podman save --format docker-archive` stream goes straight into the archive reader and
the other local images come from `podman image inspect`. With `CONTAINER_HOST` set the
command would talk to the same socket, so there is no second try.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import replace
from typing import IO, Any

from inspector.cache import LayerCache
from inspector.errors import EngineUnavailable, ImageNotFound, InspectorError, SourceError
from inspector.model import Platform
from inspector.sharing import OtherImage
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.archive import ArchiveSource
from inspector.sources.daemon import DaemonSource, Engine, engine_note, layer_chain

ROOTFUL_SOCKET = "/run/podman/podman.sock"
HINT = (
    "start it (podman system service --time=0 unix://PATH), or point CONTAINER_HOST at "
    "its socket (CONTAINER_HOST=unix:///path/podman.sock)"
)
COMMAND_TIMEOUT = 60  # seconds for `podman image inspect` and friends (not for save)


def podman_hosts() -> list[str]:
    """The Podman API addresses to try, in order."""
    host = os.environ.get("CONTAINER_HOST")
    if host:
        return [host]
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    rootless = os.path.join(runtime, "podman", "podman.sock")
    return [f"unix://{ROOTFUL_SOCKET}", f"unix://{rootless}"]


PODMAN = Engine("Podman engine", podman_hosts, HINT)


def podman_command() -> str | None:
    """The `podman` command, when it can stand in for a socket that does not answer."""
    if os.environ.get("CONTAINER_HOST"):
        return None
    return shutil.which("podman")


class PodmanSource:
    """`podman:NAME` / `--source podman`: an image in Podman's local storage."""

    def __init__(
        self,
        name: str,
        label: str,
        *,
        platform: Platform | None = None,
        cache: LayerCache | None = None,
    ) -> None:
        self.name = name
        self.label = label
        self.platform = platform
        self.cache = cache
        self._api = DaemonSource(name, label, platform=platform, cache=cache, engine=PODMAN)

    def load(self, events: LoadEvents) -> LoadedImage:
        try:
            return self._api.load(events)
        except EngineUnavailable as exc:
            command = podman_command()
            if command is None:
                raise
            unreachable = exc.message
        try:
            return self._save(command, events)
        except EngineUnavailable as exc:
            raise EngineUnavailable(f"{unreachable}; `podman save` failed too ({exc})") from None

    def chain(self) -> OtherImage:
        try:
            return self._api.chain()
        except EngineUnavailable:
            command = podman_command()
            if command is None:
                raise
        docs = _inspect(command, [self.name], self.name)
        return OtherImage(self.label, layer_chain(docs[0]))

    def _save(self, command: str, events: LoadEvents) -> LoadedImage:
        with tempfile.TemporaryFile() as errors:
            try:
                process = subprocess.Popen(
                    [command, "save", "--quiet", "--format", "docker-archive", self.name],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=errors,
                )
            except OSError as exc:
                raise EngineUnavailable(f"cannot run {command} ({exc.strerror})") from None
            assert process.stdout is not None
            try:
                archive = ArchiveSource(
                    None,
                    self.label,
                    stream=process.stdout,
                    stream_label=self.name,
                    cache=self.cache,
                )
                loaded = archive.load(events)
            except InspectorError:
                _stop(process)
                _check(process, errors, self.name)  # the command's own error explains more
                raise
            except BaseException:
                _stop(process)
                raise
            process.stdout.close()
            process.wait()
            _check(process, errors, self.name)
        image_id = str(loaded.image.config_digest)
        others = tuple(o for o in _local_images(command) if o[0] != image_id)
        return replace(
            loaded,
            others=tuple(other for _, other in others),
            reopen_note=engine_note(PODMAN.name),
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.stdout is not None:
        process.stdout.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _check(process: subprocess.Popen[bytes], errors: IO[bytes], name: str) -> None:
    if process.returncode in (0, None) or process.returncode < 0:
        return
    errors.seek(0)
    text = errors.read(4000).decode("utf-8", "replace").strip().splitlines()
    message = text[-1].removeprefix("Error: ") if text else f"exit status {process.returncode}"
    if "image not known" in message or "no such image" in message.lower():
        raise ImageNotFound(f"{name}: no such image in Podman's local storage ({message})")
    raise SourceError(f"{name}: podman save failed: {message}")


def _run(command: list[str], name: str) -> str:
    try:
        done = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineUnavailable(f"{name}: cannot run {command[0]} ({exc})") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        message = lines[-1].removeprefix("Error: ") if lines else f"exit {done.returncode}"
        if "image not known" in message:
            raise ImageNotFound(f"{name}: no such image in Podman's local storage ({message})")
        raise SourceError(f"{name}: {' '.join(command[:3])} failed: {message}")
    return done.stdout


def _inspect(command: str, names: list[str], label: str) -> list[dict[str, Any]]:
    text = _run([command, "image", "inspect", *names], label)
    try:
        docs = json.loads(text)
    except ValueError:
        raise SourceError(f"{label}: podman image inspect gave no JSON") from None
    if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs) or not docs:
        raise SourceError(f"{label}: podman image inspect gave no image")
    return docs


def _local_images(command: str) -> list[tuple[str, OtherImage]]:
    """Every image in Podman's storage as (config digest, layer chain); best effort."""
    try:
        ids = _run([command, "images", "--quiet", "--no-trunc"], "podman images").split()
        docs = _inspect(command, sorted(set(ids)), "podman images") if ids else []
    except InspectorError:
        return []  # the other images only add detail: never fail the load for them
    found: list[tuple[str, OtherImage]] = []
    for doc in docs:
        try:
            chain = layer_chain(doc)
        except InspectorError:
            continue
        image_id = str(doc.get("Id", ""))
        tags = [str(t) for t in doc.get("RepoTags") or []]
        name = ", ".join(tags) if tags else image_id.removeprefix("sha256:")[:12]
        digest = image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"
        found.append((digest, OtherImage(name, chain)))
    return found
