"""The regression gate: rules over a diff, evaluated into a verdict (pure but for reading
the rules file).

Four rules, each off unless a flag or the rules file sets it (a flag wins over the file):

    maxGrowthBytes     NEW's layers may grow by at most this many uncompressed bytes
    maxGrowthPercent   ... by at most this percentage of OLD's (`5` or `5%`: five percent)
    maxPullBytes       a host holding OLD may download at most this many bytes to get NEW
    noNewFindings      no finding new in NEW at or above SEVERITY (info, warning or error;
                       `true` or the bare flag: info, any finding)

The rules file is the one the image's CI mode reads (`--ci-config`, else `.dive-ci`), the
same YAML: these keys sit in its `rules:` mapping beside dive's, in camelCase or
kebab-case, and each mode ignores the other's. The verdict is `rules.Verdict`, the main
CI mode's, so every report format reads it the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from inspector.diff.model import ImageDiff
from inspector.errors import UsageError
from inspector.findings.model import Finding, Severity
from inspector.formatting import count, size
from inspector.rules import (
    RuleResult,
    Status,
    Verdict,
    byte_threshold,
    disabled,
    kebab,
    rules_file,
    scalar,
)

GATE_RULES = ("maxGrowthBytes", "maxGrowthPercent", "maxPullBytes", "noNewFindings")
BYTE_RULES = frozenset({"maxGrowthBytes", "maxPullBytes"})
_SEVERITIES: Mapping[str, Severity] = MappingProxyType({s.value: s for s in Severity})
_ANY = frozenset({"true", "yes", "on", "any"})
_BY_SPELLING: Mapping[str, str] = MappingProxyType(
    {**{kebab(rule): rule for rule in GATE_RULES}, **{rule: rule for rule in GATE_RULES}}
)


@dataclass(frozen=True, slots=True)
class GateConfig:
    """Every rule's threshold (None: off) and where the rules file came from.

    `noNewFindings` holds a severity's rank (`Severity.rank`)."""

    thresholds: Mapping[str, float | None]
    source: str


def load_gate_config(flags: Mapping[str, str | None], ci_config: str | None) -> GateConfig:
    """Thresholds from the flags (None: not given), then the rules file; UsageError with
    one line naming the flag or the file for any bad value."""
    path, source, from_file = rules_file(ci_config, GATE_RULES)
    thresholds: dict[str, float | None] = dict.fromkeys(GATE_RULES)
    for rule, (spelling, value) in from_file.items():
        thresholds[rule] = threshold(rule, value, f"{path}: rules.{spelling}")
    for name, given in flags.items():
        if given is None:
            continue
        flagged = _BY_SPELLING.get(name)
        if flagged is None:
            raise UsageError(f"--{name}: unknown diff rule (known: {', '.join(GATE_RULES)})")
        thresholds[flagged] = threshold(flagged, given, f"--{name}")
    return GateConfig(MappingProxyType(thresholds), source)


def threshold(rule: str, raw: object, origin: str) -> float | None:
    """One rule value, from a flag (a string) or the YAML file (a scalar)."""
    if disabled(raw):
        return None
    if rule == "noNewFindings":
        return _severity(raw, origin)
    raw = scalar(raw, origin)
    if rule in BYTE_RULES:
        return byte_threshold(raw, origin)
    try:
        value = float(str(raw).strip().removesuffix("%"))
    except ValueError:
        raise UsageError(f"{origin}: {raw!r} is not a percentage (e.g. 5 or 2.5%)") from None
    if not math.isfinite(value):
        raise UsageError(f"{origin}: {raw!r} is not a finite percentage")
    return value


def _severity(raw: object, origin: str) -> float:
    if raw is True:
        return float(Severity.INFO.rank)
    word = str(raw).strip().lower() if isinstance(raw, str) else None
    if word in _ANY:
        return float(Severity.INFO.rank)
    severity = _SEVERITIES.get(word or "")
    if severity is None:
        raise UsageError(
            f"{origin}: {raw!r} is not a severity (info, warning, error, or true for any)"
        )
    return float(severity.rank)


def severity_of(rank: float) -> Severity:
    """The severity a `noNewFindings` threshold holds."""
    return next(s for s in Severity if s.rank == int(rank))


def evaluate(config: GateConfig, result: ImageDiff) -> Verdict:
    """Every rule in GATE_RULES order; a rule fails when its value is above its bound."""
    return Verdict(
        tuple(_judge(rule, result, config.thresholds.get(rule)) for rule in GATE_RULES),
        config.source,
    )


def actual(rule: str, result: ImageDiff, bound: float | None = None) -> float:
    """The value a rule measures (`noNewFindings`: the new findings at `bound` or above)."""
    if rule == "maxGrowthBytes":
        return float(result.sizes.growth_bytes)
    if rule == "maxGrowthPercent":
        return result.sizes.growth_percent
    if rule == "maxPullBytes":
        return float(result.cost.pull_bytes)
    return float(len(new_findings_at(result, bound)))


def new_findings_at(result: ImageDiff, bound: float | None) -> tuple[Finding, ...]:
    """The findings new in NEW that `noNewFindings` at `bound` (a severity's rank; None:
    any) counts."""
    floor = int(bound) if bound is not None else Severity.INFO.rank
    return tuple(f for f in result.findings.new if f.severity.rank >= floor)


def failing_findings(verdict: Verdict, result: ImageDiff) -> tuple[Finding, ...]:
    """The new findings that fail `verdict`'s `noNewFindings` rule (none when it is off)."""
    for rule in verdict.results:
        if rule.rule == "noNewFindings" and rule.status is not Status.SKIP:
            return new_findings_at(result, rule.threshold)
    return ()


def _judge(rule: str, result: ImageDiff, bound: float | None) -> RuleResult:
    value = actual(rule, result, bound)
    if bound is None:
        return RuleResult(rule, Status.SKIP, value, None, "rule disabled")
    if rule == "noNewFindings":
        failed = value > 0
        floor = severity_of(bound)
        scope = "" if floor is Severity.INFO else f" of severity {floor} or above"
        found = count(int(value), "new finding") if failed else "no new finding"
        message = f"{found}{scope} in NEW"
        return RuleResult(rule, Status.FAIL if failed else Status.PASS, value, bound, message)
    failed = value > bound
    relation = ">" if failed else "<="
    if rule == "maxGrowthPercent":
        shown, limit = f"{value:+.2f} %", f"{bound:g} %"
        what = "NEW grows by"
    else:
        shown, limit = f"{size(int(value))} ({int(value)} B)", f"{size(int(bound))}"
        what = "NEW grows by" if rule == "maxGrowthBytes" else "a host holding OLD pulls"
    message = f"{what} {shown} {relation} threshold {limit}"
    return RuleResult(rule, Status.FAIL if failed else Status.PASS, value, bound, message)
