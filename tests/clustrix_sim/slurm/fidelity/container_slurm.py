"""Real Slurm 24.11 in a container, configured as the fidelity site, for the live suite.

    python tests/clustrix_sim/slurm/fidelity/container_slurm.py start   # builds the image once
    python tests/clustrix_sim/slurm/fidelity/container_slurm.py stop

The image is ``clustrix-slurm2411`` (``clustrix_sim.containers.images``: Debian trixie's Slurm
24.11.5 with MariaDB 11.8). ``start`` renders the fidelity site's slurm.conf
(``fidelity_scenarios.site_for("24.11").render_slurm_conf``) into a directory shared with the
container at the same path, starts the container (name ``clustrix-fidelity-2411``, host name
``c1``, as the simulator's node) with that slurm.conf, and returns once sbatch and sacct answer. The scenarios'
work directories live in the shared directory, so files written on the host are the job's files.
The container runs until ``stop`` (it is not tied to this process: the live test finds it up).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

NAME = "clustrix-fidelity-2411"
HOST = "c1"  # the simulator's first node name: host names normalize to their width
# shared with the container at the same path; private to this user (the container runs as root)
SHARED = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clustrix" / "fidelity-2411"
START_DEADLINE_S = 120.0
START_COMMAND = "python tests/clustrix_sim/slurm/fidelity/container_slurm.py start"


def _docker(*argv: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=timeout_s, check=False)


def running() -> bool:
    try:
        done = _docker("inspect", "-f", "{{.State.Running}}", NAME, timeout_s=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == "true"


def run(argv: list[str], cwd: str | None) -> subprocess.CompletedProcess:
    """Run a Slurm tool in the container, in ``cwd`` (a directory under ``SHARED``)."""
    return _docker("exec", *(["-w", cwd] if cwd else []), NAME, *argv)


def start() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
    from fidelity_scenarios import site_for

    from clustrix_sim.containers.engine import docker_client
    from clustrix_sim.containers.images import ensure_image

    if running():
        print(f"{NAME} is already up")
        return
    image = ensure_image(docker_client(), "slurm2411", print).tag
    SHARED.mkdir(mode=0o700, parents=True, exist_ok=True)
    conf = SHARED / "slurm.conf"
    conf.write_text(site_for("24.11").render_slurm_conf(HOST, state_dir="/var/lib/slurm/slurmctld",
                                                         spool_dir="/var/lib/slurm/slurmd"))
    _docker("rm", "-f", NAME)
    started = _docker("run", "-d", "--rm", "--name", NAME, "--hostname", HOST, "-v", f"{SHARED}:{SHARED}",
                      "-e", f"CLUSTRIX_SLURM_CONF={conf}", "--label", "clustrix=1", "--entrypoint", "/bin/bash",
                      image, "-c", "/usr/local/lib/clustrix/start-scheduler && touch /run/fidelity-ready "
                      "&& exec sleep infinity")
    if started.returncode != 0:
        raise SystemExit(f"docker run failed: {started.stderr.strip()}")
    deadline = time.monotonic() + START_DEADLINE_S
    while _docker("exec", NAME, "test", "-e", "/run/fidelity-ready", timeout_s=10).returncode != 0:
        if not running() or time.monotonic() > deadline:
            logs = _docker("logs", NAME).stdout + _docker("logs", NAME).stderr
            _docker("rm", "-f", NAME)
            raise SystemExit(f"real Slurm 24.11 did not come up; container logs:\n{logs[-3000:]}")
        time.sleep(0.5)
    print(_docker("exec", NAME, "sinfo", "-V").stdout.strip(), f"is up in {NAME}")


def stop() -> None:
    _docker("rm", "-f", NAME)
    print(f"{NAME} stopped")


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else "start"
    if action not in ("start", "stop"):
        raise SystemExit("usage: container_slurm.py start|stop")
    start() if action == "start" else stop()
