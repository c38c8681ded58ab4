"""A Python base image made from this machine, for building the repository's Dockerfile
where no registry can be reached.

The test engine cannot pull `python:3.12-slim` (no network but the package registries),
so `PythonBase` imports an image that stands in for it: the busybox root file system of
services.py (a shell for the Dockerfile's RUN steps), the interpreter that runs the
tests (its executable, its standard library without the test suite, Tk, IDLE and the
build configuration, its extension modules) with every shared library `ldd` names, at
/usr/local as the official images have it, and a wheelhouse at /wheels holding the
project's dependencies and its build backend, downloaded once with pip (which this
machine can reach) and named by PIP_FIND_LINKS and PIP_NO_INDEX in the image's
environment, so the Dockerfile's `pip install` steps run unchanged without a network.

The image is tagged by a hash of what goes into it and imported once per engine; the
wheelhouse is kept under the test cache by a hash of the requirements.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import services

REPOSITORY = "inspector-test/python"
PREFIX = "usr/local"
WHEELS = "wheels"
# parts of the standard library no build or run of inspector needs
_SKIPPED = re.compile(
    r"^(?:site-packages|dist-packages|test|idlelib|tkinter|turtledemo|lib2to3|pydoc_data"
    r"|config-[^/]*)(?:/|$)|(?:^|/)(?:_tkinter|_test\w*|_ctypes_test|xxlimited\w*)\."
    r"|\.opt-[12]\.pyc$"
)
_SYSTEM_DIRS = ("/lib64", "/lib", "/usr/lib")
# what manylinux wheels may take from the system (PEP 600's policy, with C++): loaded by
# the extension modules of the wheels, which ldd does not see before they are installed
_MANYLINUX = (
    *("libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1"),
    *("libutil.so.1", "libgcc_s.so.1", "libstdc++.so.6", "libcrypt.so.1", "libresolv.so.2"),
)
_LDD_LINE = re.compile(r"^\s*(?:\S+\s+=>\s+)?(/\S+)\s+\(0x[0-9a-f]+\)$")


def requirements(repository: Path = services.REPO_ROOT) -> list[str]:
    """The project's dependencies and its build backend, as pyproject.toml names them."""
    project = tomllib.loads((repository / "pyproject.toml").read_text())
    return [*project["build-system"]["requires"], *project["project"]["dependencies"]]


def wheelhouse(directory: Path | None = None) -> Path:
    """Wheels of every requirement and what they need, for this interpreter (cached)."""
    wanted = requirements()
    key = hashlib.sha256(json.dumps([sys.version, wanted]).encode()).hexdigest()[:16]
    target = (directory or services.cache_dir()) / "wheels" / key
    done = target / ".complete"
    with services.file_lock(target.parent / f"{key}.lock"):
        if not done.is_file():
            downloaded = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:",
                 "--dest", str(target), *wanted],
                capture_output=True, text=True, timeout=600, check=False,
            )  # fmt: skip
            if downloaded.returncode != 0:
                raise services.ServiceUnavailable(
                    f"pip download of the Dockerfile's requirements failed: "
                    f"{downloaded.stderr.strip()[-500:]}"
                )
            done.write_text("\n".join(wanted) + "\n")
    return target


class PythonBase:
    """The base image: busybox, this interpreter at /usr/local, the wheelhouse."""

    def __init__(self, engine: services.ManagedEngine) -> None:
        self.engine = engine

    def tag(self) -> str:
        """The image's tag, imported into the engine when it is not there yet."""
        wheels = wheelhouse()
        files = sorted(_interpreter_files())
        libraries = sorted(_libraries([source for source, _ in files]).items())
        key = hashlib.sha256(
            json.dumps(
                [
                    services.CACHE_VERSION,
                    sys.version,
                    [(str(s), t, _stamp(s)) for s, t in files],
                    [(str(s), t) for t, s in libraries],
                    sorted(p.name for p in wheels.glob("*.whl")),
                    hashlib.sha256(services.busybox_binary().read_bytes()).hexdigest(),
                ]
            ).encode()
        ).hexdigest()[:16]
        tag = f"{REPOSITORY}:{key}"
        client = self.engine.client()
        with services.file_lock(services.cache_dir() / "python-base.lock"):
            if services._has_image(client, tag):
                return tag
            with tempfile.TemporaryDirectory(prefix="inspector-python-base-") as tmp:
                rootfs = Path(tmp, "rootfs.tar")
                with rootfs.open("wb") as handle:
                    _write_rootfs(handle, files, libraries, wheels)
                repository, _, version = tag.rpartition(":")
                client.api.import_image_from_file(
                    str(rootfs),
                    repository=repository,
                    tag=version,
                    changes=[
                        f"ENV PATH=/{PREFIX}/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        f"ENV PIP_FIND_LINKS=/{WHEELS} PIP_NO_INDEX=1",
                        'CMD ["python3"]',
                    ],
                )
            if not services._has_image(client, tag):
                raise RuntimeError(f"docker import did not create {tag}")
        return tag


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


def _interpreter_files() -> Iterator[tuple[Path, str]]:
    """(file on this machine, path in the image) for the executable and the library."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    executable = Path(os.path.realpath(sys._base_executable))  # type: ignore[attr-defined]
    yield executable, f"{PREFIX}/bin/{version}"
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    dynload = Path(sysconfig.get_paths()["platstdlib"]) / "lib-dynload"
    roots = [(stdlib, f"{PREFIX}/lib/{version}")]
    if dynload.is_dir() and not dynload.is_relative_to(stdlib):
        roots.append((dynload, f"{PREFIX}/lib/{version}/lib-dynload"))
    for root, inside in roots:
        for directory, subdirs, names in os.walk(root):
            relative = os.path.relpath(directory, root)
            relative = "" if relative == "." else f"{relative}/"
            subdirs[:] = [d for d in subdirs if not _SKIPPED.search(f"{relative}{d}/")]
            for name in names:
                path = Path(directory, name)
                if path.is_file() and not _SKIPPED.search(f"{relative}{name}"):
                    yield path, f"{inside}/{relative}{name}"


def _libraries(binaries: list[Path]) -> dict[str, Path]:
    """Every shared library the ELF files in `binaries` load, and the ones manylinux wheels
    may load, from the directory of the C library: {path in image: file}."""
    elves = [str(p) for p in binaries if p.suffix == ".so" or os.access(p, os.X_OK)]
    listed = subprocess.run(
        ["ldd", *elves], capture_output=True, text=True, check=False, timeout=120
    ).stdout
    loaded = {Path(m.group(1)) for m in map(_LDD_LINE.match, listed.splitlines()) if m}
    libc = next((p for p in loaded if p.name == "libc.so.6"), None)
    if libc is None:
        raise services.ServiceUnavailable("ldd does not show the interpreter's C library")
    system = libc.parent
    found: dict[str, Path] = {}
    for path in loaded:
        if "libX" in path.name or path.name.startswith(("libtk", "libtcl")):
            continue  # only _tkinter needs these, and it is left out
        inside = path if str(path.parent) in (*_SYSTEM_DIRS, str(system)) else system / path.name
        found[str(inside).lstrip("/")] = path.resolve()
    for name in _MANYLINUX:
        if (system / name).exists():
            found.setdefault(str(system / name).lstrip("/"), (system / name).resolve())
    return found


def _write_rootfs(
    handle: io.BufferedWriter,
    files: list[tuple[Path, str]],
    libraries: list[tuple[str, Path]],
    wheels: Path,
) -> None:
    busybox = services.busybox_rootfs(services.busybox_binary())
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    dirs: set[str] = set()
    with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:
        with tarfile.open(fileobj=io.BytesIO(busybox)) as base:
            for member in base:
                tar.addfile(member, base.extractfile(member) if member.isfile() else None)
                if member.isdir():
                    dirs.add(member.name)

        def parents(path: str) -> None:
            parent = path.rpartition("/")[0]
            if parent and parent not in dirs:
                parents(parent)
                info = tarfile.TarInfo(parent)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, services.MTIME
                tar.addfile(info)
                dirs.add(parent)

        def add(source: Path, inside: str) -> None:
            parents(inside)
            info = tar.gettarinfo(str(source), inside)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with source.open("rb") as data:
                tar.addfile(info, data)

        for source, inside in files:
            add(source, inside)
        for inside, source in libraries:
            add(source, inside)
        for name, target in (("python3", version), ("python", "python3")):
            link = tarfile.TarInfo(f"{PREFIX}/bin/{name}")
            link.type, link.linkname, link.mtime = tarfile.SYMTYPE, target, services.MTIME
            tar.addfile(link)
        for wheel in sorted(wheels.glob("*.whl")):
            add(wheel, f"{WHEELS}/{wheel.name}")
