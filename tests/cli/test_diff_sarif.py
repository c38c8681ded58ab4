"""`inspector diff OLD NEW --format sarif`: the findings new in NEW as a SARIF 2.1.0 log
(valid by the official schema), failing the build as the gate's `noNewFindings` says; no
result when nothing is new.

The images are made byte by byte (imagebuilder): app v1 with its dependency manifest
copied before the install (no finding), v2 the same, and v2 with the whole source copied
before the install (`cache-busting-order`, a warning)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import imagebuilder as ib
import pytest
import services
from imagebuilder import Dir, File, Layer
from sarifschema import validate

from inspector import pipeline, sarif
from inspector.diff import FindingsDiff, diff
from inspector.findings.model import Finding, Fix, Severity

BASE = Layer([Dir("bin"), File("bin/sh", 30_000, mode=0o755)], created_by="ADD rootfs /")
REQUIREMENTS = File("app/requirements.txt", b"flask==3.0.3\n")
INSTALL = "RUN /bin/sh -c pip install -r /app/requirements.txt # buildkit"


def _sources(version: int) -> list[File]:
    return [REQUIREMENTS, File("app/app.py", f"VERSION = {version}\n".encode() * 30)]


def _deps() -> Layer:
    return Layer([File("usr/lib/deps.bin", 80_000)], created_by=INSTALL)


def _good(version: int) -> list[Layer]:
    manifest = Layer([Dir("app"), REQUIREMENTS], created_by="COPY requirements.txt /app/")
    return [BASE, manifest, _deps(), Layer(_sources(version), created_by="COPY . /app")]


def _bad(version: int) -> list[Layer]:
    copy = Layer([Dir("app"), *_sources(version)], created_by="COPY . /app # buildkit")
    return [BASE, copy, _deps()]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("diff-sarif")
    made = {}
    for name, layers in {"good1": _good(1), "good2": _good(2), "bad2": _bad(2)}.items():
        path = root / f"{name}.tar"
        path.write_bytes(ib.docker_save_legacy(ib.build_image(*layers, tags=(f"app/{name}:1",))))
        made[name] = path
    return made


def sarif_diff(old: Path, new: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    done = services.run_cli("diff", old, new, *args)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, validate(done.stdout), done.stderr


def run_of(document: dict[str, Any]) -> dict[str, Any]:
    (run,) = document["runs"]
    assert isinstance(run, dict)
    return run


def test_a_new_finding_is_a_result_that_fails_the_gate(images: dict[str, Path]) -> None:
    code, document, err = sarif_diff(
        images["good1"], images["bad2"], "--ci", "--format", "sarif", "--noNewFindings=warning"
    )
    assert code == 1
    assert err.splitlines()[-1] == "inspector: CI verdict FAIL: noNewFindings"
    run = run_of(document)
    assert run["automationDetails"] == {"id": "inspector-diff/"}
    (result,) = run["results"]
    assert (result["ruleId"], result["level"]) == ("cache-busting-order", "warning")
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "cache-busting-order"
    assert result["properties"]["failsBuild"] is True
    assert result["message"]["text"].startswith("New in this image: ")
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location["uriBaseId"] == "IMAGEROOT"
    assert location["uri"].startswith("app/")
    properties = run["properties"]
    assert properties["image"].endswith("bad2.tar")
    assert properties["baseImage"].endswith("good1.tar")
    assert properties["passed"] is False
    assert {r["rule"]: r["status"] for r in properties["rules"]} == {
        "maxGrowthBytes": "skip",
        "maxGrowthPercent": "skip",
        "maxPullBytes": "skip",
        "noNewFindings": "fail",
    }
    # the same finding is the same alert as in the image mode's log of NEW
    image = services.run_cli(images["bad2"], "--ci", "--ci-format", "sarif", "--fail-on", "none")
    (alone,) = [
        r for r in run_of(validate(image.stdout))["results"] if r["ruleId"] == "cache-busting-order"
    ]
    assert alone["partialFingerprints"] == result["partialFingerprints"]


def test_a_new_finding_below_the_bound_is_reported_and_passes(images: dict[str, Path]) -> None:
    code, document, err = sarif_diff(
        images["good1"], images["bad2"], "--ci", "--ci-format", "sarif", "--noNewFindings=error"
    )
    assert (code, err) == (0, "")
    (result,) = run_of(document)["results"]
    assert result["properties"]["failsBuild"] is False
    assert run_of(document)["properties"]["passed"] is True


def test_a_failing_size_rule_is_named_on_stderr(images: dict[str, Path]) -> None:
    code, document, err = sarif_diff(
        images["good1"], images["good2"], "--ci", "--format", "sarif", "--maxPullBytes", "1"
    )
    assert code == 1
    assert err.splitlines()[-1] == "inspector: CI verdict FAIL: maxPullBytes"
    assert run_of(document)["results"] == []


def test_nothing_new_is_no_result(images: dict[str, Path]) -> None:
    code, document, err = sarif_diff(
        images["good1"], images["good2"], "--ci", "--format", "sarif", "--noNewFindings"
    )
    assert (code, err) == (0, "")
    run = run_of(document)
    assert run["results"] == []
    assert run["properties"]["passed"] is True
    gone = run_of(sarif_diff(images["bad2"], images["good2"], "--format", "sarif")[1])
    assert gone["results"] == []
    assert gone["properties"]["goneFindings"] == [
        {"id": "cache-busting-order", "title": gone["properties"]["goneFindings"][0]["title"]}
    ]


def test_without_the_gate_the_log_has_the_new_findings_and_no_verdict(
    images: dict[str, Path],
) -> None:
    code, document, err = sarif_diff(images["good1"], images["bad2"], "--format", "sarif")
    assert (code, err) == (0, "")
    run = run_of(document)
    assert [r["ruleId"] for r in run["results"]] == ["cache-busting-order"]
    assert run["results"][0]["properties"]["failsBuild"] is False
    assert (run["properties"]["passed"], run["properties"]["rules"]) == (None, [])


def test_a_new_finding_without_a_path_is_placed_at_the_dockerfile(
    images: dict[str, Path],
) -> None:
    result = diff(pipeline.inspect(str(images["good1"])), pipeline.inspect(str(images["good2"])))
    secret = Finding(
        "secret-in-image",
        "A secret is readable in the image",
        Severity.ERROR,
        0,
        (),
        (),
        0,
        "github-token in the config (ENV): <github-token: 40 chars, sha256:0a1b2c3d>",
        Fix("Never put secrets in an image"),
    )
    with_secret = replace(result, findings=FindingsDiff(new=(secret,), gone=()))
    (found,) = run_of(validate(sarif.render_diff(with_secret, None, "docker/app.Dockerfile")))[
        "results"
    ]
    assert found["locations"] == [
        {"physicalLocation": {"artifactLocation": {"uri": "docker/app.Dockerfile"}}}
    ]
    assert found["level"] == "error"
