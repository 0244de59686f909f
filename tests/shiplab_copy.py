"""A fresh, importable copy of the test package ``shiplab`` (tests/data/shiplab_src) for one test.

The copy lives in a temporary directory that only this process has on ``sys.path``: a job can
import ``shiplab`` only if clustrix ships it. Afterwards the directory and the modules are gone
from ``sys.path`` and ``sys.modules`` again.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "data" / "shiplab_src"
NAMES = ("shiplab", "shiphelpers")


def _forget() -> None:
    for name in list(sys.modules):
        if name.partition(".")[0] in NAMES:
            del sys.modules[name]


@contextlib.contextmanager
def shiplab_on_path(dest: Path) -> Iterator[Path]:
    """Copy the package to ``dest/src``, put that on ``sys.path``; yields the copy's directory."""
    src = dest / "src"
    shutil.copytree(SOURCE, src, ignore=shutil.ignore_patterns("__pycache__"))
    _forget()
    sys.path.insert(0, str(src))
    importlib.invalidate_caches()
    try:
        yield src
    finally:
        if str(src) in sys.path:
            sys.path.remove(str(src))
        _forget()
