"""The wheel `pip wheel .` builds from these sources: compiled, complete, and working.

The wheel is built from the working tree with the build isolation users get (setuptools
and Cython fetched for the build), installed into a directory of its own, and run from
there with this venv's dependencies: `inspector demo --json -` must report the demo image
and the installed package must run its compiled header walk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from inspector import native

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    native.PURE_ENV in os.environ and os.environ[native.PURE_ENV] not in ("", "0"),
    reason="the pure-Python pass does not test the compiled build",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = out.glob("inspector-*.whl")
    return built


def test_the_wheel_carries_the_compiled_walk_and_the_ui_styles(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert any(
        n.startswith("inspector/_headerwalk.") and n.endswith((".so", ".pyd")) for n in names
    )
    assert "inspector/ui/app.tcss" in names
    assert "inspector/headerwalk.py" in names
    assert not any(n.startswith("tests/") for n in names)
    assert "-cp3" in wheel.name
    assert "none-any" not in wheel.name


def test_the_installed_wheel_runs_the_demo_compiled(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True, timeout=300,
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    env["PYTHONPATH"] = str(target)
    env["INSPECTOR_CACHE_DIR"] = str(tmp_path / "cache")
    probe = (
        "import inspector, inspector.native as n; print(inspector.__file__); "
        "print(n.IMPLEMENTATION)"
    )
    where, implementation = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path,
        check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    assert Path(where).is_relative_to(target)
    assert implementation == "compiled"
    demo = subprocess.run(
        [sys.executable, "-m", "inspector", "demo", "--json", "-"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=120,
    )  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    report = json.loads(demo.stdout)
    assert report["layer"]
    assert report["image"]["sizeBytes"] > 0
