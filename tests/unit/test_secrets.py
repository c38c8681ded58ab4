"""Secrets are found by kind, located by line, fingerprinted, and their values never kept."""

from __future__ import annotations

import pytest

from inspector import secrets

# built from parts so that no scanner flags this file itself
GITHUB = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
PEM_BODY = "MIIEowIBAAKCAQEA" + "x" * 120
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----\n"
NPM = "npm_" + "abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.mark.parametrize(
    ("path", "text", "kind", "value"),
    [
        ("root/.ssh/id_rsa", PEM, "private-key", f"\n{PEM_BODY}\n"),
        (
            "root/.aws/credentials",
            f"[default]\naws_access_key_id = {AWS_ID}\n",
            "aws-access-key-id",
            AWS_ID,
        ),
        (
            "root/.aws/credentials",
            f"[x]\naws_secret_access_key = {AWS_SECRET}\n",
            "aws-secret-access-key",
            AWS_SECRET,
        ),
        ("app/.npmrc", f"//registry.npmjs.org/:_authToken={NPM}\n", "npm-token", NPM),
        (
            "root/.docker/config.json",
            '{"auths": {"r.io": {"auth": "dXNlcjpzM2NyM3Q="}}}',
            "registry-auth",
            "dXNlcjpzM2NyM3Q=",
        ),
        (
            "root/.git-credentials",
            "https://bob:hunter2hunter2@github.com\n",
            "url-credentials",
            "hunter2hunter2",
        ),
        ("app/settings.yaml", f"token: {GITHUB}\n", "github-token", GITHUB),
        (
            "root/.netrc",
            "machine x login bob password s3cr3tpass\n",
            "netrc-password",
            "s3cr3tpass",
        ),
        ("app/.env", "DEBUG=1\nDB_PASSWORD=correct-horse\n", "env-secret", "correct-horse"),
        (
            "root/.pypirc",
            "[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmc\n",
            "password",
            "pypi-AgEIcHlwaS5vcmc",
        ),
    ],
)
def test_each_kind_is_found_with_its_line_and_fingerprint(
    path: str, text: str, kind: str, value: str
) -> None:
    assert secrets.wants(path, len(text)) == len(text)
    hits = secrets.scan(path, text.encode())
    assert [hit.kind for hit in hits] == [kind]
    (hit,) = hits
    assert hit.length == len(value.strip("\"'"))
    assert hit.fingerprint == secrets.fingerprint(value.strip("\"'"))
    assert hit.line == text[: text.index(value)].count("\n") + 1
    assert value.strip() not in repr(hit)
    assert value.strip() not in hit.shown


def test_quiet_on_clean_files() -> None:
    assert secrets.scan("app/.env", b"DEBUG=1\nPORT=8080\nTOKEN_URL=\nPASSWORD=$FROM_VAULT\n") == []
    assert secrets.scan("etc/app.conf", b"password_file = /run/secrets/db\n") == []
    assert secrets.scan("app/config.json", b'{"auth": "none"}') == []


def test_what_is_scanned() -> None:
    assert secrets.wants("app/.env.production", 10) == 10
    assert secrets.wants("etc/ssl/private/server.key", 5 << 20) == secrets.MAX_NAMED_BYTES
    assert secrets.wants("app/settings.yaml", 100) == 100
    assert secrets.wants("app/big.json", secrets.MAX_SMALL_BYTES + 1) == 0
    assert secrets.wants("usr/bin/python3", 100) == 0
    assert secrets.wants("app/.env", 0) == 0


def test_the_layer_scanner_reads_every_file_wants_reads() -> None:
    """`LayerScanner.wanted`'s quick suffix test must not drop what `wants` accepts: a
    `.env.<stage>` file ends with anything."""
    paths = ("app/.env.production", ".env.local", "srv/.env", "home/u/.netrc",
             "etc/ssl/private/server.key", "app/settings.yaml", "usr/bin/python3")  # fmt: skip
    for path in paths:
        assert secrets.LayerScanner().wanted(path, 10) == secrets.wants(path, 10), path
    scanner = secrets.LayerScanner()
    head = f"GITHUB_TOKEN={GITHUB}\n".encode()
    scanner.check("app/.env.production", head[: scanner.wanted("app/.env.production", len(head))])
    assert [hit.path for hit in scanner.hits] == ["app/.env.production"]


def test_redact_takes_values_that_are_not_utf8() -> None:
    """A config value read with surrogateescape (bytes that are not UTF-8) is hidden,
    not a crash."""
    value = "API_TOKEN=\udcff" + "s3cr3tV4lu3x9" * 3
    shown = secrets.redact(value)
    assert "s3cr3tV4lu3x9" not in shown
    assert shown.startswith("API_TOKEN=<")


def test_redact_hides_values_in_config_text_and_commands() -> None:
    env = f"GITHUB_TOKEN={GITHUB}"
    shown = secrets.redact(env)
    assert GITHUB not in shown
    assert shown.startswith("GITHUB_TOKEN=<")
    command = f"RUN |1 NPM_TOKEN={NPM} /bin/sh -c npm ci"
    assert NPM not in secrets.redact(command)
    assert secrets.redact("PATH=/usr/bin:/bin") == "PATH=/usr/bin:/bin"
    assert secrets.redact("RUN apt-get install -y curl") == "RUN apt-get install -y curl"
    label = f"aws_secret_access_key={AWS_SECRET}"
    assert AWS_SECRET not in secrets.redact(label)


def test_config_secrets_name_where_they_are() -> None:
    found = list(
        secrets.config_secrets(iter([("ENV", f"API_KEY={GITHUB}"), ("ENV", "HOME=/root")]))
    )
    assert [(where, hit.path) for where, hit in found] == [("ENV", "ENV")]
    assert all(GITHUB not in repr(hit) for _, hit in found)
