"""The GitHub Action (action.yml) and the example workflow (docs/examples).

* action.yml against GitHub's rules for action metadata (the keys it must and may have,
  a description per input and output, a value per output of a composite action, a shell
  per run step, every `inputs.X` declared, every `steps.ID.outputs.Y` written by an
  earlier step) and two rules of our own: no `${{ }}` inside a script (values reach the
  scripts through `env:`, so an image name cannot become shell code), and shellcheck
  clean. Deliberately broken copies are rejected.
* actionlint on the example workflow, which uses the action as `uses: ./`: actionlint
  reads action.yml and checks the workflow's `with:` against its inputs.
* The action's steps run as GitHub runs them (`bash --noprofile --norc -eo pipefail`,
  GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, RUNNER_TEMP) with the installed inspector
  (`install: none`) on real archives: the exit codes, the job summary, the outputs and
  the SARIF logs. Only `uses:` steps (actions/setup-python) are not run.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imagebuilder as ib
import pytest
import services
import yaml
from imagebuilder import Dir, File, Layer
from sarifschema import validate

ACTION = services.REPO_ROOT / "action.yml"
EXAMPLE = services.REPO_ROOT / "docs" / "examples" / "github-workflow.yml"
TOP_LEVEL = {"name", "author", "description", "inputs", "outputs", "runs", "branding"}
REQUIRED = ("name", "description", "runs")
STEP_KEYS = {"id", "if", "name", "run", "shell", "uses", "with", "env", "working-directory",
             "continue-on-error"}  # fmt: skip
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)
INPUT_REF = re.compile(r"\binputs\.([A-Za-z0-9_-]+)")
STEP_REF = re.compile(r"\bsteps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)")


# --------------------------------------------------------------------- the metadata rules


def expressions(value: object) -> Iterator[str]:
    """The text of every `${{ }}` expression in a value (and the bare `if:` ones)."""
    if isinstance(value, str):
        yield from (m.group(1) for m in EXPRESSION.finditer(value))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key == "if" and isinstance(item, str) and "${{" not in item:
                yield item
            else:
                yield from expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from expressions(item)


def problems(action: Any) -> list[str]:
    """What breaks GitHub's rules for a composite action's metadata, or ours."""
    if not isinstance(action, dict):
        return ["action.yml is not a mapping"]
    found = [f"missing required key {key!r}" for key in REQUIRED if key not in action]
    found += [f"unknown top-level key {key!r}" for key in sorted(set(action) - TOP_LEVEL)]
    inputs = action.get("inputs") or {}
    for name, spec in inputs.items():
        if not isinstance(spec, dict) or not spec.get("description"):
            found.append(f"input {name!r} has no description")
        elif not isinstance(spec.get("required", False), bool):
            found.append(f"input {name!r}: required is not a boolean")
    runs = action.get("runs") or {}
    if runs.get("using") != "composite":
        found.append("runs.using is not composite")
    steps = runs.get("steps") or []
    if not steps:
        found.append("runs.steps is empty")
    written: dict[str, set[str]] = {}
    for number, step in enumerate(steps, 1):
        where = f"step {number} ({step.get('name') or step.get('id') or '?'})"
        found += [f"{where}: unknown key {key!r}" for key in sorted(set(step) - STEP_KEYS)]
        if ("run" in step) == ("uses" in step):
            found.append(f"{where}: needs exactly one of run and uses")
        if "run" in step:
            if not step.get("shell"):
                found.append(f"{where}: a run step needs shell")
            if "${{" in step["run"]:
                found.append(f"{where}: an expression inside the script (pass it in env)")
        for expression in expressions(step):
            found += [f"{where}: undeclared input {name!r}"
                      for name in INPUT_REF.findall(expression) if name not in inputs]  # fmt: skip
            for ref, output in STEP_REF.findall(expression):
                if output not in written.get(ref, set()):
                    found.append(f"{where}: steps.{ref}.outputs.{output} is not written before")
        if "id" in step:
            if step["id"] in written:
                found.append(f"{where}: duplicate id {step['id']!r}")
            script = step.get("run", "")
            written[step["id"]] = set(re.findall(r"\b([a-z][a-z0-9-]*)=", script))
    for name, spec in (action.get("outputs") or {}).items():
        if not isinstance(spec, dict) or not spec.get("description"):
            found.append(f"output {name!r} has no description")
            continue
        if "value" not in spec:
            found.append(f"output {name!r} has no value (a composite action's must)")
        for ref, output in STEP_REF.findall(str(spec.get("value", ""))):
            if output not in written.get(ref, set()):
                found.append(f"output {name!r}: steps.{ref}.outputs.{output} is never written")
    return found


def action() -> dict[str, Any]:
    loaded = yaml.safe_load(ACTION.read_text())
    assert isinstance(loaded, dict)
    return loaded


def step(document: dict[str, Any], step_id: str) -> dict[str, Any]:
    (found,) = [s for s in document["runs"]["steps"] if s.get("id") == step_id]
    assert isinstance(found, dict)
    return found


def test_action_yml_keeps_the_metadata_rules() -> None:
    assert problems(action()) == []
    assert action()["inputs"]["image"]["required"] is True


def _drop_shell(a: dict[str, Any]) -> None:
    del step(a, "image")["shell"]


def _undeclared_input(a: dict[str, Any]) -> None:
    step(a, "image")["env"]["IMAGE"] = "${{ inputs.imagee }}"


def _expression_in_script(a: dict[str, Any]) -> None:
    step(a, "image")["run"] += '\necho "${{ inputs.image }}"\n'


def _unwritten_output(a: dict[str, Any]) -> None:
    a["outputs"]["exit-code"]["value"] = "${{ steps.image.outputs.exitcode }}"


def _no_description(a: dict[str, Any]) -> None:
    del a["inputs"]["fail"]["description"]


def _output_read_too_early(a: dict[str, Any]) -> None:
    step(a, "install")["env"]["CODE"] = "${{ steps.image.outputs.exit-code }}"


def _no_runs(a: dict[str, Any]) -> None:
    del a["runs"]


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (_drop_shell, "a run step needs shell"),
        (_undeclared_input, "undeclared input 'imagee'"),
        (_expression_in_script, "an expression inside the script"),
        (_unwritten_output, "steps.image.outputs.exitcode is never written"),
        (_no_description, "input 'fail' has no description"),
        (_output_read_too_early, "steps.image.outputs.exit-code is not written before"),
        (_no_runs, "missing required key 'runs'"),
    ],
    ids=lambda x: getattr(x, "__name__", "")[1:] or None,
)
def test_a_broken_copy_is_rejected(
    break_it: Callable[[dict[str, Any]], None], message: str
) -> None:
    broken = copy.deepcopy(action())
    break_it(broken)
    assert any(message in p for p in problems(broken)), problems(broken)


# ------------------------------------------------------------------ actionlint, shellcheck


def tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.is_file() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return found


def actionlint(repository: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{Path(tool('shellcheck')).parent}:{os.environ['PATH']}"}
    return subprocess.run(
        [tool("actionlint"), "-no-color"],
        cwd=repository,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def repository_with(tmp_path: Path, action_text: str, workflow: str) -> Path:
    """A git repository holding action.yml at its root and the workflow."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / "action.yml").write_text(action_text)
    (tmp_path / ".github" / "workflows" / "image.yml").write_text(workflow)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True, timeout=60)
    return tmp_path


def test_actionlint_passes_the_example_workflow_using_the_action(tmp_path: Path) -> None:
    done = actionlint(repository_with(tmp_path, ACTION.read_text(), EXAMPLE.read_text()))
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("where", "old", "new", "message"),
    [
        ("workflow", "image: app:", "imagee: app:", 'input "imagee" is not defined'),
        ("action", "  base-image:\n", "  base-imagee:\n", 'input "base-image" is not defined'),
        (
            "workflow",
            'run: docker build -t "app:$GITHUB_SHA" .',
            "run: docker build -t app:${{ github.event.pull_request.title }} .",
            "potentially untrusted",
        ),
    ],
    ids=["unknown-input", "input-gone-from-action", "script-injection"],
)
def test_actionlint_rejects_a_broken_copy(
    tmp_path: Path, where: str, old: str, new: str, message: str
) -> None:
    texts = {"action": ACTION.read_text(), "workflow": EXAMPLE.read_text()}
    assert old in texts[where]
    texts[where] = texts[where].replace(old, new, 1)
    done = actionlint(repository_with(tmp_path, texts["action"], texts["workflow"]))
    assert done.returncode == 1
    assert message in done.stdout


def test_the_action_scripts_are_shellcheck_clean() -> None:
    scripts = [s["run"] for s in action()["runs"]["steps"] if "run" in s]
    assert len(scripts) == 4
    for script in [*scripts, "cat $report\n"]:
        done = subprocess.run(
            [tool("shellcheck"), "--shell=bash", "-"],
            input=script,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if script == "cat $report\n":  # the broken twin: shellcheck is really looking
            assert "SC2086" in done.stdout
        else:
            assert (done.returncode, done.stdout) == (0, ""), script


# ----------------------------------------------------------------- the steps, run for real


@dataclass(frozen=True, slots=True)
class ActionRun:
    code: int  # the job step's exit code: the last step that ran
    outputs: dict[str, str]  # the action's outputs
    summary: str
    log: str


def run_action(inputs: Mapping[str, str], tmp_path: Path) -> ActionRun:
    """action.yml's steps as a runner runs them, `uses:` steps left out."""
    document = action()
    values = {name: str(spec.get("default", "")) for name, spec in document["inputs"].items()}
    values.update(inputs)
    values["install"] = "none"  # the inspector of this test run, on PATH below
    values["python-version"] = ""
    written: dict[str, dict[str, str]] = {}

    def expand(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            expression = match.group(1).strip()
            if m := re.fullmatch(r"inputs\.([\w-]+)", expression):
                return values[m.group(1)]
            if m := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression):
                return written.get(m.group(1), {}).get(m.group(2), "")
            raise AssertionError(f"this runner does not evaluate ${{{{ {expression} }}}}")

        return EXPRESSION.sub(one, text)

    temp = tmp_path / "runner-temp"
    temp.mkdir(parents=True, exist_ok=True)
    summary = tmp_path / "summary.md"
    summary.touch()
    log: list[str] = []
    code = 0
    for number, spec in enumerate(document["runs"]["steps"]):
        if "uses" in spec:
            assert spec["if"] == "inputs.python-version != ''"
            continue
        output = tmp_path / f"output-{number}"
        output.touch()
        env = services.cli_env(
            extra={
                "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(summary),
                "GITHUB_ACTION_PATH": str(services.REPO_ROOT),
                "RUNNER_TEMP": str(temp),
                **{key: expand(str(value)) for key, value in spec.get("env", {}).items()},
            }
        )
        script = tmp_path / f"step-{number}.sh"
        script.write_text(spec["run"])
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
        )  # fmt: skip
        log.append(done.stdout + done.stderr)
        if "id" in spec:
            written[spec["id"]] = dict(
                line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
            )
        code = done.returncode
        if code != 0:
            break  # a failed step ends the job's steps
    outputs = {name: expand(spec["value"]) for name, spec in document["outputs"].items()}
    return ActionRun(code, outputs, summary.read_text(), "".join(log))


BASE = Layer([Dir("bin"), File("bin/sh", 30_000, mode=0o755)], created_by="ADD rootfs /")
REQUIREMENTS = File("app/requirements.txt", b"flask==3.0.3\n")
INSTALL = Layer(
    [File("usr/lib/deps.bin", 80_000)], created_by="RUN pip install -r /app/requirements.txt"
)


def _app(version: int) -> File:
    return File("app/app.py", f"VERSION = {version}\n".encode() * 30)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """v1 and v2 copy the manifest first; `bad` copies the whole source before the
    install (a new cache-busting-order finding)."""
    root = tmp_path_factory.mktemp("action-images")
    manifest = Layer([Dir("app"), REQUIREMENTS], created_by="COPY requirements.txt /app/")
    made = {}
    for name, layers in {
        "v1": [BASE, manifest, INSTALL, Layer([_app(1)], created_by="COPY . /app")],
        "v2": [BASE, manifest, INSTALL, Layer([_app(2)], created_by="COPY . /app")],
        "bad": [BASE, Layer([Dir("app"), REQUIREMENTS, _app(2)], created_by="COPY . /app"),
                INSTALL],
    }.items():  # fmt: skip
        path = root / f"{name}.tar"
        path.write_bytes(ib.docker_save_legacy(ib.build_image(*layers, tags=(f"app/{name}:1",))))
        made[name] = path
    return made


def test_a_passing_image_and_gate(images: dict[str, Path], tmp_path: Path) -> None:
    run = run_action(
        {"image": str(images["v2"]), "base-image": str(images["v1"]),
         "diff-args": "--noNewFindings=warning --maxGrowthPercent 5"},
        tmp_path,
    )  # fmt: skip
    assert run.code == 0, run.log
    assert (run.outputs["exit-code"], run.outputs["diff-exit-code"]) == ("0", "0")
    assert run.summary.startswith("## inspector: ")  # the image's report, then the diff's
    assert "\n\n## inspector diff: " in run.summary
    assert "| `noNewFindings` | ✅ PASS | 0 | warning or above |" in run.summary
    assert Path(run.outputs["report"]).read_text() in run.summary
    assert Path(run.outputs["diff-report"]).read_text() in run.summary
    assert run.outputs["sarif-file"] == run.outputs["diff-sarif-file"] == ""


def test_a_new_finding_fails_the_gate_and_the_step(images: dict[str, Path], tmp_path: Path) -> None:
    inputs = {"image": str(images["bad"]), "base-image": str(images["v1"]),
              "diff-args": "--noNewFindings=warning", "sarif": "true"}  # fmt: skip
    run = run_action(inputs, tmp_path)
    assert run.code == 1, run.log
    assert (run.outputs["exit-code"], run.outputs["diff-exit-code"]) == ("0", "1")
    assert "::error title=inspector::the diff gate's rules failed (exit 1)" in run.log
    assert "**New findings:**" in run.summary
    (new,) = validate(Path(run.outputs["diff-sarif-file"]).read_text())["runs"][0]["results"]
    assert new["ruleId"] == "cache-busting-order"
    image_log = validate(Path(run.outputs["sarif-file"]).read_text())
    assert "cache-busting-order" in [r["ruleId"] for r in image_log["runs"][0]["results"]]
    reported = run_action({**inputs, "fail": "false", "summary": "false"}, tmp_path / "again")
    assert reported.code == 0
    assert "::warning title=inspector::the diff gate's rules failed" in reported.log
    assert reported.summary == ""


def test_the_image_rules_and_fail_on(images: dict[str, Path], tmp_path: Path) -> None:
    run = run_action({"image": str(images["bad"]), "fail-on": "warning"}, tmp_path)
    assert run.code == 1, run.log
    assert (run.outputs["exit-code"], run.outputs["diff-exit-code"]) == ("1", "")
    assert "cache-busting-order" in run.summary
    rules = tmp_path / "rules.yaml"
    rules.write_text("failOn: error\n")
    passing = run_action(
        {"image": str(images["bad"]), "rules-file": str(rules), "args": "--lowestEfficiency 0"},
        tmp_path / "again",
    )
    assert passing.code == 0, passing.log


def test_bad_input_fails_even_when_rules_may(images: dict[str, Path], tmp_path: Path) -> None:
    run = run_action({"image": str(tmp_path / "missing.tar"), "fail": "false"}, tmp_path)
    assert run.code == 2
    assert run.outputs["exit-code"] == "2"
    assert "::error title=inspector::the image could not be checked (exit 2)" in run.log
    quotes = run_action({"image": str(images["v1"]), "args": "--compare 'unclosed"},
                        tmp_path / "quotes")  # fmt: skip
    assert quotes.code == 2
    assert "args is not a list of shell words" in quotes.log


def test_extra_arguments_keep_their_quoting(images: dict[str, Path], tmp_path: Path) -> None:
    spaced = tmp_path / "a dir" / "v1 copy.tar"
    spaced.parent.mkdir()
    shutil.copyfile(images["v1"], spaced)
    run = run_action(
        {"image": str(images["v2"]), "args": f"--compare '{spaced}' --highestUniqueBytes 1"},
        tmp_path,
    )
    assert run.code == 1, run.log
    assert "| `highestUniqueBytes` | ❌ FAIL |" in run.summary
    assert "v1 copy.tar" in run.summary  # the image it shares layers with, one argument


def test_the_yaml_examples_in_the_ci_page_parse() -> None:
    page = (services.REPO_ROOT / "docs" / "ci.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", page, re.S)
    assert len(blocks) >= 6
    for block in blocks:
        assert isinstance(yaml.safe_load(block), (dict, list)), block
    uses = [b for b in blocks if "uses: OWNER/inspector@TAG" in b]
    (with_action,) = uses
    (step_with,) = [s["with"] for s in yaml.safe_load(with_action)["steps"] if "with" in s
                    and "image" in s["with"]]  # fmt: skip
    assert set(step_with) <= set(action()["inputs"])
