"""Every report of an image whose text tries to drive the terminal (tests/hostile.py).

The real command line runs on a real `docker save` archive; its raw output bytes must hold
none of the image's escape sequences, newlines or bidi overrides, and must show them as
visible escapes instead (`inspector.display.clean`). JSON keeps exact values, as valid
UTF-8: a name that is not UTF-8 carries its bytes in a `…Bytes` sibling.
"""

from __future__ import annotations

import base64
import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from itertools import takewhile
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import hostile
import pytest
import services

ALL_RULES_OFF = ["--lowestEfficiency", "disabled", "--highestUserWastedPercent", "disabled"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile.hostile_archive(tmp_path_factory.mktemp("hostile") / "hostile.tar")


def run(*args: str | Path, cwd: Path) -> bytes:
    """stdout of `inspector ARGS`, as bytes (a stray byte must not be decoded away)."""
    result = subprocess.run(
        services.inspector_command(*args, "--no-cache"),
        capture_output=True,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        env=services.cli_env(),
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr.decode("utf-8", "replace")
    return result.stdout


def shown(output: bytes) -> str:
    """`output` as text: UTF-8, strictly (a report never writes a byte that is not)."""
    text = output.decode("utf-8")
    controls = {char for char in text if not char.isprintable() and char != "\n"}
    assert not controls, f"control characters in the output: {controls!r}"
    assert not hostile.leaks(text), hostile.leaks(text)
    return text


def test_text_summary_shows_every_name_escaped_on_one_line(archive: Path, tmp_path: Path) -> None:
    text = shown(run(archive, "--text", cwd=tmp_path))
    for name in hostile.SHOWN:
        assert f"/hostile/{name}" in text, name
    lines = text.splitlines()
    table = lines.index(next(line for line in lines if line.strip().startswith("Wasted  Stored")))
    rows = [line for line in takewhile(bool, lines[table + 1 :]) if "deleted" in line]
    assert len(rows) == len(hostile.NAMES)  # no row forged by a newline
    assert all(" /hostile/" in row for row in rows)
    assert "Tags: hostile/image:v1\\x1b]0;TAG-TITLE\\x07" in lines
    assert "rm -rf /hostile \\x1b]0;LAYER-TITLE\\x07 \\x1b]52;c;TEFZRVI=\\x07" in text
    warning = next(line for line in lines if line.startswith("warning: "))
    assert "zz-ghost" in warning
    assert "Findings: 1 warning" in lines  # deleted-later: its evidence quotes the command
    evidence = lines[lines.index("Findings: 1 warning") + 2]
    assert "(RUN rm -rf /hostile \\x1b]0;LAYER-TITLE\\x07 \\x1b]52;c;TEFZRVI=\\x07)" in evidence


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_ci_report_shows_every_name_escaped(fmt: str, archive: Path, tmp_path: Path) -> None:
    text = shown(run(archive, "--ci", "--ci-format", fmt, *ALL_RULES_OFF, cwd=tmp_path))
    names = {name.replace("[", "\\[").replace("]", "\\]") for name in hostile.SHOWN}
    if fmt == "markdown":  # punctuation escaped on top of clean: `\x1b` is `\\x1b`
        names = {name.replace("\\x", "\\\\x").replace("\\u", "\\\\u") for name in names}
        names = {name.replace("\\n", "\\\\n") for name in names}
    else:
        names = set(hostile.SHOWN)
    for name in names:
        assert name in text, (name, text)
    if fmt == "markdown":
        lines = text.splitlines()
        header = next(i for i, line in enumerate(lines) if line.startswith("| File |"))
        rows = list(takewhile(lambda line: line.startswith("|"), lines[header + 2 :]))
        assert len(rows) == len(hostile.NAMES)  # one row per wasted file
    else:
        rows = [line for line in text.splitlines() if "layer 0    layer 1  deleted" in line]
        assert len(rows) == len(hostile.NAMES)


def test_junit_report_is_valid_xml_with_escaped_names(archive: Path, tmp_path: Path) -> None:
    output = run(archive, "--ci", "--ci-format", "junit", *ALL_RULES_OFF, cwd=tmp_path)
    shown(output)
    suite = ET.fromstring(output)  # XML 1.0 forbids most control characters: it would fail
    system_out = suite.findtext("system-out") or ""
    for name in hostile.SHOWN:
        assert f"/hostile/{name}" in system_out, name
    assert not hostile.leaks(system_out)


def strings(value: Any) -> Iterator[str]:
    """Every string in a decoded JSON document, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def strict(output: bytes) -> Any:
    """The document, read as a strict decoder would: UTF-8 text, every string valid."""
    document = json.loads(output.decode("utf-8"))
    for text in strings(document):
        text.encode("utf-8")  # a lone surrogate (`\udc9b`) would raise here
    return document


def exact_bytes(entry: dict[str, Any], key: str) -> bytes:
    """The name's bytes as a consumer recovers them (docs/metrics.md)."""
    encoded = entry.get(key + "Bytes")
    if encoded is not None:
        return base64.b64decode(encoded, validate=True)
    value = entry[key]
    assert isinstance(value, str)
    return value.encode("utf-8")


EXPECTED = {
    f"/hostile/{name}".encode("utf-8", "surrogateescape") for name in hostile.NAMES
}  # the wasted files, byte for byte


def test_json_is_strict_utf8_and_names_keep_their_exact_bytes(
    archive: Path, tmp_path: Path
) -> None:
    doc = strict(run(archive, "--json", "-", cwd=tmp_path))
    image = doc["image"]
    wasted = image["exact"]["wastedFiles"]
    assert {exact_bytes(w, "path") for w in wasted} == EXPECTED
    odd = [w for w in wasted if "pathBytes" in w]
    assert [w["path"] for w in odd] == ["/hostile/latin\ufffd-\ufffd-name"]
    assert {exact_bytes(r, "file") for r in image["fileReference"]} == EXPECTED
    files = {exact_bytes(f, "path"): f for f in doc["layer"][0]["fileList"] if f["path"]}
    for name in hostile.NAMES:
        assert f"hostile/{name}".encode("utf-8", "surrogateescape") in files
    link = files[b"hostile/link"]
    assert link["linkName"] == hostile.LINK_TARGET  # exact, escape sequence and all
    assert "linkNameBytes" not in link
    config = image["config"]
    assert config["labels"] == hostile.LABELS
    assert config["env"][1:] == hostile.ENV
    assert image["tags"] == [hostile.TAG]
    assert doc["layer"][1]["createdBy"] == hostile.COMMAND
    (finding,) = doc["findings"]
    assert {exact_bytes(p, "path") for p in finding["paths"]} == EXPECTED
    assert finding["layers"][1] == {"index": 1, "command": hostile.COMMAND}


def test_ci_json_is_strict_utf8_and_names_keep_their_exact_bytes(
    archive: Path, tmp_path: Path
) -> None:
    doc = strict(run(archive, "--ci", "--ci-format", "json", *ALL_RULES_OFF, cwd=tmp_path))
    assert {exact_bytes(w, "path") for w in doc["exact"]["wastedFiles"]} == EXPECTED
    inefficient = doc["dive"]["inefficientFiles"]
    assert {exact_bytes(i, "path") for i in inefficient} == EXPECTED
    (finding,) = doc["findings"]
    assert {exact_bytes(p, "path") for p in finding["paths"]} == EXPECTED
    assert (finding["id"], finding["status"]) == ("deleted-later", "pass")


def test_sarif_is_strict_utf8_and_its_uris_keep_the_exact_bytes(
    archive: Path, tmp_path: Path
) -> None:
    doc = strict(run(archive, "--ci", "--ci-format", "sarif", *ALL_RULES_OFF, cwd=tmp_path))
    (result,) = doc["runs"][0]["results"]
    uris = [loc["physicalLocation"]["artifactLocation"]["uri"] for loc in result["locations"]]
    assert all(uri.isascii() and uri.isprintable() for uri in uris)  # percent-encoded
    assert {b"/" + unquote_to_bytes(uri) for uri in uris} == EXPECTED
    assert result["properties"]["layers"][1]["command"] == hostile.COMMAND  # exact, as JSON
