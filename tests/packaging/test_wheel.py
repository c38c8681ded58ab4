"""The wheel `pip wheel .` builds from these sources: compiled, complete, and working.

The wheel is built from a copy of the working tree with the build isolation users get (setuptools
and Cython fetched for the build), installed into a directory of its own, and run from
there with this venv's dependencies: `inspector demo --json -` must report the demo image
and the installed package must run its compiled header walk.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from inspector import native

ROOT = Path(__file__).resolve().parents[2]
# this venv's editable install of the sources would otherwise answer for inspector.*
ALONE = "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]"
DEMO = "import runpy; runpy.run_module('inspector', run_name='__main__', alter_sys=True)"


def _sources(into: Path) -> Path:
    """The project's files (tracked or not ignored) copied to `into`: a build there starts
    clean, with no `build/` directory or compiled module left by an earlier build."""
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        capture_output=True, check=True, timeout=60,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def _build(out: Path, **extra: str) -> Path:
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV} | extra
    tree = _sources(out / "src")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(tree)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    (built,) = out.glob("inspector-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("wheel"))


def _run_installed(
    wheel: Path, tmp_path: Path
) -> tuple[Path, str, subprocess.CompletedProcess[str]]:
    """Install `wheel` alone into a directory, then ask it where it runs from, which walk
    it uses, and for the demo's JSON."""
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
        f"{ALONE}; import inspector, inspector.native as n, inspector.headerwalk as h; "
        "print(inspector.__file__, h.__file__, n.IMPLEMENTATION)"
    )
    where, walk, implementation = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path,
        check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    assert Path(where).is_relative_to(target)
    assert Path(walk).is_relative_to(target)
    demo = subprocess.run(
        [sys.executable, "-c", f"{ALONE}; {DEMO}", "demo", "--json", "-"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=120,
    )  # fmt: skip
    return target, implementation, demo


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
    _, implementation, demo = _run_installed(wheel, tmp_path)
    assert implementation == "compiled"
    assert demo.returncode == 0, demo.stderr
    report = json.loads(demo.stdout)
    assert report["layer"]
    assert report["image"]["sizeBytes"] > 0


def test_without_a_compiler_the_install_runs_the_python_walk(wheel: Path, tmp_path: Path) -> None:
    """A machine without a C compiler (CC=false fails every compile) still installs, runs
    the Python walk, and gives the demo's JSON byte for byte as the compiled build does."""
    plain = _build(tmp_path / "wheel", CC="false")
    assert not any(n.endswith((".so", ".pyd")) for n in zipfile.ZipFile(plain).namelist())
    _, implementation, demo = _run_installed(plain, tmp_path / "plain")
    assert implementation == "python"
    assert demo.returncode == 0, demo.stderr
    _, _, compiled = _run_installed(wheel, tmp_path / "compiled")
    assert demo.stdout == compiled.stdout
