"""The core never imports Textual: the CI path must run without a terminal toolkit."""

from __future__ import annotations

import json
import subprocess
import sys

CORE = [
    "inspector.cli",
    "inspector.analysis",
    "inspector.compat",
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
