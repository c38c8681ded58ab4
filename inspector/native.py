"""Which implementation of the hot loops runs: the compiled one, or the Python one.

`pip install .` compiles `inspector/_headerwalk.pyx` (the indexer's header walk) and
`inspector/_stacking.pyx` (the analysis's layer stacking) with Cython when the machine
has a C compiler and Python's headers; without them the install still succeeds, and the
Python versions run. `INSPECTOR_PURE_PYTHON=1` forces the Python versions (the test suite
runs both ways; tests/unit/test_native.py checks that they agree).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType

from inspector import headerwalk

Walk = Callable[..., tuple[int, int]]

PURE_ENV = "INSPECTOR_PURE_PYTHON"


def _built(name: str) -> ModuleType | None:
    """The compiled module `name` when it is built, even if the Python version is in use."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _compiled(name: str) -> ModuleType | None:
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return None
    return _built(name)


_module = _compiled("inspector._headerwalk")


def compiled_walk() -> Walk | None:
    """The compiled header walk when it is built, even if the Python one is in use."""
    module = _built("inspector._headerwalk")
    if module is None:
        return None
    walk: Walk = module.walk
    return walk


def compiled_stacking() -> ModuleType | None:
    """The compiled layer stacking when it is built, even if the Python one is in use."""
    return _built("inspector._stacking")


walk: Walk = headerwalk.walk if _module is None else _module.walk
"""The header walk (`inspector.headerwalk.walk`'s contract)."""

stacking: ModuleType | None = _compiled("inspector._stacking")
"""The compiled layer stacking (its `Stack` replaces `analysis._Stack`), or None: the
Python one (`inspector.analysis`)."""

IMPLEMENTATION = "python" if _module is None else "compiled"
"""`compiled` or `python`: what `inspector --version` reports."""


def describe() -> str:
    """Which implementation runs each hot loop, as `inspector --version` shows it:
    `compiled header walk, compiled stacking`, `python header walk, python stacking`."""
    loops = (("header walk", _module is not None), ("stacking", stacking is not None))
    return ", ".join(f"{'compiled' if built else 'python'} {name}" for name, built in loops)
