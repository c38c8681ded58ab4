"""Build the compiled hot loops; everything else is in pyproject.toml.

The extensions are optional: with no C compiler or no Python headers, `pip install .`
warns and installs the pure-Python package, which `inspector.native` then runs. The
same happens when Cython itself is missing (an offline build without build isolation).
"""

from __future__ import annotations

import os

from setuptools import Extension, setup

SOURCES = {
    "inspector._headerwalk": "inspector/_headerwalk.pyx",
    "inspector._stacking": "inspector/_stacking.pyx",
}


def extensions() -> list[Extension]:
    if os.environ.get("INSPECTOR_PURE_PYTHON", "") not in ("", "0"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("inspector: Cython is not installed; building the pure-Python package")
        return []
    modules = [Extension(name, [source]) for name, source in SOURCES.items()]
    built = list(cythonize(modules, language_level=3, quiet=True))
    for module in built:  # (set after cythonize, which does not carry it over)
        module.optional = True  # a failed compile warns; the Python walk runs instead
    return built


setup(ext_modules=extensions())
