"""``clustrix-sim up --docker --scheduler slurm|sge``: a cluster container in the foreground."""

from __future__ import annotations

import shlex
import signal
import threading

from clustrix_sim.containers.cluster import DockerCluster
from clustrix_sim.containers.engine import DockerUnavailable
from clustrix_sim.containers.images import ImageBuildError


def profile_yaml(profile: dict, name: str) -> str:
    import json

    lines = ["profiles:", f"  {name}:"]
    for key, value in profile.items():
        text = json.dumps(value) if isinstance(value, (str, dict)) else value
        lines.append(f"    {key}: {text}")
    return "\n".join(lines) + "\n"


def up(scheduler: str) -> int:
    """Start the container, print how to reach it, hold it until Ctrl-C/SIGTERM/SIGHUP."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    cluster = DockerCluster(scheduler, log=lambda m: print(f"clustrix-sim: {m}", flush=True))
    try:
        cluster.start()
    except (DockerUnavailable, ImageBuildError, RuntimeError) as exc:
        raise SystemExit(f"clustrix-sim up --docker: {exc}") from None
    try:
        what = "simulated" if cluster.simulated else "real"
        print(f"clustrix-sim: {what} {scheduler} in container {cluster.container.name} ({cluster.image}), "
              f"ready in {cluster.start_seconds:.1f} s")
        print("\nSSH (the login node; the key lives only as long as the container):\n")
        print("  " + " ".join(shlex.quote(a) for a in cluster.ssh.command()) + "\n")
        print("clustrix profile (add to clustrix.yaml):\n")
        print(profile_yaml(cluster.profile(), f"{scheduler}-docker"))
        print("Ctrl-C stops and removes it.", flush=True)
        while not stop.wait(1.0) and not cluster._logs_done.is_set():
            pass
    finally:
        cluster.stop()
    print("clustrix-sim: stopped", flush=True)
    return 0
