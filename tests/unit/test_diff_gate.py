"""The diff gate's rules: values from flags and the rules file, and the verdict, each rule
where it fails and where it passes."""

from __future__ import annotations

from pathlib import Path

import imagebuilder as ib
import pytest
from imagebuilder import File, Layer

from inspector import pipeline
from inspector.diff import ImageDiff, diff
from inspector.diff.gate import GATE_RULES, GateConfig, evaluate, load_gate_config
from inspector.errors import UsageError
from inspector.findings.model import Severity
from inspector.rules import Status

BASE = Layer([File("bin/sh", 10_000)], created_by="ADD rootfs /")


def config(**thresholds: float | None) -> GateConfig:
    return GateConfig({rule: thresholds.get(rule) for rule in GATE_RULES}, "test")


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> ImageDiff:
    """NEW adds a 50 kB layer, then deletes it again (a new deleted-later warning)."""
    root = tmp_path_factory.mktemp("gate")
    old = ib.build_image(BASE)
    new = ib.build_image(
        BASE,
        Layer([File("data.bin", 50_000)], created_by="RUN fetch"),
        Layer([ib.Whiteout("data.bin")], created_by="RUN rm /data.bin"),
    )
    paths = []
    for name, image in (("old", old), ("new", new)):
        path = root / f"{name}.tar"
        path.write_bytes(ib.docker_save_legacy(image))
        paths.append(pipeline.inspect(str(path)))
    return diff(paths[0], paths[1])


def statuses(result: ImageDiff, gate: GateConfig) -> dict[str, Status]:
    return {r.rule: r.status for r in evaluate(gate, result).results}


def test_every_rule_is_off_by_default(
    grown: ImageDiff, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .dive-ci here
    gate = load_gate_config({}, None)
    assert statuses(grown, gate) == dict.fromkeys(GATE_RULES, Status.SKIP)
    assert evaluate(gate, grown).passed


def test_each_rule_fails_and_passes(grown: ImageDiff) -> None:
    growth = grown.sizes.growth_bytes
    assert growth > 50_000
    assert [f.severity for f in grown.findings.new] == [Severity.WARNING]
    cases = [
        ("maxGrowthBytes", growth - 1, growth),
        ("maxGrowthPercent", grown.sizes.growth_percent - 0.01, grown.sizes.growth_percent),
        ("maxPullBytes", grown.cost.pull_bytes - 1, grown.cost.pull_bytes),
        ("noNewFindings", Severity.WARNING.rank, Severity.ERROR.rank),
    ]
    for rule, failing, passing in cases:
        verdict = evaluate(config(**{rule: failing}), grown)
        assert [r.rule for r in verdict.failures] == [rule]
        assert statuses(grown, config(**{rule: passing}))[rule] is Status.PASS, rule


def test_messages_name_the_value_and_the_threshold(grown: ImageDiff) -> None:
    verdict = evaluate(config(maxPullBytes=1000, noNewFindings=0), grown)
    pull, findings = verdict.failures
    assert pull.message.startswith("a host holding OLD pulls ")
    assert pull.message.endswith("> threshold 1 kB")
    assert findings.message == "1 new finding in NEW"
    quiet = evaluate(config(noNewFindings=Severity.ERROR.rank), grown).results[-1]
    assert quiet.message == "no new finding of severity error or above in NEW"


def test_values_from_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .dive-ci here
    gate = load_gate_config(
        {
            "maxGrowthBytes": "1.5MB",
            "maxGrowthPercent": "2.5%",
            "maxPullBytes": "1KiB",
            "noNewFindings": "Warning",
        },
        None,
    )
    assert dict(gate.thresholds) == {
        "maxGrowthBytes": 1_500_000,
        "maxGrowthPercent": 2.5,
        "maxPullBytes": 1024,
        "noNewFindings": Severity.WARNING.rank,
    }
    assert gate.source == "default CI config"


def test_the_file_then_the_flags(tmp_path: Path) -> None:
    rules = tmp_path / "ci.yaml"
    rules.write_text(
        "rules:\n"
        "  highestWastedBytes: 1MB\n"  # the image mode's: ignored here
        "  max-growth-bytes: 10MB\n"
        "  maxGrowthBytes: 20MB\n"  # camelCase wins over kebab-case
        "  maxGrowthPercent: 5\n"
        "  noNewFindings: true\n"
        "  maxPullBytes: disabled\n"
    )
    gate = load_gate_config({"maxGrowthPercent": "off", "maxPullBytes": "3MB"}, str(rules))
    assert dict(gate.thresholds) == {
        "maxGrowthBytes": 20_000_000,
        "maxGrowthPercent": None,
        "maxPullBytes": 3_000_000,
        "noNewFindings": Severity.INFO.rank,
    }
    assert gate.source == f"CI config {rules}"


@pytest.mark.parametrize(
    ("flags", "text", "message"),
    [
        ({"maxPullBytes": "-1"}, "", "--maxPullBytes: '-1' is not a byte size"),
        ({"maxGrowthPercent": "nan"}, "", "--maxGrowthPercent: 'nan' is not a finite"),
        ({"noNewFindings": "critical"}, "", "'critical' is not a severity"),
        ({"maxPullSize": "1"}, "", "--maxPullSize: unknown diff rule"),
        ({}, "rules:\n  maxPullBytes: [1]\n", "rules.maxPullBytes: expected a value"),
        ({}, "rules:\n  noNewFindings: 3\n", "rules.noNewFindings: 3 is not a severity"),
        ({}, "rules: [\n", "invalid YAML"),
    ],
)
def test_bad_values_are_one_usage_error(
    tmp_path: Path, flags: dict[str, str | None], text: str, message: str
) -> None:
    path = None
    if text:
        rules = tmp_path / "rules.yaml"
        rules.write_text(text)
        path = str(rules)
    with pytest.raises(UsageError) as caught:
        load_gate_config(flags, path)
    assert message in caught.value.message
