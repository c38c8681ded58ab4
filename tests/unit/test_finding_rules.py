"""CI rules on findings: where they come from, what they drop, and what fails the build.

The findings are the demo image's own (deleted-later, package-cache, build-context-junk,
all warnings), plus a secret in a file the way `secret-in-image` reports one.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from inspector import pipeline
from inspector.errors import UsageError
from inspector.finding_rules import FINDING_IDS, Allowance, FindingRules, Flags, load
from inspector.findings import secret_in_image
from inspector.findings.model import Finding, Fix, LayerRef, PathRef, Severity
from inspector.inspection import Inspection
from inspector.rules import RuleConfig, Status, Verdict, evaluate, load_rule_config


@functools.cache
def demo_inspection() -> Inspection:
    return pipeline.inspect("demo")


@pytest.fixture(scope="module")
def demo() -> tuple[Finding, ...]:
    found = demo_inspection().findings
    assert [f.id for f in found] == ["deleted-later", "package-cache", "build-context-junk"]
    return found


KEY_FILE = Finding(
    secret_in_image.ID,
    secret_in_image.TITLE,
    secret_in_image.SEVERITY,
    1704,
    (LayerRef(2, "COPY fixtures /app/tests/fixtures"),),
    (PathRef("app/tests/fixtures/server.key", 1704),),
    1,
    "/app/tests/fixtures/server.key holds private-key on line 1 <private-key: 1600 chars, "
    "sha256:0a1b2c3d>",
    secret_in_image.FIX,
)


def rules_from(text: str, tmp_path: Path, flags: Flags | None = None) -> FindingRules:
    path = tmp_path / ".dive-ci"
    path.write_text(text, encoding="utf-8")
    return load_rule_config({}, str(path), flags).findings


def verdict_of(rules: FindingRules, findings: tuple[Finding, ...]) -> Verdict:
    """Every dive rule off (no threshold), so only the findings decide."""
    config = RuleConfig({}, "test", rules)
    inspection = demo_inspection()
    return evaluate(config, inspection.analysis.exact, inspection.dive, findings=findings)


def judged(rules: FindingRules, findings: tuple[Finding, ...]) -> list[tuple[str, str]]:
    return [(r.finding.id, r.status.value) for r in verdict_of(rules, findings).findings]


# ----------------------------------------------------------------------------- defaults


def test_by_default_errors_fail_and_warnings_pass(demo: tuple[Finding, ...]) -> None:
    rules = FindingRules()
    assert rules.fail_on is Severity.ERROR
    assert judged(rules, (KEY_FILE, *demo)) == [
        ("secret-in-image", "fail"),
        ("deleted-later", "pass"),
        ("package-cache", "pass"),
        ("build-context-junk", "pass"),
    ]


def test_fail_on_warning_none_and_info(demo: tuple[Finding, ...], tmp_path: Path) -> None:
    assert {s for _, s in judged(rules_from("failOn: warning\n", tmp_path), demo)} == {"fail"}
    assert {s for _, s in judged(rules_from("fail-on: none\n", tmp_path), (KEY_FILE,))} == {"pass"}
    assert rules_from("failOn: off\n", tmp_path).fail_on is None  # YAML reads off as false
    info = rules_from("failOn: INFO\n", tmp_path)
    assert info.fail_on is Severity.INFO


def test_the_flag_beats_the_file(tmp_path: Path) -> None:
    rules = rules_from("failOn: none\n", tmp_path, Flags(fail_on="warning"))
    assert rules.fail_on is Severity.WARNING


def test_a_file_without_finding_keys_keeps_the_defaults(tmp_path: Path) -> None:
    rules = rules_from("rules:\n  lowestEfficiency: 0.5\n", tmp_path)
    assert rules == FindingRules()


# ------------------------------------------------------------------- enabled, min, severity


def test_disabled_findings_are_skipped(demo: tuple[Finding, ...], tmp_path: Path) -> None:
    rules = rules_from("findings:\n  package-cache: {enabled: false}\n", tmp_path)
    assert judged(rules, demo) == [
        ("deleted-later", "pass"),
        ("build-context-junk", "pass"),
        ("package-cache", "skip"),
    ]
    flagged = rules_from("", tmp_path, Flags(disable=("deleted-later", "package-cache")))
    assert [s for _, s in judged(flagged, demo)] == ["pass", "skip", "skip"]
    again = rules_from(
        "findings:\n  package-cache: {enabled: false}\n", tmp_path, Flags(enable=("package-cache",))
    )
    assert [s for _, s in judged(again, demo)] == ["pass", "pass", "pass"]


def test_min_bytes_drops_small_findings(demo: tuple[Finding, ...], tmp_path: Path) -> None:
    # the demo: deleted-later 24 MB, package-cache 7.1 MB, build-context-junk 2.6 MB
    rules = rules_from(
        "findings:\n  package-cache: {minBytes: 10MB}\n  deleted-later: {min-bytes: 10MB}\n",
        tmp_path,
    )
    kept, dropped = rules.apply(demo)
    assert [f.id for f in kept] == ["deleted-later", "build-context-junk"]
    assert [(d.finding.id, d.reason) for d in dropped] == [
        ("package-cache", "below minBytes (10 MB)")
    ]
    flagged = rules_from("", tmp_path, Flags(min_bytes=("build-context-junk:2.6MB",)))
    assert [f.id for f in flagged.apply(demo)[0]] == [
        "deleted-later",
        "package-cache",
        "build-context-junk",
    ]
    flagged = rules_from("", tmp_path, Flags(min_bytes=("build-context-junk:2.7MB",)))
    assert [f.id for f in flagged.apply(demo)[0]] == ["deleted-later", "package-cache"]


def test_severity_changes_the_verdict_and_the_order(
    demo: tuple[Finding, ...], tmp_path: Path
) -> None:
    rules = rules_from("findings:\n  build-context-junk: {severity: error}\n", tmp_path)
    assert judged(rules, demo) == [
        ("build-context-junk", "fail"),  # an error now: first, and it fails the build
        ("deleted-later", "pass"),
        ("package-cache", "pass"),
    ]
    lowered = rules_from("", tmp_path, Flags(severity=("secret-in-image:warning",)))
    assert judged(lowered, (KEY_FILE,)) == [("secret-in-image", "pass")]


# ---------------------------------------------------------------------------------- allow


def test_a_finding_whose_every_path_is_allowed_disappears(tmp_path: Path) -> None:
    allow = 'allow:\n  - id: secret-in-image\n    path: "app/tests/fixtures/*"\n'
    rules = rules_from(allow, tmp_path)
    kept, dropped = rules.apply((KEY_FILE,))
    assert kept == ()
    assert [d.reason for d in dropped] == ["every path allowed"]
    assert judged(rules, (KEY_FILE,)) == [("secret-in-image", "skip")]
    # another finding id, or another directory, is not allowed
    other = rules_from('allow:\n  - {id: deleted-later, path: "app/tests/*"}\n', tmp_path)
    assert other.apply((KEY_FILE,))[0] == (KEY_FILE,)
    elsewhere = rules_from("", tmp_path, Flags(allow=("secret-in-image:app/src/*",)))
    assert elsewhere.apply((KEY_FILE,))[0] == (KEY_FILE,)


def test_allowed_paths_leave_a_finding_and_take_their_bytes(
    demo: tuple[Finding, ...], tmp_path: Path
) -> None:
    apt = demo[1]  # package-cache: four paths, the lists and pkgcache.bin
    assert apt.path_count == 4
    rules = rules_from("", tmp_path, Flags(allow=("package-cache:/var/lib/apt/lists",)))
    (left,) = [f for f in rules.apply(demo)[0] if f.id == "package-cache"]
    assert [p.path for p in left.paths] == ["var/cache/apt/pkgcache.bin"]
    assert left.path_count == 1
    assert left.bytes == 700_000
    assert left.evidence == apt.evidence


def test_allow_matches_a_path_or_a_parent_directory_for_any_finding() -> None:
    anywhere = Allowance("*", "app/.git")
    assert anywhere.allows("build-context-junk", "app/.git/objects/pack-1.pack")
    assert anywhere.allows("deleted-later", "/app/.git")
    assert not anywhere.allows("deleted-later", "app/.github/workflow.yml")
    star = Allowance("secret-in-image", "app/*/fixtures/*.key")
    assert star.allows("secret-in-image", "app/tests/fixtures/server.key")
    assert not star.allows("secret-in-image", "app/tests/fixtures/server.pem")


def test_a_path_less_finding_is_never_allowed_by_a_path() -> None:
    in_env = Finding(
        "secret-in-image", "t", Severity.ERROR, 0, (), (), 0, "github-token in the config", Fix("x")
    )
    rules = FindingRules(allowed=(Allowance("*", "*"),))
    assert rules.apply((in_env,))[0] == (in_env,)


# --------------------------------------------------------------------------------- errors

BAD_FILES = {
    "unknown id": (
        "findings:\n  no-such: {enabled: false}\n",
        "findings.no-such: unknown finding 'no-such'",
    ),
    "bad severity": (
        "findings:\n  package-cache: {severity: fatal}\n",
        "'fatal' is not a severity",
    ),
    "bad size": ("findings:\n  package-cache: {minBytes: 10XB}\n", "'10XB' is not a byte size"),
    "bad enabled": ("findings:\n  package-cache: {enabled: maybe}\n", "expected true or false"),
    "unknown key": ("findings:\n  package-cache: {min: 1}\n", "unknown key 'min'"),
    "not a mapping": ("findings: [package-cache]\n", "`findings` must map finding ids"),
    "bad fail-on": ("failOn: fatal\n", "failOn: 'fatal' is not a severity"),
    "fail-on in rules": ("rules:\n  failOn: error\n", "failOn belongs at the top level"),
    "allow not a list": ("allow: {id: x}\n", "`allow` must be a list"),
    "allow keys": ("allow:\n  - {id: secret-in-image}\n", "allow entry 1: expected exactly"),
    "allow id": ("allow:\n  - {id: secrets, path: a}\n", "unknown finding 'secrets'"),
    "allow glob": ("allow:\n  - {id: '*', path: '/'}\n", "the path glob is empty"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_rules_file_is_one_line_naming_the_key(case: str, tmp_path: Path) -> None:
    text, message = BAD_FILES[case]
    with pytest.raises(UsageError) as caught:
        rules_from(text, tmp_path)
    assert message in caught.value.message
    assert caught.value.message.startswith(str(tmp_path / ".dive-ci"))
    assert "\n" not in caught.value.message


BAD_FLAGS = {
    "fail-on": (Flags(fail_on="fatal"), "--fail-on: 'fatal' is not a severity"),
    "disable": (Flags(disable=("nope",)), "--disable-finding nope: unknown finding 'nope'"),
    "both": (Flags(disable=("package-cache",), enable=("package-cache",)), "both name"),
    "min-bytes form": (Flags(min_bytes=("package-cache",)), "expected ID:SIZE"),
    "min-bytes size": (Flags(min_bytes=("package-cache:lots",)), "'lots' is not a byte size"),
    "severity": (Flags(severity=("package-cache:high",)), "'high' is not a severity"),
    "allow form": (Flags(allow=("app/tests/*",)), "--allow app/tests/*: expected ID:GLOB"),
    "allow id": (Flags(allow=("secret:app/*",)), "unknown finding 'secret'"),
    "allow empty": (Flags(allow=("secret-in-image:",)), "expected ID:GLOB"),
}


@pytest.mark.parametrize("case", BAD_FLAGS)
def test_a_bad_flag_is_one_line_naming_the_flag(case: str) -> None:
    flags, message = BAD_FLAGS[case]
    with pytest.raises(UsageError) as caught:
        load({}, "unused", flags)
    assert message in caught.value.message
    assert "\n" not in caught.value.message


def test_every_detector_id_is_known() -> None:
    from inspector.findings import DETECTORS

    assert sorted(d.ID for d in DETECTORS) == list(FINDING_IDS)


def test_verdict_counts_findings_with_the_rules(demo: tuple[Finding, ...]) -> None:
    verdict = verdict_of(FindingRules(Severity.WARNING), demo)
    assert not verdict.passed
    assert verdict.count(Status.FAIL) == 3
    assert verdict.count(Status.SKIP) == 7  # every rule: none has a threshold
    assert verdict.fail_on is Severity.WARNING
    assert verdict_of(FindingRules(Severity.WARNING), ()).passed
    assert verdict_of(FindingRules(None), demo).passed
