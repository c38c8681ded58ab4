"""`inspector audit`: its help, and arguments that are wrong fail in one line (exit 2)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import services

from inspector import cli


def _one_line(stderr: str) -> str:
    assert stderr.count("\n") == 1, stderr
    assert "Traceback" not in stderr
    return stderr


def test_audit_has_its_own_help() -> None:
    done = services.run_cli("audit", "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: inspector audit [-h]")
    for option in ("--include", "--exclude", "--max-tags", "--engine", "--scheduler", "--db"):
        assert option in done.stdout
    shown = services.run_cli("audit", "show", "--help")
    assert shown.returncode == 0
    assert shown.stdout.startswith("usage: inspector audit show [-h]")


def test_the_main_help_lists_audit() -> None:
    assert "audit SOURCE..." in services.run_cli("--help").stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["audit"], "name a SOURCE or --engine"),
        (["audit", "no-such-dir"], "no-such-dir: not an audit source"),
        (["audit", "docker://"], "docker://: needs a registry host"),
        (["audit", "docker://127.0.0.1:9", "--max-tags", "0"], "expected at least 1"),
        (["audit", "docker://127.0.0.1:9", "--workers", "x"], "expected a number"),
    ],
)
def test_wrong_arguments_fail_in_one_line(argv: list[str], message: str, tmp_path: Path) -> None:
    done = services.run_cli(*argv, "--db", tmp_path / "audit.db")
    assert done.returncode == 2, done.stderr
    assert message in _one_line(done.stderr)


def test_show_without_a_database_fails_in_one_line(tmp_path: Path) -> None:
    done = services.run_cli("audit", "show", "--db", tmp_path / "missing.db")
    assert done.returncode == 2
    assert "no audit database" in _one_line(done.stderr)
    assert not (tmp_path / "missing.db").exists()


def test_a_registry_that_does_not_answer_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    """A catalog that cannot be read is recorded and reported; the audit ends normally."""
    db = tmp_path / "audit.db"
    done = services.run_cli("audit", "docker://127.0.0.1:9", "--db", db, "--workers", "1")
    assert done.returncode == 0, done.stderr
    assert "failed: docker://127.0.0.1:9" in done.stderr
    failures = done.stdout[done.stdout.index("Failures in the last run") :]
    assert "docker://127.0.0.1:9  catalog  " in failures
    assert "cannot reach 127.0.0.1:9" in failures


def test_without_dask_the_audit_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in [m for m in sys.modules if m == "dask" or m.startswith(("dask.", "distributed"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "dask", None)
    code = cli.main(["audit", "docker://127.0.0.1:9", "--db", str(tmp_path / "audit.db")])
    assert code == 2
    err = _one_line(capsys.readouterr().err)
    assert "pip install 'inspector[audit]'" in err
    assert not (tmp_path / "audit.db").exists()
