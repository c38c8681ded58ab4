"""Registry credentials: `--creds`, an environment variable, and the files docker and podman keep.

Where credentials are looked for, first match wins:

1. `--creds USER:PASSWORD` (the caller passes it in);
2. `INSPECTOR_REGISTRY_CREDS=USER:PASSWORD`;
3. the auth files, in containers-auth.json(5) order: `$REGISTRY_AUTH_FILE` alone when it
   is set; otherwise `$XDG_RUNTIME_DIR/containers/auth.json`,
   `$XDG_CONFIG_HOME/containers/auth.json` (default `~/.config`),
   `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`) and `~/.dockercfg`.

In one file: a `credHelpers` entry for the registry, then an `auths` entry (keys may be
URLs like `https://index.docker.io/v1/`, hosts, or podman's `host/namespace`, where the
longest match wins), then the default `credsStore`. Helpers are run with the
docker-credential-helpers protocol (`docker-credential-NAME get`, the server URL on
stdin, JSON on stdout).

Secrets never leave a `Credential`: its repr hides them, and notes and errors name only
where a credential came from.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspector.errors import UsageError
from inspector.registry.reference import DOCKER_HUB, DOCKER_HUB_AUTH_KEY, canonical_registry

ENV_CREDS = "INSPECTOR_REGISTRY_CREDS"
HELPER_TIMEOUT = 30.0
TOKEN_USER = "<token>"


@dataclass(frozen=True, slots=True)
class Credential:
    """A user name and password, or an identity (refresh) token, and where it came from."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    source: str = ""

    def __repr__(self) -> str:
        kind = "identity token" if self.identity_token else "password"
        return f"Credential(username=<hidden>, {kind}=<hidden>, source={self.source!r})"

    __str__ = __repr__

    @property
    def has_password(self) -> bool:
        return bool(self.username or self.password)

    def basic(self) -> str:
        """The value of an `Authorization: Basic …` header."""
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


def parse_user_password(text: str, source: str) -> Credential:
    """`USER:PASSWORD` → Credential. The text is never echoed back in errors."""
    username, sep, password = text.partition(":")
    if not sep or not username:
        raise UsageError(f"{source}: expected USER:PASSWORD")
    return Credential(username, password, source=source)


def server_key(registry: str) -> str:
    """The name a credential helper stores a registry's secret under."""
    return DOCKER_HUB_AUTH_KEY if canonical_registry(registry) == DOCKER_HUB else registry


def _key_parts(key: str) -> tuple[str, str]:
    """An `auths` key as (canonical registry, namespace path or "")."""
    key = key.strip()
    for scheme in ("https://", "http://"):
        if key.lower().startswith(scheme):
            key = key[len(scheme) :]
            # a URL: only the host counts (`https://index.docker.io/v1/`, `https://h/v2/`)
            key = key.split("/", 1)[0]
            break
    host, _, path = key.rstrip("/").partition("/")
    return canonical_registry(host), path


class CredentialStore:
    """Finds the credential for a registry in the environment and the auth files."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.notes: list[str] = []

    def auth_files(self) -> list[Path]:
        env = self.env
        explicit = env.get("REGISTRY_AUTH_FILE")
        if explicit:
            return [Path(explicit)]
        home = Path(env.get("HOME") or Path.home())
        files: list[Path] = []
        runtime = env.get("XDG_RUNTIME_DIR")
        if runtime:
            files.append(Path(runtime) / "containers" / "auth.json")
        config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        files.append(config_home / "containers" / "auth.json")
        docker_config = env.get("DOCKER_CONFIG")
        files.append(Path(docker_config or home / ".docker") / "config.json")
        files.append(home / ".dockercfg")
        return files

    def lookup(self, registry: str, repository: str) -> Credential | None:
        """The credential for `registry` (canonical host[:port]) and `repository`."""
        text = self.env.get(ENV_CREDS)
        if text:
            return parse_user_password(text, ENV_CREDS)
        registry = canonical_registry(registry)
        for path in self.auth_files():
            doc = self._read(path)
            if doc is None:
                continue
            found = self._from_file(doc, path, registry, repository)
            if found is not None:
                return found
        return None

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.notes.append(f"cannot read {path}: {exc.strerror}")
            return None
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            self.notes.append(f"{path} is not valid JSON; ignored")
            return None
        if not isinstance(doc, dict):
            self.notes.append(f"{path} is not a JSON object; ignored")
            return None
        if path.name == ".dockercfg" and "auths" not in doc:
            return {"auths": doc}  # the legacy file is the auths map itself
        return doc

    def _from_file(
        self, doc: dict[str, Any], path: Path, registry: str, repository: str
    ) -> Credential | None:
        helpers = doc.get("credHelpers")
        if isinstance(helpers, dict):
            for key, helper in helpers.items():
                host, _ = _key_parts(str(key))
                if host == registry and isinstance(helper, str) and helper:
                    return self.from_helper(helper, registry)
        auths = doc.get("auths")
        if isinstance(auths, dict):
            best: tuple[int, Any] | None = None
            for key, entry in auths.items():
                host, namespace = _key_parts(str(key))
                if host != registry:
                    continue
                if namespace and not (
                    repository == namespace or repository.startswith(namespace + "/")
                ):
                    continue
                if best is None or len(namespace) > best[0]:
                    best = (len(namespace), entry)
            if best is not None:
                found = self._from_entry(best[1], path)
                if found is not None:
                    return found
        store = doc.get("credsStore")
        if isinstance(store, str) and store:
            return self.from_helper(store, registry)
        return None

    def _from_entry(self, entry: Any, path: Path) -> Credential | None:
        if not isinstance(entry, dict):
            return None
        username = str(entry.get("username") or "")
        password = str(entry.get("password") or "")
        encoded = entry.get("auth")
        if isinstance(encoded, str) and encoded:
            try:
                decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, ValueError):
                self.notes.append(f"{path}: an `auth` entry is not valid base64; ignored")
                return None
            username, sep, password = decoded.partition(":")
            if not sep:
                self.notes.append(f"{path}: an `auth` entry is not USER:PASSWORD; ignored")
                return None
        token = str(entry.get("identitytoken") or "")
        if token:
            return Credential(username, "", token, source=str(path))
        if username or password:
            return Credential(username, password, source=str(path))
        return None

    def from_helper(self, helper: str, registry: str) -> Credential | None:
        """Ask `docker-credential-<helper>` for the registry's credential."""
        program = f"docker-credential-{helper}"
        try:
            result = subprocess.run(
                [program, "get"],
                input=server_key(registry).encode(),
                capture_output=True,
                timeout=HELPER_TIMEOUT,
                check=False,
                env=dict(self.env),
            )
        except FileNotFoundError:
            self.notes.append(f"credential helper {program} is not installed")
            return None
        except subprocess.TimeoutExpired:
            self.notes.append(f"credential helper {program} did not answer in time")
            return None
        except OSError as exc:
            self.notes.append(f"credential helper {program} failed to start ({exc.strerror})")
            return None
        if result.returncode != 0:
            # "credentials not found in native keychain" means: no entry, go anonymous.
            if b"not found" not in result.stdout + result.stderr:
                self.notes.append(f"credential helper {program} exited with {result.returncode}")
            return None
        try:
            doc = json.loads(result.stdout)
        except (ValueError, UnicodeDecodeError):
            self.notes.append(f"credential helper {program} printed something other than JSON")
            return None
        if not isinstance(doc, dict):
            return None
        username = str(doc.get("Username") or "")
        secret = str(doc.get("Secret") or "")
        if not secret:
            return None
        source = f"credential helper {program}"
        if username == TOKEN_USER:
            return Credential("", "", secret, source=source)
        return Credential(username, secret, source=source)
