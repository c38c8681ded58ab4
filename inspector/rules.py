"""CI rules: thresholds from flags and a `.dive-ci` file, evaluated into a verdict (pure).

dive's three rules keep dive 0.13.1's names, defaults, value formats and strict
comparisons, over dive's numbers (`inspector.dive`). Three `exact…` rules apply the
same comparisons to the exact accounting (`inspector.analysis`) and are off unless asked
for. `highestUniqueBytes` bounds the bytes of layers no other image shares
(`inspector.sharing`), also off unless asked for. A threshold comes from the command line
if given there, else from the rules file, else from the default; `None` means the rule is
disabled.

The rules file is YAML with a top-level `rules:` mapping; keys are camelCase
(`lowestEfficiency`) or kebab-case (`lowest-efficiency`), camelCase winning when a file
has both. Beside `rules:`, `failOn`, `findings` and `allow` hold the rules on findings
(`inspector.finding_rules`); other keys, in `rules:` or beside it, are ignored, as dive
ignores them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

import yaml

from inspector.analysis import ExactWaste
from inspector.bytesize import parse_bytes
from inspector.dive import DiveNumbers
from inspector.errors import UsageError
from inspector.finding_rules import DEFAULT_FAIL_ON, FindingRules, Flags, Suppressed, load
from inspector.findings.model import Finding, Severity
from inspector.sharing import Sharing

DIVE_RULES = ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent")
EXACT_RULES = ("exactLowestEfficiency", "exactHighestWastedBytes", "exactHighestUserWastedPercent")
SHARING_RULES = ("highestUniqueBytes",)
ALL_RULES = DIVE_RULES + EXACT_RULES + SHARING_RULES
BYTE_RULES = frozenset({"highestWastedBytes", "exactHighestWastedBytes", "highestUniqueBytes"})

DEFAULTS: Mapping[str, float | None] = MappingProxyType(
    {
        "lowestEfficiency": 0.9,
        "highestWastedBytes": None,
        "highestUserWastedPercent": 0.1,
        "exactLowestEfficiency": None,
        "exactHighestWastedBytes": None,
        "exactHighestUserWastedPercent": None,
        "highestUniqueBytes": None,
    }
)
DEFAULT_CI_CONFIG = ".dive-ci"
DISABLED_WORDS = frozenset({"disabled", "off", "false", ""})


def kebab(rule: str) -> str:
    """`lowestEfficiency` → `lowest-efficiency`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", rule).lower()


_BY_SPELLING: Mapping[str, str] = MappingProxyType(
    {**{kebab(rule): rule for rule in ALL_RULES}, **{rule: rule for rule in ALL_RULES}}
)


# ----------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Every rule's threshold (None: disabled), where the rules file came from, and the
    rules on findings."""

    thresholds: Mapping[str, float | None]
    source: str
    findings: FindingRules = field(default_factory=FindingRules)


def load_rule_config(
    flags: Mapping[str, str | None], ci_config: str | None, finding_flags: Flags | None = None
) -> RuleConfig:
    """Thresholds by dive 0.13.1's precedence: flag, then rules file, then default.

    `flags` maps a rule name to its command-line value (None: not given); `ci_config` is
    the --ci-config path, or None for `.dive-ci` in the current directory when it exists;
    `finding_flags` are the command line's rules on findings.
    Every problem raises UsageError with one line naming the file or flag.
    """
    path, source = _config_path(ci_config)
    document = _read_document(path) if path is not None else {}
    from_file = _rules_in(document, path) if path is not None else {}
    thresholds = dict(DEFAULTS)
    for rule, (spelling, value) in from_file.items():
        thresholds[rule] = _threshold(rule, value, f"{path}: rules.{spelling}")
    for name, given in flags.items():
        if given is None:
            continue
        flagged = _BY_SPELLING.get(name)
        if flagged is None:
            raise UsageError(f"--{name}: unknown CI rule (known: {', '.join(ALL_RULES)})")
        thresholds[flagged] = _threshold(flagged, given, f"--{name}")
    findings = load(document, str(path), finding_flags or Flags())
    return RuleConfig(MappingProxyType(thresholds), source, findings)


def rules_file(
    ci_config: str | None, names: Sequence[str]
) -> tuple[Path | None, str, dict[str, tuple[str, object]]]:
    """The rules file (`--ci-config`, else `.dive-ci` when it exists): its path, how a
    report names it, and the values it sets for the rules in `names` (canonical name ->
    (spelling used, value)); keys for other rules are ignored."""
    path, source = _config_path(ci_config)
    if path is None:
        return None, source, {}
    return path, source, _rules_in(_read_document(path), path, names)


def _config_path(ci_config: str | None) -> tuple[Path | None, str]:
    if ci_config is None:
        default = Path(DEFAULT_CI_CONFIG)
        if default.is_file():
            return default, f"CI config {DEFAULT_CI_CONFIG}"
        return None, "default CI config"
    path = Path(ci_config)
    if not path.exists():
        raise UsageError(f"--ci-config {ci_config}: no such file")
    if not path.is_file():
        raise UsageError(f"--ci-config {ci_config}: not a regular file")
    return path, f"CI config {ci_config}"


def _read_document(path: Path) -> dict[str, object]:
    """A rules file's top-level mapping."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise UsageError(f"{path}: cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UsageError(f"{path}: invalid YAML: {_yaml_problem(error)}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise UsageError(f"{path}: expected a mapping with a `rules:` key at the top level")
    return document


def _rules_in(
    document: Mapping[str, object], path: Path, names: Sequence[str] = ALL_RULES
) -> dict[str, tuple[str, object]]:
    """The rule values a rules file sets for the rules in `names`: canonical rule name ->
    (spelling used, value)."""
    rules = document.get("rules")
    if rules is None:
        return {}
    if not isinstance(rules, dict):
        raise UsageError(f"{path}: `rules` must be a mapping of rule names to thresholds")
    found: dict[str, tuple[str, object]] = {}
    for rule in names:  # camelCase first, so it wins over a kebab-case duplicate
        for spelling in (rule, kebab(rule)):
            if spelling in rules and rule not in found:
                found[rule] = (spelling, rules[spelling])
    return found


def _yaml_problem(error: yaml.YAMLError) -> str:
    if isinstance(error, yaml.MarkedYAMLError):
        where = f" (line {error.problem_mark.line + 1})" if error.problem_mark else ""
        return f"{error.problem or error.context or 'cannot parse'}{where}"
    return " ".join(str(error).split())


def disabled(raw: object) -> bool:
    """True for a rule value that turns the rule off: absent, false, `disabled`, `off`…"""
    if raw is None or raw is False:
        return True
    return isinstance(raw, str) and raw.strip().lower() in DISABLED_WORDS


def scalar(raw: object, origin: str) -> str | int | float:
    """A rule value that is on: a flag string or a YAML number, never a list or a bool."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise UsageError(f"{origin}: expected a value or 'disabled', got {raw!r}")
    return raw


def byte_threshold(raw: str | int | float, origin: str) -> float:
    """A byte size rule value (`20MB`, `1.5MiB`, `1024`) in bytes."""
    try:
        return float(parse_bytes(str(raw)))
    except ValueError:
        raise UsageError(
            f"{origin}: {raw!r} is not a byte size (e.g. 20MB, 50kB, 1.5MiB, 1024)"
        ) from None


def _threshold(rule: str, raw: object, origin: str) -> float | None:
    """One rule value (a flag string or a YAML scalar) as a threshold; None = disabled."""
    if disabled(raw):
        return None
    raw = scalar(raw, origin)
    if rule in BYTE_RULES:
        return byte_threshold(raw, origin)
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{origin}: {raw!r} is not a number") from None
    if not 0.0 <= value <= 1.0:  # NaN fails this test too
        raise UsageError(f"{origin}: {raw!r} is out of range (a fraction from 0 to 1)")
    return value


# --------------------------------------------------------------------------- evaluation


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule: str
    status: Status
    actual: float
    threshold: float | None
    message: str


@dataclass(frozen=True, slots=True)
class FindingResult:
    """A finding's verdict: FAIL when it fails the build, PASS when it is reported but
    does not, SKIP when the configuration dropped it (`message` says why)."""

    finding: Finding
    status: Status
    message: str


@dataclass(frozen=True, slots=True)
class Verdict:
    results: tuple[RuleResult, ...]
    source: str = ""  # RuleConfig.source, for reports
    findings: tuple[FindingResult, ...] = ()  # the kept findings in order, then the dropped
    fail_on: Severity | None = DEFAULT_FAIL_ON  # the severity that fails the build

    @property
    def passed(self) -> bool:
        return Status.FAIL not in self._statuses()

    def count(self, status: Status) -> int:
        """Rules and findings with that status."""
        return self._statuses().count(status)

    def _statuses(self) -> list[Status]:
        return [r.status for r in self.results] + [f.status for f in self.findings]

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.status is Status.FAIL)


def evaluate(
    config: RuleConfig,
    exact: ExactWaste,
    dive: DiveNumbers,
    shared: Sharing | None = None,
    findings: tuple[Finding, ...] = (),
) -> Verdict:
    """Every rule, in ALL_RULES order, against dive's numbers or the exact ones; then
    every finding, as the rules on findings leave it, against `failOn`.

    `shared` is the image's layer sharing; without it every layer counts as unique.
    """
    unique = shared.unique_bytes if shared is not None else exact.stored_bytes
    actuals = {
        "lowestEfficiency": dive.efficiency,
        "highestWastedBytes": float(dive.wasted_bytes),
        "highestUserWastedPercent": dive.user_wasted_percent,
        "exactLowestEfficiency": exact.efficiency,
        "exactHighestWastedBytes": float(exact.wasted_bytes),
        "exactHighestUserWastedPercent": exact.user_wasted_percent,
        "highestUniqueBytes": float(unique),
    }
    results = tuple(_judge(rule, actuals[rule], config.thresholds.get(rule)) for rule in ALL_RULES)
    kept, dropped = config.findings.apply(findings)
    judged = tuple(_judge_finding(config.findings, f) for f in kept)
    skipped = tuple(_skipped(s) for s in dropped)
    return Verdict(results, config.source, judged + skipped, config.findings.fail_on)


def _judge_finding(rules: FindingRules, finding: Finding) -> FindingResult:
    fail_on = f"failOn: {rules.fail_on.value if rules.fail_on is not None else 'none'}"
    if rules.fails(finding):
        return FindingResult(finding, Status.FAIL, f"fails the build ({fail_on})")
    return FindingResult(finding, Status.PASS, f"does not fail the build ({fail_on})")


def _skipped(dropped: Suppressed) -> FindingResult:
    return FindingResult(dropped.finding, Status.SKIP, dropped.reason)


_EFFICIENCY, _WASTED, _USER_WASTED = "efficiency", "wasted-bytes", "%-user-wasted-bytes"
_UNIQUE = "unique-bytes"
_MEASURES: Mapping[str, str] = MappingProxyType(
    {
        "lowestEfficiency": _EFFICIENCY,
        "highestWastedBytes": _WASTED,
        "highestUserWastedPercent": _USER_WASTED,
        "exactLowestEfficiency": _EFFICIENCY,
        "exactHighestWastedBytes": _WASTED,
        "exactHighestUserWastedPercent": _USER_WASTED,
        "highestUniqueBytes": _UNIQUE,
    }
)
_COMPLAINTS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {  # measure -> (failed, passed)
        _EFFICIENCY: ("image efficiency is too low", "image efficiency is high enough"),
        _WASTED: ("too many bytes wasted", "few enough bytes wasted"),
        _USER_WASTED: (
            "too many bytes wasted, relative to the user bytes added",
            "few enough bytes wasted, relative to the user bytes added",
        ),
        _UNIQUE: (
            "too many bytes in layers no other image shares",
            "few enough bytes in layers no other image shares",
        ),
    }
)


def _judge(rule: str, actual: float, threshold: float | None) -> RuleResult:
    """dive's strict comparisons; NaN compares false, so it passes every rule."""
    if threshold is None:
        return RuleResult(rule, Status.SKIP, actual, None, "rule disabled")
    measure = _MEASURES[rule]
    if measure == _EFFICIENCY:
        failed = threshold > actual
        relation = "<" if failed else ">="
    else:
        failed = actual > threshold
        relation = ">" if failed else "<="
    prefix = "exact " if rule in EXACT_RULES else ""
    what = _COMPLAINTS[measure][0 if failed else 1]
    message = f"{what} ({prefix}{measure}={_num(actual)} {relation} threshold={_num(threshold)})"
    return RuleResult(rule, Status.FAIL if failed else Status.PASS, actual, threshold, message)


def _num(value: float) -> str:
    """Shortest exact form, integers without a fraction (dive prints with Go's %v)."""
    if math.isfinite(value) and value == int(value) and abs(value) >= 1:
        return str(int(value))
    return repr(value)
