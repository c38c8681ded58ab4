"""`inspector docker://…` end to end: the installed command against a real registry.

These need cli.py to route the `docker://` transport to RegistrySource with `--creds` and
`--tls-verify` (docs/registry.md); until it does they skip, which CI reports as failures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import services

from inspector import cli
from registry.conftest import Sample
from registry.servers import PASSWORD, USER, RegistryServer

CREDS = f"{USER}:{PASSWORD}"
WRONG = "Wr0ng-pa55"


@pytest.fixture(autouse=True)
def _wired() -> None:
    options = {a for action in cli.build_parser()._actions for a in action.option_strings}
    if not {"--creds", "--tls-verify"} <= options:
        pytest.skip("cli.py does not wire the registry transport (--creds, --tls-verify) yet")


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HOME": os.environ["HOME"], "INSPECTOR_CACHE_DIR": str(tmp_path / "cache"), **extra}


def test_json_and_ci_verdict_match_the_archive(
    basic_registry: RegistryServer, samples: dict[str, Sample], tmp_path: Path
) -> None:
    ref = basic_registry.push(samples["gzip"].oci, "private/app:1")
    archive = samples["gzip"].archive
    pulled = services.run_cli(f"docker://{ref}", "--creds", CREDS, "-j", "-", env=env(tmp_path))
    local = services.run_cli(archive, "-j", "-", env=env(tmp_path))
    assert pulled.returncode == local.returncode == 0, pulled.stderr
    a, b = json.loads(pulled.stdout), json.loads(local.stdout)
    for doc in (a, b):
        doc["image"].pop("name")
        doc["image"].pop("tags")
    assert a == b
    rules = ["--lowestEfficiency", "0.9"]
    ci_pulled = services.run_cli(
        f"docker://{ref}", "--creds", CREDS, *rules, ci=True, env=env(tmp_path)
    )
    ci_local = services.run_cli(archive, *rules, ci=True, env=env(tmp_path))
    assert ci_pulled.returncode == ci_local.returncode == 1
    assert ci_pulled.stdout.splitlines()[-1] == ci_local.stdout.splitlines()[-1]


def test_wrong_password_exits_2_without_the_password(
    basic_registry: RegistryServer, samples: dict[str, Sample], tmp_path: Path
) -> None:
    ref = basic_registry.push(samples["gzip"].oci, "private/app:1")
    for args, extra in (
        (["--creds", f"{USER}:{WRONG}"], {}),
        ([], {"INSPECTOR_REGISTRY_CREDS": f"{USER}:{WRONG}"}),
    ):
        result = services.run_cli(
            f"docker://{ref}", "--text", "--debug", *args, env=env(tmp_path, **extra)
        )
        assert result.returncode == 2
        assert "wrong user name or password" in result.stderr
        assert WRONG not in result.stderr + result.stdout


def test_missing_tag_exits_2(
    plain_registry: RegistryServer, samples: dict[str, Sample], tmp_path: Path
) -> None:
    plain_registry.push(samples["gzip"].oci, "sample/gzip:v1")
    result = services.run_cli(
        f"docker://{plain_registry.host}/sample/gzip:v9", "--text", env=env(tmp_path)
    )
    assert result.returncode == 2
    assert "tag 'v9' not found" in result.stderr
    assert "tags: v1" in result.stderr
