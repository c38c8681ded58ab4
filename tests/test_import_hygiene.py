"""The import contracts: the core never imports Textual or a front end, every module is
named by a contract, and no module imports itself through others (no cycles)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
FRONT_ENDS = [
    "inspector.cli",
    "inspector.ui",
    "inspector.report",
    "inspector.ci_report",
    "inspector.diff_report",
    "inspector.sarif",
    "inspector.progress",
    "inspector.__main__",
    "inspector.audit",
]


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _within(module: str, packages: object) -> bool:
    assert isinstance(packages, list)
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def test_every_module_is_core_or_a_front_end() -> None:
    core = _contracts()["core"]["source_modules"]
    graph = grimp.build_graph("inspector")
    loose = [
        module
        for module in sorted(graph.modules)
        if module != "inspector" and not _within(module, core) and not _within(module, FRONT_ENDS)
    ]
    assert loose == [], "name these in the 'core' contract of pyproject.toml, or as front ends"


def test_the_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([lint], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout[-2000:]
    assert f"{len(_contracts())} kept, 0 broken" in done.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan, iteratively)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in order:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        order[root] = low[root] = len(order)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in order:
                    order[child] = low[child] = len(order)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], order[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == order[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_no_import_cycles() -> None:
    # every import counts, those inside functions too: a lazy import is still a dependency
    assert _cycles(grimp.build_graph("inspector")) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic import b\n")
    (package / "b.py").write_text("def f():\n    from cyclic import a\n")
    (package / "c.py").write_text("from cyclic import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(grimp.build_graph("cyclic", cache_dir=None)) == [["cyclic.a", "cyclic.b"]]


CORE = [
    "inspector.cli",
    "inspector.pipeline",
    "inspector.analysis",
    "inspector.dive",
    "inspector.report",
    "inspector.indexer",
    "inspector.tarstream",
    "inspector.sources.archive",
    "inspector.sources.oci_layout",
    "inspector.sources.daemon",
    "inspector.manifest",
    "inspector.reference",
]


def test_core_modules_do_not_import_textual() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {CORE!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []


def test_ci_run_of_demo_does_not_import_textual() -> None:
    code = (
        "import sys\n"
        "from inspector.cli import main\n"
        "rc = main(['demo', '--ci', '--lowestEfficiency', 'disabled',"
        " '--highestUserWastedPercent', 'disabled'])\n"
        "assert rc == 0, rc\n"
        "assert not any(m.startswith('textual') for m in sys.modules), 'textual imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
