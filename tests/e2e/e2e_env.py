"""What e2e jobs need from the test process: the clustrix under test on their import path."""

from __future__ import annotations

import os

import clustrix

CLUSTRIX_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(clustrix.__file__)))
JOB_ENV: dict[str, str] = {"PYTHONPATH": CLUSTRIX_ROOT}
"""What every e2e job exports: the clustrix under test on its import path.

The simulator's login node starts from a clean environment (as a real one does), so a job's
``python -m clustrix.runner`` would otherwise import whichever clustrix the interpreter has
installed — in a second checkout (a git worktree) another tree's runner, and a job-side change
would go untested. Specs built by the tests (``JobSpec(env=JOB_ENV)``) and profiles (``env``)
carry it, as a cluster where the project is installed would.
"""


def code_under_test_sim() -> type:
    """``SimCluster`` whose ``profile()`` exports :data:`JOB_ENV` to jobs (see there why)."""
    from clustrix_sim.cluster import SimCluster

    class CodeUnderTestSim(SimCluster):
        def profile(self, **overrides: object) -> dict[str, object]:
            mapping = super().profile(**overrides)
            env = dict(mapping.get("env") or {})
            for name, value in JOB_ENV.items():
                env.setdefault(name, value)
            mapping["env"] = env
            return mapping

    return CodeUnderTestSim
