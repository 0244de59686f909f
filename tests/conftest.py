"""Suite-wide setup: the pytester plugin, and a private clustrix data dir for every test.

Tests must never read or write the user's real ledger and keys (``~/.local/share/clustrix``):
the whole run, subprocesses included, uses a temporary data dir instead. Tests that check the
default location remove the variable with ``monkeypatch``.
"""

from __future__ import annotations

import os
import shutil
import tempfile

pytest_plugins = ["pytester"]

_DATA_DIR = tempfile.mkdtemp(prefix="clustrix-test-data-")
os.environ["CLUSTRIX_DATA_DIR"] = _DATA_DIR


def pytest_unconfigure(config: object) -> None:
    shutil.rmtree(_DATA_DIR, ignore_errors=True)
