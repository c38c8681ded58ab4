"""Images built by a real Docker engine, read from `docker save` archives and from the engine.

Each scenario (tests/services.py SCENARIOS) is a Dockerfile FROM a busybox base: deleted
files, `rm -rf` of a directory, rewritten files, chmod only, same bytes rewritten, a
directory deleted and recreated, hard links, a layer repeated. The checks do not trust the
inspector: the final file system comes from `docker create` + `docker export`, the layers
from `docker inspect`, the expected waste from the Dockerfile itself.
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import shutil
import socket
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import services

SCENARIO_NAMES = sorted(services.SCENARIOS)
Built = Callable[[str], services.BuiltImage]


# What depends on where the image was read from rather than on the image: the label the
# user typed, the tags, and layer sharing with the other images the engine holds.
SOURCE_IMAGE_KEYS = ("name", "tags", "sharedBytes", "uniqueBytes")
SOURCE_LAYER_KEYS = ("sharedWith",)


def without_label(doc: dict[str, Any]) -> dict[str, Any]:
    """The document minus what depends on the source rather than on the image."""
    doc = copy.deepcopy(doc)
    for key in SOURCE_IMAGE_KEYS:
        doc["image"].pop(key, None)
    for layer in doc["layer"]:
        for key in SOURCE_LAYER_KEYS:
            layer.pop(key, None)
    return doc


@pytest.fixture(scope="module")
def archive_docs(scenario_image: Built) -> Callable[[str], dict[str, Any]]:
    """`archive_docs(name)`: the inspector's JSON for the scenario's saved archive."""
    docs: dict[str, dict[str, Any]] = {}

    def get(name: str) -> dict[str, Any]:
        if name not in docs:
            docs[name] = services.inspector_json(scenario_image(name).archive)
        return docs[name]

    return get


@pytest.mark.docker
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_engine_stream_and_archive_agree(
    name: str,
    scenario_image: Built,
    docker_engine: services.ManagedEngine,
    archive_docs: Callable[[str], dict[str, Any]],
) -> None:
    image = scenario_image(name)
    from_engine = services.inspector_json(image.daemon_ref, env=docker_engine.env)
    assert from_engine["image"]["name"] == image.daemon_ref
    assert without_label(from_engine) == without_label(archive_docs(name))


@pytest.mark.docker
def test_engine_stream_reports_the_image_tags(
    scenario_image: Built, docker_engine: services.ManagedEngine
) -> None:
    image = scenario_image("single")
    doc = services.inspector_json(image.daemon_ref, env=docker_engine.env)
    assert doc["image"]["tags"] == [image.name]


@pytest.mark.docker
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_visible_bytes_equal_the_exported_container(
    name: str,
    scenario_image: Built,
    image_factory: services.ImageFactory,
    archive_docs: Callable[[str], dict[str, Any]],
) -> None:
    exact = archive_docs(name)["image"]["exact"]
    assert exact["visibleBytes"] == image_factory.container_regular_bytes(scenario_image(name))
    assert exact["storedBytes"] - exact["visibleBytes"] == exact["wastedBytes"]


@pytest.mark.docker
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_wasted_files_are_what_the_dockerfile_wastes(
    name: str, archive_docs: Callable[[str], dict[str, Any]]
) -> None:
    exact = archive_docs(name)["image"]["exact"]
    found = {
        (w["path"], w["bytes"], w["storedIn"], w["hiddenBy"], w["how"])
        for w in exact["wastedFiles"]
    }
    assert found == services.SCENARIOS[name].wasted
    assert exact["wastedBytes"] == sum(w["bytes"] for w in exact["wastedFiles"])


@pytest.mark.docker
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_layers_are_the_engines_rootfs_layers(
    name: str,
    scenario_image: Built,
    docker_engine: services.ManagedEngine,
    archive_docs: Callable[[str], dict[str, Any]],
) -> None:
    inspected = docker_engine.client().images.get(scenario_image(name).name).attrs
    layers = archive_docs(name)["layer"]
    assert [layer["index"] for layer in layers] == list(range(len(layers)))
    assert [layer["digestId"] for layer in layers] == inspected["RootFS"]["Layers"]
    assert [layer["diffId"] for layer in layers] == inspected["RootFS"]["Layers"]


@pytest.mark.docker
def test_a_repeated_layer_saved_as_a_symlink_loads(
    scenario_image: Built, archive_docs: Callable[[str], dict[str, Any]]
) -> None:
    image = scenario_image("repeat")
    assert image.diff_ids[1] == image.diff_ids[3]
    with tarfile.open(image.archive) as tar:
        links = [m for m in tar.getmembers() if m.name.endswith("layer.tar") and m.issym()]
    assert len(links) == 1, "the premise: docker save stores the repeated layer as a symlink"
    doc = archive_docs("repeat")
    assert [layer["digestId"] for layer in doc["layer"]] == list(image.diff_ids)
    # The exact accounting sees the repeated layer's content (what dive's numbers make of
    # it is test_dive_parity's business).
    assert [layer["storedBytes"] for layer in doc["layer"]][1:] == [12345, 0, 12345]
    assert doc["image"]["exact"]["visibleBytes"] == doc["layer"][0]["storedBytes"] + 12345


@pytest.mark.docker
def test_docker_save_piped_to_stdin_equals_the_archive(
    scenario_image: Built,
    docker_engine: services.ManagedEngine,
    archive_docs: Callable[[str], dict[str, Any]],
) -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("the docker CLI is not installed (apt-get install docker.io)")
    image = scenario_image("deletions")
    command = shlex.join(services.inspector_command("-", "--json", "-"))
    pipeline = f"set -o pipefail; {shlex.quote(docker)} save {image.name} | {command}"
    result = subprocess.run(
        ["bash", "-c", pipeline],
        capture_output=True,
        text=True,
        env=services.cli_env(extra=docker_engine.env),
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    from_pipe = json.loads(result.stdout)
    assert from_pipe["image"]["name"] == "-"
    assert without_label(from_pipe) == without_label(archive_docs("deletions"))


def _dead_socket(directory: Path) -> str:
    """A socket file nobody listens on (bound, then closed)."""
    path = directory / "dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
    return str(path)


@pytest.mark.parametrize("kind", ["dead-socket", "no-socket"])
@pytest.mark.parametrize("how", ["transport", "dive-source"])
def test_engine_down_is_one_line_and_exit_2(kind: str, how: str, tmp_path: Path) -> None:
    path = _dead_socket(tmp_path) if kind == "dead-socket" else str(tmp_path / "none.sock")
    args = ["docker-daemon:busybox:latest"] if how == "transport" else ["--source", "docker"]
    if how == "dive-source":
        args.append("busybox:latest")
    out = tmp_path / "out.json"
    result = services.run_cli(
        *args, "--json", out, env={"DOCKER_HOST": f"unix://{path}"}, timeout=120
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert path in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
