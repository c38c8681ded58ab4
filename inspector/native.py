"""Which implementation of the hot loops runs: the compiled one, or the Python one.

`pip install .` compiles `inspector/_headerwalk.pyx` with Cython when the machine has a C
compiler and Python's headers; without them the install still succeeds, and the Python
versions run. `INSPECTOR_PURE_PYTHON=1` forces the Python versions (the test suite runs
both ways; tests/unit/test_native.py checks that they agree).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType

from inspector import headerwalk

Walk = Callable[..., tuple[int, int]]

PURE_ENV = "INSPECTOR_PURE_PYTHON"


def _compiled() -> ModuleType | None:
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return None
    try:
        return importlib.import_module("inspector._headerwalk")
    except ImportError:
        return None


_module = _compiled()


def compiled_walk() -> Walk | None:
    """The compiled header walk when it is built, even if the Python one is in use."""
    try:
        module = importlib.import_module("inspector._headerwalk")
    except ImportError:
        return None
    walk: Walk = module.walk
    return walk


walk: Walk = headerwalk.walk if _module is None else _module.walk
"""The header walk (`inspector.headerwalk.walk`'s contract)."""

IMPLEMENTATION = "python" if _module is None else "compiled"
"""`compiled` or `python`: what `inspector --version` reports."""
