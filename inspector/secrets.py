"""Secrets: find credentials in file contents and config text, and hide their values.

A secret's value is never kept: a `SecretHit` holds its kind, where it is, its length and
a fingerprint (a prefix of its sha256), enough to tell two hits apart and to match a
rotated key, not to recover it. `redact` is the one place that hides values in text a
person or a report reads (ENV values, labels, layer commands).

What is scanned, within a bounded budget (the indexer calls `wants` per regular file, and
`scan` with the content of those it wants, while the layer streams):

* files whose name says credentials (`.npmrc`, `.pypirc`, `.docker/config.json`,
  `.git-credentials`, `.netrc`, `.aws/credentials`, SSH and TLS private keys, `.env`
  files), up to 1 MiB each;
* small configuration files (`.json`, `.yaml`, `.toml`, `.ini`, `.conf`…, at most 16 kB)
  outside libraries (`node_modules/`, `site-packages/`, `/usr/lib`, `/usr/share`), up
  to 4 MiB per layer.

What is found: PEM private keys, AWS access key pairs, GCP service-account keys, npm,
PyPI, registry (`auths`), git and netrc credentials, well-known token formats (GitHub,
GitLab, Slack, Stripe, Google API keys) and secret-looking keys in `.env` files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from inspector.model import HistoryEntry, Image

MAX_NAMED_BYTES = 1 << 20
"""The most of a file named like credentials that is scanned."""
MAX_SMALL_BYTES = 16_000
"""A text file up to this size is scanned whatever its name."""
SMALL_BUDGET = 4 << 20
"""Bytes of small text files scanned per layer, at most."""

_NAMED = frozenset(
    {".npmrc", ".pypirc", ".git-credentials", ".netrc", "_netrc", "id_rsa", "id_dsa",
     "id_ecdsa", "id_ed25519", ".env", "credentials.json", "service-account.json"}
)  # fmt: skip
_NAMED_SUFFIXES = (".pem", ".key", ".env")
_TEXT_SUFFIXES = (
    ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".conf", ".properties", ".tfvars",
)  # fmt: skip
# where small text files are a library's own (package.json by the thousand): not scanned
# unless named like credentials
_LIBRARIES = ("node_modules/", "site-packages/", "dist-packages/", "usr/share/", "usr/lib/")
# a file holds a secret only if it holds one of these (bytes.find runs at memory speed; a
# regex with as many alternatives ran at a few MB/s); case variants spelled out
_MARKERS = (
    b"PRIVATE KEY", b"AKIA", b"ASIA", b"aws_secret", b"private_key", b"_authToken",
    b'"auth"', b"assword", b"ASSWORD", b"asswd", b"ASSWD", b"ghp_", b"gho_", b"ghu_",
    b"ghs_", b"ghr_", b"github_pat_", b"glpat-", b"xox", b"sk_live_", b"AIza", b"://",
    b"SECRET", b"Secret", b"secret", b"TOKEN", b"Token", b"token", b"API_KEY", b"api_key",
    b"ApiKey", b"apiKey", b"ACCESS_KEY", b"access_key", b"CREDENTIAL", b"credential",
    b"AUTH",
)  # fmt: skip


def _may_hold(raw: bytes) -> bool:
    """False when `raw` cannot hold a secret any pattern below finds."""
    return any(marker in raw for marker in _MARKERS)


@dataclass(frozen=True, slots=True)
class SecretHit:
    """One secret: its kind, where it is (path and 1-based line, or a config field), and a
    fingerprint of its value (never the value)."""

    kind: str
    path: str
    line: int
    length: int
    fingerprint: str

    @property
    def shown(self) -> str:
        """`<kind: 40 chars, sha256:1a2b3c4d>`: what reports show instead of the value."""
        return f"<{self.kind}: {self.length} chars, sha256:{self.fingerprint}>"


def fingerprint(value: str | bytes) -> str:
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()[:8]


def is_named(path: str) -> bool:
    """True for a file whose name says it holds credentials."""
    base = path.rpartition("/")[2]
    if base in _NAMED or base.startswith(".env.") or base.endswith(_NAMED_SUFFIXES):
        return True
    return path.endswith((".docker/config.json", ".aws/credentials"))


def wants(path: str, size: int) -> int:
    """How many bytes of this regular file to scan: 0 for none."""
    if not size:
        return 0
    if is_named(path):
        return min(size, MAX_NAMED_BYTES)
    if size <= MAX_SMALL_BYTES and path.endswith(_TEXT_SUFFIXES) and not _in_library(path):
        return size
    return 0


def _in_library(path: str) -> bool:
    return any(part in path for part in _LIBRARIES)


CANDIDATE_SUFFIXES = tuple(
    dict.fromkeys(
        suffix
        for suffix in (*_NAMED, *_NAMED_SUFFIXES, *_TEXT_SUFFIXES, "credentials")
        if suffix not in (".git-credentials", "credentials.json", "service-account.json")
    )
)
"""Every path `wants` can say yes to ends with one of these or holds `CANDIDATE_INFIX`: a
C-speed first test, which the indexer's header walk applies before it asks `wanted`.
(Names that end with another of them are left out: `.git-credentials`, `credentials.json`…)"""
CANDIDATE_INFIX = ".env."
"""`.env.production` and the like end with anything."""


class LayerScanner:
    """One layer's content checks, called by the indexer while the layer streams: which
    files to read (`wanted`), within the layer's budget for small text files, and the
    hits (`hits`, the layer index's `secrets`)."""

    __slots__ = ("budget", "hits")

    def __init__(self) -> None:
        self.budget = SMALL_BUDGET
        self.hits: list[SecretHit] = []

    def wanted(self, path: str, size: int) -> int:
        """Bytes of this regular file to pass to `check` (0: none): `wants`, and a small
        text file only while the layer's budget lasts."""
        if not size or not (path.endswith(CANDIDATE_SUFFIXES) or CANDIDATE_INFIX in path):
            return 0
        if is_named(path):
            return min(size, MAX_NAMED_BYTES)
        if (
            size <= MAX_SMALL_BYTES
            and size <= self.budget
            and path.endswith(_TEXT_SUFFIXES)
            and not _in_library(path)
        ):
            self.budget -= size
            return size
        return 0

    def check(self, path: str, head: bytes | memoryview) -> None:
        self.hits.extend(scan(path, head))


# (kind, pattern, needles): the value is the group named `value`, else the whole match. A
# pattern can match only text that holds one of its needles (a bytes.find at memory speed):
# the pattern runs only then
_PATTERNS: tuple[tuple[str, re.Pattern[bytes], tuple[bytes, ...]], ...] = tuple(
    (kind, re.compile(pattern), needles)
    for kind, pattern, needles in (
        ("private-key", rb"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY(?: BLOCK)?-----"
                        rb"(?P<value>[\s\S]{16,8192}?)-----END", (b"PRIVATE KEY",)),
        ("aws-access-key-id", rb"(?<![A-Z0-9])(?P<value>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Z0-9])",
         (b"AKIA", b"ASIA")),
        ("aws-secret-access-key", rb"aws_secret_access_key\s*[=:]\s*(?P<value>[A-Za-z0-9/+=]{40})",
         (b"aws_secret_access_key",)),
        ("gcp-service-account-key", rb"\"private_key\"\s*:\s*\"(?P<value>-----BEGIN[^\"]{32,})\"",
         (b'"private_key"',)),
        ("npm-token", rb"_authToken\s*=\s*(?P<value>[^\s\"']{8,})", (b"_authToken",)),
        ("registry-auth", rb"\"auth\"\s*:\s*\"(?P<value>[A-Za-z0-9+/=]{8,})\"", (b'"auth"',)),
        ("url-credentials", rb"\b[a-z][a-z0-9+.-]*://[^\s:@/\"']+:(?P<value>[^\s@/\"']{3,})@",
         (b"://",)),
        ("github-token", rb"\b(?P<value>gh[pousr]_[A-Za-z0-9]{36,255}"
                         rb"|github_pat_[A-Za-z0-9_]{22,255})",
         (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_")),
        ("gitlab-token", rb"\b(?P<value>glpat-[A-Za-z0-9_-]{20,})", (b"glpat-",)),
        ("slack-token", rb"\b(?P<value>xox[abprs]-[A-Za-z0-9-]{10,})",
         (b"xoxa-", b"xoxb-", b"xoxp-", b"xoxr-", b"xoxs-")),
        ("stripe-key", rb"\b(?P<value>sk_live_[0-9A-Za-z]{24,})", (b"sk_live_",)),
        ("google-api-key", rb"\b(?P<value>AIza[0-9A-Za-z_-]{35})", (b"AIza",)),
    )
)  # fmt: skip
_PASSWORD_FIELD = re.compile(
    rb"(?im)^[ \t]*(?:password|passwd)[ \t]*[=:]?[ \t]*(?P<value>\S{3,})[ \t]*\r?$"
)
_NETRC = re.compile(rb"\bpassword\s+(?P<value>\S+)")
# a key that names where a secret is, or something about it, not the secret itself
_NOT_SECRET_KEY = re.compile(
    r"(?i)_(?:FILE|PATH|DIR|URL|URI|HOST|PORT|NAME|USER|USERNAME|TYPE|MODE|ENABLED|HEADER)$"
)
_NOT_VALUES = frozenset({"true", "false", "yes", "no", "none", "null", "0", "1"})
_SECRET_KEY = re.compile(
    r"(?i)(?:^|_)(?:SECRET|TOKEN|PASSWORD|PASSWD|PASS|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|"
    r"CREDENTIALS?|AUTH)(?:$|_)"
)
_ASSIGNMENT = re.compile(
    rb"(?m)^[ \t]*(?:export[ \t]+)?(?P<key>[A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*"
    rb"(?P<value>[^\n]*?)[ \t]*\r?$"
)


def scan(path: str, data: bytes | memoryview) -> list[SecretHit]:
    """The secrets in one file's content (the first bytes `wants` asked for).

    Only text that holds one of `_MARKERS` can hold a secret (`_may_hold`). A pattern
    runs only when one of its needles is in the text, and every needle holds a marker, so
    that test is enough; the per-name patterns (password fields, `.netrc`, `.env` keys)
    can match where no needle is, and ask `_may_hold`.
    """
    raw = bytes(data)
    hits: dict[tuple[int, int], SecretHit] = {}
    for kind, pattern, needles in _PATTERNS:
        for needle in needles:
            if needle in raw:
                for match in pattern.finditer(raw):
                    _keep(hits, kind, path, raw, match)
                break
    base = path.rpartition("/")[2]
    # a password field's name in any case (as `(?i)` compares: ASCII letters), then a marker
    if (
        (base in (".pypirc",) or base.endswith((".ini", ".cfg", ".conf", ".properties")))
        and b"passw" in raw.lower()
        and _may_hold(raw)
    ):
        for match in _PASSWORD_FIELD.finditer(raw):
            _keep(hits, "password", path, raw, match)
    if base in (".netrc", "_netrc") and b"password" in raw:  # (a marker: `assword`)
        for match in _NETRC.finditer(raw):
            _keep(hits, "netrc-password", path, raw, match)
    if (base == ".env" or base.startswith(".env.") or base.endswith(".env")) and _may_hold(raw):
        for match in _ASSIGNMENT.finditer(raw):
            key = match.group("key").decode("utf-8", "replace")
            value = match.group("value").decode("utf-8", "surrogateescape")
            if secret_assignment(key, value):
                _keep(hits, "env-secret", path, raw, match)
    return sorted(hits.values(), key=lambda hit: (hit.line, hit.kind))


def _keep(
    hits: dict[tuple[int, int], SecretHit], kind: str, path: str, raw: bytes, match: re.Match[bytes]
) -> None:
    start, end = match.span("value")
    value = raw[start:end].strip(b"\"'")
    if not value:
        return
    if any(first <= start and end <= last for first, last in hits):
        return  # inside a secret already found (an AWS key id in a PEM body…)
    line = raw.count(b"\n", 0, start) + 1
    hits[start, end] = SecretHit(kind, path, line, len(value), fingerprint(value))


def config_secrets(fields: Iterator[tuple[str, str]]) -> Iterator[tuple[str, SecretHit]]:
    """Secrets in config text: (where, text) pairs such as ("ENV", "TOKEN=…"), ("LABEL
    x", "…"), ("history 3", "RUN …"). Yields (where, hit) with the hit's path = where."""
    for where, text in fields:
        for hit in _text_hits(where, text):
            yield where, hit


def _text_hits(where: str, text: str) -> list[SecretHit]:
    raw = text.encode("utf-8", "surrogateescape")
    found = {(hit.length, hit.fingerprint): hit for hit in scan(where, raw)}
    for key, value in _assignments(text):
        if secret_assignment(key, value):
            hit = SecretHit("secret-variable", where, 1, len(value), fingerprint(value))
            found.setdefault((hit.length, hit.fingerprint), hit)
    return list(found.values())


_TEXT_ASSIGNMENT = re.compile(
    r"(?<![\w.-])(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<value>\"[^\"]*\"|'[^']*'|\S+)"
)


def secret_assignment(key: str, value: str) -> bool:
    """True when `KEY=VALUE` looks like a secret: a secret-sounding key (`DB_PASSWORD`,
    `com.example.api-token`) with a literal value (not empty, not `$VARIABLE`)."""
    value = value.strip("\"'")
    if not value or value.startswith("$") or value.lower() in _NOT_VALUES:
        return False
    key = re.sub(r"[.-]", "_", key)
    return _SECRET_KEY.search(key) is not None and _NOT_SECRET_KEY.search(key) is None


def _assignments(text: str) -> Iterator[tuple[str, str]]:
    for match in _TEXT_ASSIGNMENT.finditer(text):
        yield match.group("key"), match.group("value").strip("\"'")


def redact(text: str) -> str:
    """`text` with every secret value replaced by its `SecretHit.shown` form.

    For ENV values, labels and layer commands, in the text report, the JSON and the UI.
    """
    if not text:
        return text
    raw = text.encode("utf-8", "surrogateescape")
    spans: list[tuple[int, int, str]] = []
    if _may_hold(raw):
        for kind, pattern, needles in _PATTERNS:
            if not any(needle in raw for needle in needles):
                continue
            for match in pattern.finditer(raw):
                start, end = match.span("value")
                spans.append((start, end, _shown(kind, raw[start:end])))
    for assigned in _TEXT_ASSIGNMENT.finditer(text):
        value = assigned.group("value").strip("\"'")
        if secret_assignment(assigned.group("key"), value):
            start = len(text[: assigned.start("value")].encode("utf-8", "surrogateescape"))
            end = len(text[: assigned.end("value")].encode("utf-8", "surrogateescape"))
            spans.append(
                (start, end, _shown("secret-variable", value.encode("utf-8", "surrogateescape")))
            )
    if not spans:
        return text
    out: list[bytes] = []
    pos = 0
    for start, end, shown in sorted(spans):
        if start < pos:
            continue  # overlaps one already hidden
        out += [raw[pos:start], shown.encode()]
        pos = end
    out.append(raw[pos:])
    return b"".join(out).decode("utf-8", "surrogateescape")


def _shown(kind: str, value: bytes) -> str:
    value = value.strip(b"\"'")
    return f"<{kind}: {len(value)} chars, sha256:{fingerprint(value)}>"


def redact_image(image: Image) -> Image:
    """`image` with every secret value in its config text hidden (`redact`): ENV values,
    labels, and the history's commands, the whole history as each layer's own entry.

    The pipeline calls it once the findings are made, so every front end (text, JSON, CI
    reports, the UI) shows the same hidden values and none can forget to.
    """
    config = image.config
    clean_config = replace(
        config,
        env=tuple(redact(value) for value in config.env),
        labels=tuple(
            (key, redact(f"{key}={value}").split("=", 1)[1]) for key, value in config.labels
        ),
    )
    entries: dict[int, HistoryEntry] = {}

    def hidden(entry: HistoryEntry) -> HistoryEntry:
        known = entries.get(id(entry))
        if known is None:
            known = replace(entry, created_by=redact(entry.created_by))
            entries[id(entry)] = known
        return known

    history = tuple(hidden(entry) for entry in image.history)
    layers = tuple(
        replace(info, history=hidden(info.history)) if info.history is not None else info
        for info in image.layers
    )
    return replace(image, config=clean_config, history=history, layers=layers)


def _label(key: str, value: str) -> str:
    if secret_assignment(key, value):
        return _shown("secret-variable", value.encode("utf-8", "surrogateescape"))
    return redact(value)
