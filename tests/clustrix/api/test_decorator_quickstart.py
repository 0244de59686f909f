"""examples/quickstart.py (the local-backend tour) runs with no configuration at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[3] / "examples" / "quickstart.py"


def test_quickstart_runs_without_configuration(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLUSTRIX_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")  # no user config
    proc = subprocess.run([sys.executable, str(QUICKSTART)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "profile 'local' (backend local)" in out
    assert "caught ValueError from the job: expected a positive number, got -4" in out
    assert "square roots: [1.0, 2.0, 3.0]" in out
    assert out.count("samples ->") == 3
    # Exactly one warning, saying where calls run and how to configure a cluster.
    assert proc.stderr.count("No clustrix configuration found") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
