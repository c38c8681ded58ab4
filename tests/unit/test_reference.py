"""What the IMAGE argument names, when no transport says it."""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector import reference


@pytest.mark.parametrize(
    ("text", "transport"),
    [
        ("busybox", reference.DAEMON),
        ("busybox:1.36", reference.DAEMON),
        ("library/busybox:1.36", reference.DAEMON),
        ("registry.example:5000/org/app@sha256:" + "a" * 64, reference.DAEMON),
        ("missing.tar", reference.ARCHIVE),
        ("images/missing.tar.gz", reference.ARCHIVE),
        ("./missing", reference.ARCHIVE),
        ("/nowhere/missing", reference.ARCHIVE),
        ("docker://busybox", reference.REGISTRY),
        ("oci:/nowhere/layout:tag", reference.OCI),
        ("-", reference.ARCHIVE),
    ],
)
def test_a_plain_value_is_an_engine_name_unless_it_looks_like_a_path(
    text: str, transport: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing of these names exists here
    assert reference.parse(text).transport == transport


def test_what_exists_on_disk_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org").mkdir()
    (tmp_path / "org" / "app").write_bytes(b"")
    (tmp_path / "layout").mkdir()
    assert reference.parse("org/app") == reference.SourceSpec(reference.ARCHIVE, "org/app")
    assert reference.parse("layout") == reference.SourceSpec(reference.OCI, "layout")
