"""The repository's Dockerfile: the image builds with the real engine, runs as a non-root
user, reads an engine image through the mounted socket of that same engine and a
`docker save` archive mounted in, and gives the numbers and exit codes the inspector run
outside the container gives. Its own findings stay quiet (no build-context junk: the
.dockerignore and the bytecode compiled in a layer of its own).

The engine has no network, so the Dockerfile is built FROM a Python base made from this
machine's interpreter (tests/pythonimage.py) instead of python:3.12-slim. The built image
is tagged by a hash of that base, the Dockerfile and every file of the build context
(read through the .dockerignore as the build reads it), so a second run with the same
sources only looks the tag up.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import pythonimage
import services

from inspector import pipeline

pytestmark = pytest.mark.docker

REPOSITORY = "inspector-test/inspector"
KEEP = 3  # built versions kept in the engine (other work trees may be using them)
SOURCE_IMAGE_KEYS = ("name", "tags", "sharedBytes", "uniqueBytes")


def context_files(root: Path = services.REPO_ROOT) -> list[str]:
    """The files the build sends, by the .dockerignore (docker-py's reading of it)."""
    from docker.utils.build import exclude_paths

    lines = (root / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return sorted(p for p in exclude_paths(str(root), patterns, "Dockerfile")
                  if (root / p).is_file())  # fmt: skip


def build(engine: services.ManagedEngine) -> str:
    """The tag of the image the Dockerfile builds, built when the engine lacks it."""
    from docker.errors import BuildError

    base = pythonimage.PythonBase(engine).tag()
    digest = hashlib.sha256(base.encode())
    for name in context_files():
        digest.update(f"\0{name}\0".encode())
        digest.update((services.REPO_ROOT / name).read_bytes())
    tag = f"{REPOSITORY}:{digest.hexdigest()[:16]}"
    client = engine.client()
    with services.file_lock(services.cache_dir() / "inspector-image.lock"):
        if services._has_image(client, tag):
            return tag
        try:
            client.images.build(
                path=str(services.REPO_ROOT),
                dockerfile="Dockerfile",
                tag=tag,
                buildargs={"PYTHON_IMAGE": base},
                network_mode="none",
                rm=True,
                forcerm=True,
            )
        except BuildError as exc:
            log = "".join(str(part.get("stream", part)) for part in exc.build_log)
            raise AssertionError(f"docker build of the Dockerfile failed: {exc}\n{log}") from None
        prune(client, tag, base)
    return tag


def prune(client: Any, tag: str, base: str) -> None:
    """Drop what older builds left: all but the KEEP newest tagged versions, and the
    build stages (untagged images on the Python base) more than an hour old. The engine
    stores every layer whole (vfs), so each version costs hundreds of MB."""
    from docker.errors import APIError

    versions = sorted(client.api.images(name=REPOSITORY), key=lambda row: row["Created"])
    names = [name for row in versions[:-KEEP] for name in row["RepoTags"] or () if name != tag]
    base_id = client.api.inspect_image(base)["Id"]
    cutoff = time.time() - 3600
    for row in client.api.images(filters={"dangling": True}):
        if row["Created"] < cutoff and _descends(client, row["Id"], base_id):
            names.append(row["Id"])
    for name in names:
        with contextlib.suppress(APIError):  # in use by a run of another work tree
            client.api.remove_image(name)


def _descends(client: Any, image_id: str, ancestor: str) -> bool:
    for _ in range(64):
        image_id = client.api.inspect_image(image_id).get("Parent") or ""
        if not image_id or image_id == ancestor:
            return image_id == ancestor
    return False


@pytest.fixture(scope="module")
def docker_cli() -> str:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("the docker CLI is not installed (apt-get install docker.io)")
    return docker


@pytest.fixture(scope="module")
def image(docker_engine: services.ManagedEngine) -> str:
    try:
        return build(docker_engine)
    except services.ServiceUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def socket_path(docker_engine: services.ManagedEngine) -> Path:
    if not docker_engine.host.startswith("unix://"):
        pytest.skip(f"the engine at {docker_engine.host} has no socket to mount")
    return Path(docker_engine.host.removeprefix("unix://"))


def docker_run(
    docker: str, engine: services.ManagedEngine, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [docker, "run", "--rm", "--network", "none", *args],
        capture_output=True,
        text=True,
        env=services.cli_env(extra=engine.env),
        timeout=300,
        check=False,
    )


def with_socket(socket: Path) -> list[str]:
    """What docs/ci.md tells users: the socket, and its group for the non-root user."""
    return ["-v", f"{socket}:/var/run/docker.sock", "--group-add", str(socket.stat().st_gid)]


def image_numbers(doc: dict[str, Any]) -> dict[str, Any]:
    """The JSON document minus what depends on where the image was read from."""
    doc = copy.deepcopy(doc)
    for key in SOURCE_IMAGE_KEYS:
        doc["image"].pop(key, None)
    for layer in doc["layer"]:
        layer.pop("sharedWith", None)
    return doc


def test_the_image_runs_inspector_as_a_user_that_is_not_root(
    image: str, docker_engine: services.ManagedEngine, docker_cli: str
) -> None:
    config = docker_engine.client().images.get(image).attrs["Config"]
    assert config["Entrypoint"] == ["inspector"]
    assert config["User"] == "10001:10001"
    done = docker_run(docker_cli, docker_engine, image, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("inspector ")
    # the same version; the walk is the compiled one where the base image has a compiler
    # (the stand-in base the tests build has none, so its image runs the Python walk)
    host = services.run_cli("--version").stdout
    assert done.stdout.split(" (")[0] == host.split(" (")[0]
    assert done.stdout.rstrip().endswith(
        ("(compiled header walk, compiled stacking)", "(python header walk, python stacking)")
    )


def test_an_engine_image_through_the_mounted_socket(
    image: str,
    docker_engine: services.ManagedEngine,
    docker_cli: str,
    socket_path: Path,
    image_factory: services.ImageFactory,
) -> None:
    target = image_factory.scenario("deletions")  # 280 kB deleted by later layers
    rules = ["--ci", "--highestWastedBytes", "100kB", "--json", "-"]
    inside = docker_run(docker_cli, docker_engine, *with_socket(socket_path), image,
                        target.name, *rules)  # fmt: skip
    outside = services.run_cli(target.daemon_ref, *rules, env=docker_engine.env)
    assert (inside.returncode, outside.returncode) == (1, 1), inside.stderr
    assert "FAIL: highestWastedBytes" in inside.stderr  # the CI report, with --json -
    doc = json.loads(inside.stdout)
    assert doc["image"]["exact"]["wastedBytes"] == 280_002
    assert image_numbers(doc) == image_numbers(json.loads(outside.stdout))


def test_a_saved_archive_mounted_in(
    image: str,
    docker_engine: services.ManagedEngine,
    docker_cli: str,
    tmp_path: Path,
    image_factory: services.ImageFactory,
) -> None:
    saved = image_factory.scenario("rewrites").archive
    archive = tmp_path / "image.tar"
    shutil.copyfile(saved, archive)
    archive.chmod(0o644)  # the cache's files are private; the container's user reads this
    rules = ["--ci", "--highestWastedBytes", "1MB", "--highestUserWastedPercent", "disabled"]
    mount = ["-v", f"{archive}:/work/image.tar:ro"]
    inside = docker_run(docker_cli, docker_engine, *mount, image, "image.tar", *rules,
                        "--json", "-")  # fmt: skip
    outside = services.run_cli(archive, *rules, "--json", "-")
    assert (inside.returncode, outside.returncode) == (0, 0), inside.stderr
    doc = json.loads(inside.stdout)
    assert doc["image"]["name"] == "image.tar"
    assert doc["image"]["exact"]["wastedBytes"] == 85_000
    assert image_numbers(doc) == image_numbers(json.loads(outside.stdout))


def test_bad_input_is_one_line_and_exit_2(
    image: str, docker_engine: services.ManagedEngine, docker_cli: str, socket_path: Path
) -> None:
    missing = docker_run(docker_cli, docker_engine, *with_socket(socket_path), image,
                         "docker-daemon:inspector-test/no-such-image:1", "--ci")  # fmt: skip
    assert missing.returncode == 2
    assert missing.stdout == ""
    (line,) = missing.stderr.strip().splitlines()
    assert line.startswith("inspector: ")
    assert "no-such-image" in line


def test_its_own_findings_stay_quiet(
    image: str, docker_engine: services.ManagedEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No build-context junk (the .dockerignore keeps the context to the package; the
    bytecode is compiled by a RUN, not copied from the build stage), and no finding at all
    in the layers the Dockerfile puts on its base: the user, the venv, its bytecode."""
    monkeypatch.setenv("DOCKER_HOST", docker_engine.host)
    found = pipeline.inspect(f"docker-daemon:{image}")
    assert "build-context-junk" not in [f.id for f in found.findings]
    commands = [
        layer.history.created_by if layer.history else "" for layer in found.loaded.image.layers
    ]
    assert len(commands) == 4, commands  # the base, then the final stage's three layers
    assert "COPY" in commands[2]
    assert "compileall" in commands[3]
    ours = [(f.id, [x.index for x in f.layers]) for f in found.findings
            if any(x.index >= 1 for x in f.layers)]  # fmt: skip
    assert ours == []
    copied, compiled = found.layers[2].entries, found.layers[3].entries
    assert "opt/inspector/bin/inspector" in copied
    assert not any("__pycache__" in path for path in copied)
    assert any("/site-packages/inspector/__pycache__/" in path for path in compiled)
