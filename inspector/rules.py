"""CI rules: thresholds from flags and a `.dive-ci` file, evaluated into a verdict (pure).

dive's three rules keep dive 0.13.1's names, defaults, value formats and strict
comparisons, over dive's numbers (`inspector.compat`). Three `exact…` rules apply the
same comparisons to the exact accounting (`inspector.analysis`) and are off unless asked
for. `highestUniqueBytes` bounds the bytes of layers no other image shares
(`inspector.sharing`), also off unless asked for. A threshold comes from the command line
if given there, else from the rules file, else from the default; `None` means the rule is
disabled.

The rules file is YAML with a top-level `rules:` mapping; keys are camelCase
(`lowestEfficiency`) or kebab-case (`lowest-efficiency`), camelCase winning when a file
has both. Other keys, in `rules:` or beside it, are ignored, as dive ignores them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

import yaml

from inspector.analysis import ExactWaste
from inspector.compat import DiveNumbers
from inspector.errors import UsageError
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


# ---------------------------------------------------------------------------- byte sizes

_SI = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15, "e": 10**18}
_IEC = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50, "e": 2**60}
_UNITS: Mapping[str, int] = MappingProxyType(
    {
        **_SI,
        **{f"{p}b": m for p, m in _SI.items() if p not in ("", "b")},
        **{f"{p}i": m for p, m in _IEC.items()},
        **{f"{p}ib": m for p, m in _IEC.items()},
    }
)
_NUMBER = re.compile(r"[0-9.,]*")
_MAX_BYTES = 2**64


def parse_bytes(text: str) -> int:
    """A byte count the way go-humanize's ParseBytes reads one (dive's highestWastedBytes).

    A number (digits, `.`, `,` as a thousands separator) then an optional unit, any case,
    optionally after spaces: `B`, SI `k`/`kB`/`MB`/… (powers of 1000, so `19Mb` is 19 MB)
    and IEC `Ki`/`KiB`/`MiB`/… (powers of 1024). Fractions of a byte are dropped.
    Surrounding whitespace is ignored. Raises ValueError.
    """
    stripped = text.strip()
    digits = _NUMBER.match(stripped)
    number = digits.group() if digits else ""
    unit = stripped[len(number) :].strip().lower()
    if unit not in _UNITS:
        raise ValueError(f"unknown size unit {unit!r} in {text!r}")
    try:
        value = float(number.replace(",", ""))
    except ValueError:
        raise ValueError(f"not a byte size: {text!r}") from None
    total = value * _UNITS[unit]
    if total >= _MAX_BYTES:
        raise ValueError(f"byte size too large: {text!r}")
    return int(total)


# ----------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Every rule's threshold (None: disabled) and where the rules file came from."""

    thresholds: Mapping[str, float | None]
    source: str


def load_rule_config(flags: Mapping[str, str | None], ci_config: str | None) -> RuleConfig:
    """Thresholds by dive 0.13.1's precedence: flag, then rules file, then default.

    `flags` maps a rule name to its command-line value (None: not given); `ci_config` is
    the --ci-config path, or None for `.dive-ci` in the current directory when it exists.
    Every problem raises UsageError with one line naming the file or flag.
    """
    path, source, from_file = rules_file(ci_config, ALL_RULES)
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
    return RuleConfig(MappingProxyType(thresholds), source)


def rules_file(
    ci_config: str | None, names: Sequence[str]
) -> tuple[Path | None, str, dict[str, tuple[str, object]]]:
    """The rules file (`--ci-config`, else `.dive-ci` when it exists): its path, how a
    report names it, and the values it sets for the rules in `names` (canonical name ->
    (spelling used, value)); keys for other rules are ignored."""
    path, source = _config_path(ci_config)
    return path, source, _read_rules(path, names) if path is not None else {}


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


def _read_rules(path: Path, names: Sequence[str]) -> dict[str, tuple[str, object]]:
    """The rule values a rules file sets: canonical rule name -> (spelling used, value)."""
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


def _threshold(rule: str, raw: object, origin: str) -> float | None:
    """One rule value (a flag string or a YAML scalar) as a threshold; None = disabled."""
    if raw is None or raw is False:
        return None
    if isinstance(raw, str) and raw.strip().lower() in DISABLED_WORDS:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise UsageError(f"{origin}: expected a value or 'disabled', got {raw!r}")
    if rule in BYTE_RULES:
        try:
            return float(parse_bytes(str(raw)))
        except ValueError:
            raise UsageError(
                f"{origin}: {raw!r} is not a byte size (e.g. 20MB, 50kB, 1.5MiB, 1024)"
            ) from None
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
class Verdict:
    results: tuple[RuleResult, ...]
    source: str = ""  # RuleConfig.source, for reports

    @property
    def passed(self) -> bool:
        return all(r.status is not Status.FAIL for r in self.results)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.status is Status.FAIL)


def evaluate(
    config: RuleConfig, exact: ExactWaste, dive: DiveNumbers, shared: Sharing | None = None
) -> Verdict:
    """Every rule, in ALL_RULES order, against dive's numbers or the exact ones.

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
    return Verdict(results, config.source)


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
