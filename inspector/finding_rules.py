"""CI rules on findings: the severity that fails the build, and what each finding may do.

In CI mode every finding is judged: one whose severity reaches `failOn` (default `error`,
so a readable secret fails the build) fails it; the others are reported and pass. Before
that, the configuration can

* turn a finding off (`enabled: false`, `--disable-finding ID`),
* drop it below a size (`minBytes: 10MB`, `--finding-min-bytes ID:SIZE`),
* change its severity (`severity: warning`, `--finding-severity ID:SEVERITY`),
* allow paths kept on purpose (`allow: [{id, path}]`, `--allow ID:GLOB`): they leave the
  finding, and a finding whose every path is allowed is dropped.

The keys sit at the top level of the rules file, beside dive's `rules:` (which dive reads
and which ignores them); flags win over the file. Every problem is a `UsageError` naming
the key or flag. Pure: no I/O.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from inspector.bytesize import parse_bytes
from inspector.errors import UsageError
from inspector.findings import DETECTORS
from inspector.findings.model import Finding, Severity
from inspector.formatting import size

FINDING_IDS: tuple[str, ...] = tuple(sorted(detector.ID for detector in DETECTORS))
ANY = "*"
"""An `allow` entry's id that allows the path for every finding."""
FAIL_ON_WORDS = ("info", "warning", "error", "none")
DEFAULT_FAIL_ON = Severity.ERROR
_SEVERITIES = {severity.value: severity for severity in Severity}
_SETTING_KEYS = {
    "enabled": "enabled",
    "minBytes": "minBytes",
    "min-bytes": "minBytes",
    "severity": "severity",
}


@dataclass(frozen=True, slots=True)
class Setting:
    """What the configuration says about one finding id."""

    enabled: bool = True
    min_bytes: int = 0
    severity: Severity | None = None  # None: the detector's own


@dataclass(frozen=True, slots=True)
class Allowance:
    """Paths of a finding kept on purpose: `glob` matches a path or one of its parent
    directories (fnmatch: `*` also matches `/`), without a leading `/`."""

    finding: str  # a finding id, or ANY
    glob: str

    def allows(self, finding: str, path: str) -> bool:
        if self.finding not in (ANY, finding):
            return False
        path = path.lstrip("/")
        while path:
            if fnmatch.fnmatchcase(path, self.glob):
                return True
            path = posixpath.dirname(path)
        return False


@dataclass(frozen=True, slots=True)
class Suppressed:
    """A finding the configuration dropped, and why."""

    finding: Finding
    reason: str


@dataclass(frozen=True, slots=True)
class FindingRules:
    """The finding rules in force. `fail_on` None: no finding fails the build."""

    fail_on: Severity | None = DEFAULT_FAIL_ON
    settings: Mapping[str, Setting] = field(default_factory=lambda: MappingProxyType({}))
    allowed: tuple[Allowance, ...] = ()

    def setting(self, finding: str) -> Setting:
        return self.settings.get(finding, Setting())

    def fails(self, finding: Finding) -> bool:
        return self.fail_on is not None and finding.severity.rank >= self.fail_on.rank

    def apply(
        self, findings: Iterable[Finding]
    ) -> tuple[tuple[Finding, ...], tuple[Suppressed, ...]]:
        """The findings as the configuration leaves them (most severe, then largest
        first, as `detect_all` sorts), and the ones it dropped."""
        kept: list[Finding] = []
        dropped: list[Suppressed] = []
        for finding in findings:
            setting = self.setting(finding.id)
            if not setting.enabled:
                dropped.append(Suppressed(finding, "disabled"))
                continue
            allowed = [p for p in finding.paths if self._allowed(finding.id, p.path)]
            if allowed:
                left = tuple(p for p in finding.paths if p not in allowed)
                count = finding.path_count - len(allowed)  # paths not shown stay
                if count <= 0:
                    dropped.append(Suppressed(finding, "every path allowed"))
                    continue
                finding = replace(
                    finding,
                    paths=left,
                    path_count=count,
                    bytes=max(0, finding.bytes - sum(p.bytes for p in allowed)),
                )
            if finding.bytes < setting.min_bytes:
                dropped.append(Suppressed(finding, f"below minBytes ({size(setting.min_bytes)})"))
                continue
            if setting.severity is not None:
                finding = replace(finding, severity=setting.severity)
            kept.append(finding)
        kept.sort(key=lambda f: (-f.severity.rank, -f.bytes, f.id, f.title))
        return tuple(kept), tuple(dropped)

    def _allowed(self, finding: str, path: str) -> bool:
        return any(allowance.allows(finding, path) for allowance in self.allowed)


# ----------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class Flags:
    """The command line's finding rules (each repeatable flag as given, `ID:VALUE`)."""

    fail_on: str | None = None
    disable: tuple[str, ...] = ()
    enable: tuple[str, ...] = ()
    min_bytes: tuple[str, ...] = ()
    severity: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()


def load(document: Mapping[str, object], origin: str, flags: Flags) -> FindingRules:
    """The finding rules from a rules file's top-level mapping (`origin` names the file in
    errors), then the flags over it."""
    fail_on: Severity | None = DEFAULT_FAIL_ON
    for key in ("failOn", "fail-on"):
        if key in document:
            fail_on = fail_on_value(document[key], f"{origin}: {key}")
            break
    rules = document.get("rules")
    if isinstance(rules, dict) and ({"failOn", "fail-on"} & rules.keys()):
        raise UsageError(f"{origin}: failOn belongs at the top level, beside rules:")
    settings = _settings(document.get("findings"), origin)
    allowed = list(_allowances(document.get("allow"), origin))

    if flags.fail_on is not None:
        fail_on = fail_on_value(flags.fail_on, "--fail-on")
    both = set(flags.disable) & set(flags.enable)
    if both:
        raise UsageError(f"--disable-finding and --enable-finding both name {sorted(both)[0]}")
    for flag, names, enabled in (
        ("--disable-finding", flags.disable, False),
        ("--enable-finding", flags.enable, True),
    ):
        for name in names:
            finding = _known(name.strip(), f"{flag} {name}")
            settings[finding] = replace(settings.get(finding, Setting()), enabled=enabled)
    for flag, texts, key in (
        ("--finding-min-bytes", flags.min_bytes, "minBytes"),
        ("--finding-severity", flags.severity, "severity"),
    ):
        for text in texts:
            origin = f"{flag} {text}"
            finding, value = _pair(text, origin, "ID:SIZE" if key == "minBytes" else "ID:SEVERITY")
            settings[finding] = _set(settings.get(finding, Setting()), key, value, origin)
    for text in flags.allow:
        finding, glob = _pair(text, f"--allow {text}", "ID:GLOB", any_id=True)
        allowed.append(_allowance(finding, glob, f"--allow {text}"))
    return FindingRules(fail_on, MappingProxyType(settings), tuple(allowed))


def fail_on_value(raw: object, origin: str) -> Severity | None:
    """`info`, `warning`, `error` or `none` (any case; YAML's `off`/`no`/`false`: none)."""
    if raw is False:
        return None
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word == "none":
            return None
        if word in _SEVERITIES:
            return _SEVERITIES[word]
    raise UsageError(f"{origin}: {raw!r} is not a severity (use info, warning, error or none)")


def _known(finding: str, origin: str, *, any_id: bool = False) -> str:
    if finding in FINDING_IDS or (any_id and finding == ANY):
        return finding
    raise UsageError(f"{origin}: unknown finding {finding!r} (known: {', '.join(FINDING_IDS)})")


def _pair(text: str, origin: str, form: str, *, any_id: bool = False) -> tuple[str, str]:
    finding, colon, value = text.partition(":")
    if not colon or not value.strip():
        raise UsageError(f"{origin}: expected {form}")
    return _known(finding.strip(), origin, any_id=any_id), value.strip()


def _settings(raw: object, origin: str) -> dict[str, Setting]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UsageError(f"{origin}: `findings` must map finding ids to their settings")
    settings: dict[str, Setting] = {}
    for finding, values in raw.items():
        where = f"{origin}: findings.{finding}"
        _known(str(finding), where)
        if not isinstance(values, dict):
            raise UsageError(f"{where}: expected a mapping (enabled, minBytes, severity)")
        setting = Setting()
        for key, value in values.items():
            canonical = _SETTING_KEYS.get(str(key))
            if canonical is None:
                raise UsageError(
                    f"{where}: unknown key {key!r} (known: enabled, minBytes, severity)"
                )
            setting = _set(setting, canonical, value, f"{where}.{key}")
        settings[str(finding)] = setting
    return settings


def _set(setting: Setting, key: str, value: object, origin: str) -> Setting:
    if key == "enabled":
        if not isinstance(value, bool):
            raise UsageError(f"{origin}: expected true or false, got {value!r}")
        return replace(setting, enabled=value)
    if key == "minBytes":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise UsageError(f"{origin}: expected a byte size (e.g. 10MB), got {value!r}")
        try:
            return replace(setting, min_bytes=parse_bytes(str(value)))
        except ValueError:
            raise UsageError(
                f"{origin}: {value!r} is not a byte size (e.g. 10MB, 50kB, 1.5MiB, 1024)"
            ) from None
    word = value.strip().lower() if isinstance(value, str) else None
    if word not in _SEVERITIES:
        raise UsageError(f"{origin}: {value!r} is not a severity (use info, warning or error)")
    return replace(setting, severity=_SEVERITIES[word])


def _allowances(raw: object, origin: str) -> Iterable[Allowance]:
    if raw is None:
        return
    if not isinstance(raw, list):
        raise UsageError(f"{origin}: `allow` must be a list of {{id, path}} entries")
    for number, entry in enumerate(raw, 1):
        where = f"{origin}: allow entry {number}"
        if not isinstance(entry, dict) or set(entry) != {"id", "path"}:
            raise UsageError(f"{where}: expected exactly the keys id and path")
        finding, glob = entry["id"], entry["path"]
        if not isinstance(finding, str) or not isinstance(glob, str):
            raise UsageError(f"{where}: id and path must be strings")
        yield _allowance(_known(finding, where, any_id=True), glob, where)


def _allowance(finding: str, glob: str, origin: str) -> Allowance:
    pattern = glob.strip().lstrip("/")
    if not pattern:
        raise UsageError(f"{origin}: the path glob is empty")
    return Allowance(finding, pattern)
