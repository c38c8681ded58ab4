"""Images built by a real Podman, read through its API socket and through `podman save`.

Podman (Debian's podman 4.3) runs here as root on the vfs driver with chroot isolation,
no network needed: a busybox-static base is `podman import`ed and a small Containerfile
(COPY, then RUN that deletes the copied file) is built on it. The storage lives under
the test cache (`services.cache_dir()/podman`, found through CONTAINERS_STORAGE_CONF), so
a rerun finds the images already built. The API socket is `podman system service` on a
private path, stopped by its pid.

The tests skip only when no `podman` command exists; `scripts/test` installs it, so in
CI (where a skip is a failure) they always run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import services

from inspector import cli
from inspector.sources import podman

BASE = "localhost/inspector-test/podman-base"
APP = "localhost/inspector-test/podman-app"
CONTAINERFILE = """FROM {base}
COPY payload.bin /payload.bin
RUN echo built > /built.txt && rm /payload.bin
"""
PAYLOAD = b"podman test payload\n" * 2000
START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Podman:
    """A podman storage with the test images, and an API socket serving it."""

    env: dict[str, str]  # CONTAINERS_STORAGE_CONF (and nothing that selects a socket)
    socket: str  # unix://…
    base: str
    app: str
    archive: Path  # `podman save` of app, for comparison


def _podman(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        ["podman", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed: {done.stderr.strip()}")


def _storage(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "storage.conf"
    conf.write_text(
        "[storage]\n"
        'driver = "vfs"\n'
        f'graphroot = "{directory / "root"}"\n'
        f'runroot = "{directory / "run"}"\n'
    )
    env = {key: value for key, value in os.environ.items() if key != "CONTAINER_HOST"}
    return {**env, "CONTAINERS_STORAGE_CONF": str(conf)}


def _exists(env: dict[str, str], name: str) -> bool:
    done = subprocess.run(
        ["podman", "image", "exists", name], env=env, capture_output=True, timeout=60, check=False
    )
    return done.returncode == 0


def _build(env: dict[str, str], tag: str, work: Path) -> tuple[str, str]:
    """The base and app images in podman's storage (built once; later runs find them)."""
    rootfs = services.busybox_rootfs(services.busybox_binary())
    base = f"{BASE}:{hashlib.sha256(rootfs).hexdigest()[:16]}"
    app = f"{APP}:{tag}-{base.rsplit(':', 1)[1]}"
    if not _exists(env, base):
        (work / "rootfs.tar").write_bytes(rootfs)
        _podman(env, "import", "--change", 'CMD ["/bin/sh"]', str(work / "rootfs.tar"), base)
    if not _exists(env, app):
        context = work / "context"
        context.mkdir()
        (context / "payload.bin").write_bytes(PAYLOAD)
        (context / "Containerfile").write_text(CONTAINERFILE.format(base=base))
        _podman(env, "build", "--isolation", "chroot", "--layers", "-t", app, str(context))
    return base, app


def _serve(env: dict[str, str], path: Path) -> subprocess.Popen[bytes]:
    log = path.parent / "service.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{path}"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if path.exists() and services.engine_answers(f"unix://{path}", timeout=2):
            return process
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.terminate()
    process.wait(10)
    raise RuntimeError(f"podman system service did not answer: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def podman_images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    if shutil.which("podman") is None:
        pytest.skip("no podman command (apt-get install podman, or run scripts/test)")
    work = tmp_path_factory.mktemp("podman")
    storage = services.cache_dir() / "podman"
    env = _storage(storage)
    with services.file_lock(storage / "build.lock"):
        base, app = _build(env, services.CACHE_VERSION, work)
    archive = work / "app.tar"
    subprocess.run(
        ["podman", "save", "--quiet", "--format", "docker-archive", "-o", str(archive), app],
        env=env,
        check=True,
        timeout=300,
    )
    socket_path = work / "podman.sock"
    with services.file_lock(storage / "build.lock", shared=True):
        process = _serve(env, socket_path)
        try:
            yield Podman(
                {"CONTAINERS_STORAGE_CONF": env["CONTAINERS_STORAGE_CONF"]},
                f"unix://{socket_path}",
                base,
                app,
                archive,
            )
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _json(*args: str, env: dict[str, str]) -> dict[str, Any]:
    return services.inspector_json(*args, "--no-cache", env=env)


def _image_facts(doc: dict[str, Any]) -> tuple[Any, ...]:
    image = doc["image"]
    layers = [
        (layer["digestId"], layer["storedBytes"], layer["wastedBytes"]) for layer in doc["layer"]
    ]
    return image["configDigest"], image["exact"], image["inefficientBytes"], layers


def test_socket_gives_the_archive_numbers_and_the_shared_base(podman_images: Podman) -> None:
    env = {**podman_images.env, "CONTAINER_HOST": podman_images.socket}
    doc = _json(f"podman:{podman_images.app}", env=env)
    archive = _json(str(podman_images.archive), env=env)
    assert _image_facts(doc) == _image_facts(archive)
    assert doc["image"]["tags"] == [podman_images.app]
    assert len(doc["layer"]) == 3
    assert podman_images.base in doc["layer"][0]["sharedWith"]
    assert doc["layer"][2]["sharedWith"] == []
    wasted = doc["image"]["exact"]["wastedFiles"]
    assert [(f["path"], f["bytes"], f["how"]) for f in wasted] == [
        ("/payload.bin", len(PAYLOAD), "deleted")
    ]
    # dive's --source podman spelling reaches the same image
    dive_style = _json("--source", "podman", podman_images.app, env=env)
    assert _image_facts(dive_style) == _image_facts(doc)


def test_podman_save_when_no_socket_answers(
    podman_images: Podman,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("CONTAINER_HOST", raising=False)
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", podman_images.env["CONTAINERS_STORAGE_CONF"])
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setattr(podman, "ROOTFUL_SOCKET", str(tmp_path / "no-rootful.sock"))
    code = cli.main([f"podman:{podman_images.app}", "--json", "-", "--no-cache"])
    out = capsys.readouterr()
    assert code == 0, out.err
    doc = json.loads(out.out)
    archive = _json(str(podman_images.archive), env=podman_images.env)
    assert _image_facts(doc) == _image_facts(archive)
    assert podman_images.base in doc["layer"][0]["sharedWith"]

    code = cli.main(["podman:localhost/inspector-test/no-such-image:1", "--text"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("inspector: localhost/inspector-test/no-such-image:1: no such image")


def test_compare_with_a_podman_image(podman_images: Podman) -> None:
    env = {**podman_images.env, "CONTAINER_HOST": podman_images.socket}
    doc = _json(str(podman_images.archive), "--compare", f"podman:{podman_images.base}", env=env)
    assert [layer["sharedWith"] for layer in doc["layer"]] == [
        [f"podman:{podman_images.base}"],
        [],
        [],
    ]


def test_an_unreachable_socket_is_one_line_naming_it(podman_images: Podman, tmp_path: Path) -> None:
    missing = f"unix://{tmp_path / 'missing.sock'}"
    done = services.run_cli(
        f"podman:{podman_images.app}",
        "--text",
        env={**podman_images.env, "CONTAINER_HOST": missing},
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"inspector: cannot reach the Podman engine at {missing} (")
    assert "CONTAINER_HOST" in lines[0]


def test_reading_files_again_names_podman_save(
    podman_images: Podman, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither the socket nor `podman save` can hand over one layer: the hint says
    what to run instead, naming podman (not docker)."""
    from inspector import contents
    from inspector.errors import ContentsError
    from inspector.source import LoadEvents

    monkeypatch.setenv("CONTAINER_HOST", podman_images.socket)
    loaded = podman.PodmanSource(podman_images.app, podman_images.app).load(LoadEvents())
    with pytest.raises(ContentsError, match=r"podman save -o image\.tar") as raised:
        contents.read_file(loaded, "bin/busybox", 0)
    assert "docker" not in raised.value.message

    monkeypatch.delenv("CONTAINER_HOST")
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", podman_images.env["CONTAINERS_STORAGE_CONF"])
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setattr(podman, "ROOTFUL_SOCKET", str(tmp_path / "no-rootful.sock"))
    saved = podman.PodmanSource(podman_images.app, podman_images.app).load(LoadEvents())
    assert saved.reopen is None
    assert "podman save -o image.tar" in saved.reopen_note
