"""The backend of one pytest session (one per xdist worker): its profile and its simulator.

The simulator starts lazily, the first time something needs it (a ``@cluster`` call routed to a
``*-sim`` backend, or the ``sim_cluster`` fixture), and stops at the end of the session with all
of its processes. Imports of clustrix and clustrix_sim happen here, never at plugin load.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from pytest_clustrix.choice import BackendChoice

if TYPE_CHECKING:
    from clustrix.config.profile import Profile
    from clustrix_sim.cluster import SimCluster

LOG_TAIL_BYTES = 8000


class ClustrixSession:
    """Owns the session's backend choice, its resolved profile and (lazily) its simulator."""

    def __init__(self, choice: BackendChoice, *, sim_nodes: int = 2, keep_sim: bool = False):
        self.choice = choice
        self.sim_nodes = sim_nodes
        self.keep_sim = keep_sim
        self.any_failed = False
        self._lock = threading.RLock()
        self._sim: SimCluster | None = None
        self._profile: Profile | None = None

    # -- simulator -------------------------------------------------------------------------------
    @property
    def sim_started(self) -> bool:
        return self._sim is not None

    def sim(self) -> SimCluster:
        """The session's simulator, started on first use."""
        if not self.choice.uses_simulator:
            raise RuntimeError(f"clustrix backend {self.choice.value!r} does not use a simulator")
        with self._lock:
            if self._sim is None and self.choice.kind == "docker":
                from pytest_clustrix.containers import start_container

                self._sim = start_container(self.choice.scheduler or "slurm")
            if self._sim is None:
                from clustrix_sim.cluster import SimCluster

                sim = SimCluster(scheduler=self.choice.scheduler or "slurm", nodes=self.sim_nodes,
                                 ssh=True, keep=True)
                sim.start()
                self._sim = sim
            return self._sim

    def sim_log_tail(self) -> str:
        """The end of the simulator's logs, for the report of a failing test."""
        sim = self._sim
        if sim is not None and hasattr(sim, "log_tail"):  # a DockerCluster: the scheduler's logs
            return sim.log_tail(LOG_TAIL_BYTES)
        if sim is None or sim.root is None:
            return ""
        chunks = []
        for dirpath, _dirs, files in os.walk(sim.state_dir):
            for name in sorted(files):
                if name.endswith(".log"):
                    path = os.path.join(dirpath, name)
                    try:
                        with open(path, "rb") as fh:
                            fh.seek(max(0, os.path.getsize(path) - LOG_TAIL_BYTES))
                            text = fh.read().decode(errors="replace")
                    except OSError:
                        continue
                    chunks.append(f"--- {path} ---\n{text}")
        return "\n".join(chunks)

    # -- profile ---------------------------------------------------------------------------------
    def profile(self) -> Profile:
        """The profile every routed ``@cluster`` call uses (starts the simulator if needed)."""
        with self._lock:
            if self._profile is None:
                self._profile = self._build_profile()
            return self._profile

    def _build_profile(self) -> Profile:
        from clustrix.config import resolve_profile
        from clustrix.config.profile import Profile

        if self.choice.kind == "plain":
            return resolve_profile(self.choice.value)
        if self.choice.kind == "profile":
            return resolve_profile(self.choice.profile_name)
        mapping: dict[str, Any] = dict(self.sim().profile())
        # The simulator runs jobs on this machine: give them the session's import path, so a
        # function from the project under test unpickles in the job as it would on a cluster
        # where the project is installed.
        paths = [p for p in sys.path if p and os.path.isdir(p)]
        env = dict(mapping.get("env") or {})
        env.setdefault("PYTHONPATH", os.pathsep.join(paths))
        mapping["env"] = env
        return Profile.from_mapping(mapping, name=self.choice.value, source=f"pytest --clustrix-backend={self.choice.value}")

    # -- teardown --------------------------------------------------------------------------------
    def close(self) -> str | None:
        """Stop the simulator; returns the kept state dir when ``--clustrix-keep-sim`` applies."""
        with self._lock:
            sim, self._sim = self._sim, None
        if sim is None:
            return None
        keep = self.keep_sim and self.any_failed and self.choice.kind != "docker"
        sim.keep = keep
        root = sim.root
        sim.stop()
        return root if keep else None
