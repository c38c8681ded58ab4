"""Shared layers from the command line: `--compare REF` across sources and the
`highestUniqueBytes` CI rule, run as the installed command."""

from __future__ import annotations

import json
from pathlib import Path

import imagebuilder as ib
import pytest
import services

BASE = ib.Layer([ib.Dir("etc"), ib.File("etc/base", 30_000, seed="base")], created_by="ADD base")


def _image(top: str) -> ib.BuiltImage:
    return ib.build_image(
        BASE,
        ib.Layer([ib.File(f"app/{top}", 4_000, seed=top)], created_by=f"COPY {top}"),
        tags=(f"example/{top}:latest",),
    )


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`one.tar`, `two.tar` (same base) as legacy saves, `two` also as an OCI layout."""
    root = tmp_path_factory.mktemp("sharing")
    one, two = root / "one.tar", root / "two.tar"
    one.write_bytes(ib.docker_save_legacy(_image("one")))
    two.write_bytes(ib.docker_save_legacy(_image("two")))
    layout = ib.write_tree(root / "layout", ib.oci_layout(_image("two"), ref_names="tag"))
    return {"one": one, "two": two, "layout": layout}


def _tar_bytes(top: str) -> list[int]:
    return [len(layer.tar) for layer in _image(top).layers]


def test_compare_archive_and_layout(images: dict[str, Path]) -> None:
    for ref in (str(images["two"]), f"oci:{images['layout']}"):
        doc = services.inspector_json(images["one"], "--compare", ref)
        assert [layer["sharedWith"] for layer in doc["layer"]] == [[ref], []]
        base, top = _tar_bytes("one")
        assert (doc["image"]["sharedBytes"], doc["image"]["uniqueBytes"]) == (base, top)


def test_unique_bytes_rule_passes_and_fails_on_the_shared_base(images: dict[str, Path]) -> None:
    base, top = _tar_bytes("one")
    compare = ["--compare", str(images["two"]), "--lowestEfficiency", "disabled"]
    passing = services.run_cli(
        images["one"], *compare, "--highestUniqueBytes", str(top), "--ci-format", "json", ci=True
    )
    assert passing.returncode == 0, passing.stderr
    rule = next(r for r in json.loads(passing.stdout)["rules"] if r["rule"] == "highestUniqueBytes")
    assert (rule["status"], rule["actual"], rule["threshold"]) == ("pass", top, top)
    failing = services.run_cli(
        images["one"], *compare, "--highestUniqueBytes", str(top - 1), ci=True
    )
    assert failing.returncode == 1
    assert "  FAIL: highestUniqueBytes: too many bytes in layers no other image shares" in (
        failing.stdout
    )
    alone = services.run_cli(
        images["one"], "--lowestEfficiency", "disabled", "--highestUniqueBytes", "1kB", ci=True
    )
    assert alone.returncode == 1  # nothing to share with: every byte is unique
    assert f"(unique-bytes={base + top} > threshold=1000)" in alone.stdout


def test_ci_reports_give_shared_and_unique_bytes(images: dict[str, Path]) -> None:
    base, top = _tar_bytes("one")
    ref = str(images["two"])
    compare = ["--compare", ref, "--lowestEfficiency", "disabled", "--ci-format"]
    reports = {
        fmt: services.run_cli(images["one"], *compare, fmt, ci=True)
        for fmt in ("text", "json", "markdown", "junit")
    }
    assert all(r.returncode == 0 for r in reports.values()), reports
    sharing = json.loads(reports["json"].stdout)["sharing"]
    assert sharing == {
        "sharedBytes": base,
        "uniqueBytes": top,
        "layers": [{"index": 0, "sharedWith": [ref]}],
    }
    text = reports["text"].stdout
    assert f"  sharedBytes: {base} bytes" in text
    assert f"  uniqueBytes: {top} bytes" in text
    assert f"  layer 0: {ref}" in text
    assert "  layer 1:" not in text
    markdown = reports["markdown"].stdout
    assert f"({base} B); unique:" in markdown
    assert f"({top} B)" in markdown
    assert f"  sharedBytes: {base} bytes" in reports["junit"].stdout  # in system-out

    alone = services.run_cli(images["one"], "--ci-format", "json", ci=True)
    assert json.loads(alone.stdout)["sharing"] is None  # no other image was looked at
    assert "sharedBytes" not in services.run_cli(images["one"], ci=True).stdout


def test_compare_errors_are_one_line(images: dict[str, Path], tmp_path: Path) -> None:
    missing = tmp_path / "missing.tar"
    done = services.run_cli(images["one"], "--compare", str(missing), "--text")
    assert done.returncode == 2
    assert done.stderr == f"inspector: --compare {missing}: no such file\n"
    tags = services.run_cli(images["one"], "--compare-tags", "--text")
    assert tags.returncode == 2
    assert tags.stderr.startswith(f"inspector: --compare-tags: {images['one']} is not a registry")
