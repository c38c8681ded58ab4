"""Authentication against real registries: credentials from every place, clear refusals,
and secrets that never show up in errors, warnings or logs."""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from inspector.errors import AuthenticationError, InspectorError, UsageError
from inspector.source import LoadedImage, LoadEvents
from inspector.sources.registry import RegistrySource
from registry import servers
from registry.conftest import Sample, TokenRegistry
from registry.servers import PASSWORD, USER, RegistryServer

CREDS = f"{USER}:{PASSWORD}"
WRONG = "not-the-Passw0rd"


def pull(reference: str, **kwargs: Any) -> LoadedImage:
    return RegistrySource(reference, f"docker://{reference}", **kwargs).load(LoadEvents())


def refused(reference: str, **kwargs: Any) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        pull(reference, **kwargs)
    return caught.value


def auth_entry(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def write_json(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def basic_ref(basic_registry: RegistryServer, samples: dict[str, Sample]) -> str:
    return basic_registry.push(samples["gzip"].oci, "private/app:1")


@pytest.fixture
def token_ref(token_registry: TokenRegistry, samples: dict[str, Sample]) -> str:
    return token_registry.registry.push(samples["gzip"].oci, "private/app:1")


# ----------------------------------------------------------------------- refusals


def test_basic_wrong_password(basic_ref: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    error = refused(basic_ref, creds=f"{USER}:{WRONG}")
    assert error.exit_code == 2
    assert "wrong user name or password" in str(error)
    assert "--creds" in str(error)  # where the credential came from
    assert WRONG not in str(error)
    assert WRONG not in caplog.text
    assert WRONG not in repr(error.args)


def test_basic_without_credentials(basic_ref: str) -> None:
    error = refused(basic_ref)
    assert "requires a user name and password" in str(error)
    assert "--creds" in str(error)


def test_token_wrong_password(token_ref: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    error = refused(token_ref, creds=f"{USER}:{WRONG}")
    assert error.exit_code == 2
    assert "rejected the credentials" in str(error)
    assert WRONG not in str(error)
    assert WRONG not in caplog.text


def test_token_anonymous_on_a_private_repository(token_ref: str) -> None:
    error = refused(token_ref)
    assert "access to private/app denied" in str(error)
    assert "needs credentials" in str(error)


def test_secrets_stay_out_of_logs_and_results(
    token_ref: str, basic_ref: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for ref in (token_ref, basic_ref):
        loaded = pull(ref, creds=CREDS)
        text = repr(loaded) + caplog.text
        assert PASSWORD not in text
        assert base64.b64encode(CREDS.encode()).decode() not in text
    assert "account=" not in caplog.text  # not even the user name in a token URL


def test_bad_creds_syntax_is_not_echoed() -> None:
    with pytest.raises(UsageError) as caught:
        pull("127.0.0.1:9/x:1", creds="no-colon-secret")
    assert "no-colon-secret" not in str(caught.value)


# ------------------------------------------------------------- where creds come from


def test_environment_variable(basic_ref: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INSPECTOR_REGISTRY_CREDS", CREDS)
    assert pull(basic_ref).layers


def test_creds_flag_wins_over_the_environment(
    basic_ref: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INSPECTOR_REGISTRY_CREDS", f"{USER}:{WRONG}")
    assert pull(basic_ref, creds=CREDS).layers


def test_docker_config_auths(
    basic_ref: str, basic_registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "docker"
    write_json(config / "config.json", {"auths": {basic_registry.host: auth_entry(USER, PASSWORD)}})
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    assert pull(basic_ref).layers
    write_json(config / "config.json", {"auths": {basic_registry.host: auth_entry(USER, WRONG)}})
    error = refused(basic_ref)
    assert str(config / "config.json") in str(error)
    assert WRONG not in str(error)


def test_default_docker_config_with_a_url_key(
    basic_ref: str, basic_registry: RegistryServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path(os.environ["HOME"])
    key = f"http://{basic_registry.host}/v2/"
    write_json(home / ".docker" / "config.json", {"auths": {key: auth_entry(USER, PASSWORD)}})
    assert pull(basic_ref).layers


def test_podman_auth_file(
    basic_ref: str, basic_registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_json(
        tmp_path / "auth.json",
        {
            "auths": {
                basic_registry.host: auth_entry(USER, WRONG),
                # a namespace key: the longest match wins
                f"{basic_registry.host}/private": auth_entry(USER, PASSWORD),
            }
        },
    )
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(path))
    assert pull(basic_ref).layers


def test_podman_runtime_auth_file(
    basic_ref: str, basic_registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = tmp_path / "run"
    write_json(
        runtime / "containers" / "auth.json",
        {"auths": {basic_registry.host: auth_entry(USER, PASSWORD)}},
    )
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert pull(basic_ref).layers


@pytest.mark.parametrize("key", ["credHelpers", "credsStore"])
def test_credential_helper(
    basic_ref: str,
    basic_registry: RegistryServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
) -> None:
    bin_dir = tmp_path / "bin"
    servers.credential_helper(bin_dir, "inspectortest", {basic_registry.host: (USER, PASSWORD)})
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    config = tmp_path / "docker"
    value: Any = {basic_registry.host: "inspectortest"} if key == "credHelpers" else "inspectortest"
    write_json(config / "config.json", {"auths": {basic_registry.host: {}}, key: value})
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    assert pull(basic_ref).layers
    log = (bin_dir / "inspectortest.log").read_text().split()
    assert log[:2] == ["get", basic_registry.host]


def test_missing_credential_helper_is_named_in_the_refusal(
    basic_ref: str, basic_registry: RegistryServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "docker"
    write_json(config / "config.json", {"credsStore": "does-not-exist"})
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    error = refused(basic_ref)
    assert "docker-credential-does-not-exist is not installed" in str(error)


def test_identity_token_from_docker_config(
    token_ref: str, token_registry: TokenRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docker login` against an OAuth2 token service leaves an identity token: it is
    exchanged with the refresh-token grant (POST), never sent to the registry itself."""
    registry, tokens = token_registry.registry, token_registry.tokens
    refresh = tokens.issue_refresh_token(USER)
    config = tmp_path / "docker"
    write_json(
        config / "config.json",
        {"auths": {registry.host: {"auth": "", "identitytoken": refresh}}},
    )
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    before = len(tokens.requests)
    assert pull(token_ref).layers
    asked = tokens.requests[before:]
    assert [(r.method, r.grant_type, r.user) for r in asked] == [("POST", "refresh_token", USER)]
    # An unknown refresh token is refused clearly.
    write_json(
        config / "config.json",
        {"auths": {registry.host: {"identitytoken": "revoked"}}},
    )
    error = refused(token_ref)
    assert "rejected the credentials" in str(error)
    assert "revoked" not in str(error)


def test_helper_identity_token(
    token_ref: str, token_registry: TokenRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, tokens = token_registry.registry, token_registry.tokens
    refresh = tokens.issue_refresh_token(USER)
    bin_dir = tmp_path / "bin"
    servers.credential_helper(bin_dir, "tokenhelper", {registry.host: ("<token>", refresh)})
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    config = write_json(tmp_path / "docker" / "config.json", {"credsStore": "tokenhelper"})
    monkeypatch.setenv("DOCKER_CONFIG", str(config.parent))
    before = len(tokens.requests)
    assert pull(token_ref).layers
    assert tokens.requests[before].grant_type == "refresh_token"


def test_errors_are_inspector_errors(basic_ref: str) -> None:
    """Everything a registry refusal raises is one line for the CLI, exit code 2."""
    with pytest.raises(InspectorError) as caught:
        pull(basic_ref, creds=f"{USER}:{WRONG}")
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2
