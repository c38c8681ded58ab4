"""`inspector diff OLD NEW`: the reports (text, JSON, Markdown, JUnit), the gate's exit
codes, the rules file, bad arguments, standard input and hostile image text.

The images are made byte by byte (imagebuilder) as `docker save` archives: app v1 and v2
in the bad order (the whole source copied before the install) and in the good order."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import hostile
import imagebuilder as ib
import pytest
import services
from imagebuilder import Dir, File, Layer

from inspector import cli
from inspector.jsontext import valid

BASE = Layer([Dir("bin"), File("bin/sh", 30_000, mode=0o755)], created_by="ADD rootfs /")
REQUIREMENTS = File("app/requirements.txt", b"flask==3.0.3\n")
INSTALL = "RUN /bin/sh -c pip install -r /app/requirements.txt # buildkit"


def sources(version: int) -> list[File]:
    return [REQUIREMENTS, File("app/app.py", f"VERSION = {version}\n".encode() * 30)]


def deps(mtime: float) -> Layer:
    return Layer([File("usr/lib/deps.bin", 80_000, mtime=mtime)], created_by=INSTALL)


def bad(version: int) -> list[Layer]:
    copy = Layer([Dir("app"), *sources(version)], created_by="COPY . /app # buildkit")
    return [BASE, copy, deps(ib.MTIME + version)]


def good(version: int) -> list[Layer]:
    manifest = Layer([Dir("app"), REQUIREMENTS], created_by="COPY requirements.txt /app/")
    return [BASE, manifest, deps(ib.MTIME), Layer(sources(version), created_by="COPY . /app")]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("diff-images")
    made = {}
    for name, layers in {
        "bad1": bad(1),
        "bad2": bad(2),
        "good1": good(1),
        "good2": good(2),
    }.items():
        path = root / f"{name}.tar"
        path.write_bytes(ib.docker_save_legacy(ib.build_image(*layers, tags=(f"app/{name}:1",))))
        made[name] = path
    return made


def run(*args: str | Path) -> tuple[int, str, str]:
    done = services.run_cli("diff", *args)
    return done.returncode, done.stdout, done.stderr


def json_of(images: dict[str, Path], old: str, new: str, *extra: str) -> dict[str, Any]:
    code, out, err = run(images[old], images[new], "--json", "-", *extra)
    assert code in (0, 1), err
    document: dict[str, Any] = json.loads(out)
    return document


def test_text_says_where_the_cache_broke(images: dict[str, Path]) -> None:
    code, out, err = run(images["bad1"], images["bad2"])
    assert (code, err) == (0, "")
    assert "First divergent layer: 1 of NEW: the same instruction over other inputs" in out
    assert "Rebuilt with identical content: 1 layer of NEW (2)" in out
    assert "modified" in out
    assert "/app/app.py" in out
    assert "Had the manifests been copied first" in out


def test_json_schema(images: dict[str, Path]) -> None:
    doc = json_of(images, "bad1", "bad2")
    assert doc["firstDivergentLayer"] == 1
    assert doc["divergence"]["cause"] == "inputs"
    assert [layer["status"] for layer in doc["layers"]] == [
        "shared",
        "changed",
        "rebuilt-identical",
    ]
    assert [layer["pulled"] for layer in doc["layers"]] == [False, True, True]
    assert doc["files"]["added"] == doc["files"]["removed"] == []
    (modified,) = doc["files"]["modified"]
    assert (modified["path"], modified["bytes"], modified["fields"]) == (
        "/app/app.py",
        0,
        ["content"],
    )
    assert modified["layer"] == 1
    assert doc["growthBytes"] == doc["sizes"]["uncompressedBytes"]["change"] == 0
    stored = [layer["new"]["storedBytes"] for layer in doc["layers"]]
    assert doc["pullBytes"] == doc["pushBytes"] == stored[1] + stored[2]
    assert doc["rebuiltIdenticalBytes"] == stored[2]
    (reordered,) = doc["reordered"]
    assert reordered["pullBytes"] == stored[1]
    assert reordered["savedLayers"] == [2]
    assert doc["findings"] == {"new": [], "gone": []}
    assert doc["ci"] is None


def test_good_order_json_and_findings_gone(images: dict[str, Path]) -> None:
    doc = json_of(images, "good1", "good2")
    assert doc["firstDivergentLayer"] == 3
    assert doc["pullLayers"] == [3]
    fixed = json_of(images, "bad2", "good2")
    assert [f["id"] for f in fixed["findings"]["gone"]] == ["cache-busting-order"]
    assert fixed["firstDivergentLayer"] == 1
    assert fixed["divergence"]["cause"] == "instruction"


def test_identical_images(images: dict[str, Path]) -> None:
    doc = json_of(images, "bad1", "bad1")
    assert doc["firstDivergentLayer"] is None
    assert {layer["status"] for layer in doc["layers"]} == {"shared"}
    assert (doc["pullBytes"], doc["growthBytes"]) == (0, 0)


def test_markdown_for_a_pull_request(images: dict[str, Path]) -> None:
    code, out, _ = run(images["bad1"], images["bad2"], "--format", "markdown")
    assert code == 0
    assert out.startswith("## inspector diff: ")
    assert "| Pull from OLD |" in out
    assert "**First divergent layer:** layer 1 (inputs)" in out
    details = out[out.index("<details>") :]
    assert "</summary>" in details
    assert details.rstrip().endswith("</details>")
    assert "| /app/app.py | modified | 0 B | 1 | content |" in details


@pytest.mark.parametrize(
    ("rules", "code", "failed"),
    [
        (["--maxPullBytes", "1kB"], 1, "maxPullBytes"),
        (["--maxPullBytes", "10MB"], 0, None),
        (["--maxGrowthBytes", "0"], 0, None),
        (["--maxGrowthPercent", "-1"], 1, "maxGrowthPercent"),
        (["--noNewFindings"], 0, None),
        ([], 0, None),
    ],
    ids=["pull-fails", "pull-passes", "growth", "percent", "findings", "none"],
)
def test_gate_exit_codes(
    images: dict[str, Path], rules: list[str], code: int, failed: str | None
) -> None:
    got, out, err = run(images["bad1"], images["bad2"], "--ci", *rules)
    assert got == code, err
    assert ("Result:FAIL" if failed else "Result:PASS") in out
    if failed:
        assert f"FAIL: {failed}: " in out


def test_new_findings_fail_by_severity(images: dict[str, Path]) -> None:
    """good → bad brings the cache-busting-order finding, a warning."""
    for severity, code in (("info", 1), ("warning", 1), ("error", 0)):
        got, out, err = run(images["good1"], images["bad2"], "--ci", f"--noNewFindings={severity}")
        assert got == code, (severity, out, err)
    doc = json_of(images, "good1", "bad2", "--ci", "--noNewFindings")
    assert doc["ci"]["passed"] is False
    rule = {r["rule"]: r for r in doc["ci"]["rules"]}["noNewFindings"]
    assert (rule["status"], rule["actual"], rule["threshold"]) == ("fail", 1, "info")
    assert [f["id"] for f in doc["findings"]["new"]] == ["cache-busting-order"]


def test_rules_file_and_flags(images: dict[str, Path], tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  lowestEfficiency: 0.99\n  max-pull-bytes: 1kB\n  noNewFindings: warning\n"
    )
    got, out, _ = run(images["bad1"], images["bad2"], "--ci", "--ci-config", rules)
    assert got == 1
    assert "FAIL: maxPullBytes" in out
    assert "PASS: noNewFindings" in out
    assert "lowestEfficiency" not in out  # the image mode's rules are not the diff's
    got, out, _ = run(
        images["bad1"], images["bad2"], "--ci", "--ci-config", rules, "--maxPullBytes", "disabled"
    )
    assert got == 0, out


def test_dive_ci_in_the_working_directory(images: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / ".dive-ci").write_text("rules:\n  maxGrowthPercent: '-5%'\n")
    done = services.run_cli("diff", images["bad1"], images["bad2"], "--ci", cwd=tmp_path)
    assert done.returncode == 1
    assert "Using CI config .dive-ci" in done.stdout


def test_junit_and_json_ci_reports(images: dict[str, Path], tmp_path: Path) -> None:
    code, out, _ = run(images["bad1"], images["bad2"], "--ci", "--format", "junit",
                       "--maxPullBytes", "1kB")  # fmt: skip
    assert code == 1
    suite = ET.fromstring(out)
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "inspector diff",
        "4",
        "1",
    )
    names = [case.get("name") for case in suite.iter("testcase")]
    assert names == ["maxGrowthBytes", "maxGrowthPercent", "maxPullBytes", "noNewFindings"]
    system_out = suite.find("system-out")
    assert system_out is not None
    assert system_out.text is not None
    assert "First divergent layer" in system_out.text
    target = tmp_path / "diff.json"
    code, out, _ = run(images["bad1"], images["bad2"], "--ci", "--json", target,
                       "--maxPullBytes", "1kB")  # fmt: skip
    assert code == 1
    assert "Result:FAIL" in out
    doc = json.loads(target.read_text())
    assert doc["ci"]["summary"] == {"total": 4, "passed": 0, "failed": 1, "skipped": 3}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.tar", "{new}"], "missing.tar: no such file"),
        (["{old}", "{new}", "--ci", "--maxPullBytes", "lots"], "--maxPullBytes: 'lots' is not"),
        (["{old}", "{new}", "--ci", "--noNewFindings=fatal"], "is not a severity"),
        (["{old}", "{new}", "--ci", "--maxGrowthPercent", "ten"], "is not a percentage"),
        (["{old}", "{new}", "--format", "junit"], "add --ci"),
        (["-", "-"], "standard input can be OLD or NEW, not both"),
        (["{old}"], "the following arguments are required: NEW"),
    ],
    ids=["missing", "bytes", "severity", "percent", "junit", "stdin-twice", "one-image"],
)
def test_bad_arguments_are_one_line(images: dict[str, Path], args: list[str], message: str) -> None:
    argv = [a.format(old=images["bad1"], new=images["bad2"]) for a in args]
    code, out, err = run(*argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_old_from_standard_input(images: dict[str, Path]) -> None:
    with images["bad1"].open("rb") as stdin:
        done = services.run_cli("diff", "-", images["bad2"], "--json", "-", stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["firstDivergentLayer"] == 1


def test_help_names_the_rules() -> None:
    done = services.run_cli("diff", "--help")
    assert done.returncode == 0
    for rule in ("--maxGrowthBytes", "--maxGrowthPercent", "--maxPullBytes", "--noNewFindings"):
        assert rule in done.stdout
    assert "diff OLD NEW" in services.run_cli("--help").stdout


def test_hostile_text_never_reaches_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """NEW deletes every hostile name OLD holds, with a hostile command and tag."""
    first, _ = hostile.layers()
    old = tmp_path / "old.tar"
    old.write_bytes(ib.docker_save_legacy(ib.build_image(first, tags=(hostile.TAG,))))
    new = hostile.hostile_archive(tmp_path / "new.tar")
    for fmt in ("text", "markdown", "junit"):
        code = cli.main(["diff", str(old), str(new), "--ci", "--format", fmt])
        out, err = capsys.readouterr()
        assert code == 0
        assert hostile.leaks(out) == [], fmt
        assert hostile.leaks(err) == [], fmt
    code = cli.main(["diff", str(old), str(new), "--text"])
    out, _ = capsys.readouterr()
    assert "/hostile/clear\\x1b[2Jscreen" in out
    target = tmp_path / "diff.json"
    assert cli.main(["diff", str(old), str(new), "--json", str(target)]) == 0
    doc = json.loads(target.read_text())
    removed = {c["path"]: c for c in doc["files"]["removed"]}
    assert f"/hostile/{hostile.CLEAR_NAME}" in removed  # the exact name, JSON-escaped
    raw = removed[f"/hostile/{valid(hostile.NOT_UTF8_NAME)}"]
    assert base64.b64decode(raw["pathBytes"]) == b"/hostile/" + hostile.NOT_UTF8
