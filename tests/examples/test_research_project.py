"""The example research project's own suite passes on the local backend and on every simulator
(tests marked for another scheduler skip)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "research_project"


@pytest.mark.parametrize("backend,ran,skipped", [("local", 5, 2), ("slurm-sim", 5, 2), ("pbs-sim", 5, 2),
                                                  ("torque-sim", 5, 2), ("sge-sim", 4, 3)])
def test_example_suite_passes(backend, ran, skipped, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTRIX_")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               CLUSTRIX_LEDGER=str(tmp_path / "ledger.sqlite3"))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--clustrix-backend={backend}"],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{ran} passed, {skipped} skipped" in proc.stdout, proc.stdout
