"""``clustrix-sim``: run a simulated cluster in the foreground and connect to it.

    clustrix-sim up --docker --scheduler slurm|sge   # the real scheduler in a container
    clustrix-sim up [--scheduler slurm|pbs|torque] [--slurm-version 22.05|24.11] [--nodes N] [--cores-per-node C] [--mem-per-node 16G]
                    [--gpus-per-node G] [--time-scale X] [--state-dir DIR] [--no-ssh]
    eval "$(clustrix-sim env)"       # sbatch/squeue/... on PATH, talking to it
    clustrix-sim status              # nodes and jobs
    clustrix-sim down                # stop a running `up`

The default state dir is ``$XDG_STATE_HOME/clustrix-sim/default`` (``~/.local/state/...``). A state
dir keeps its cluster between runs: ``up`` on an existing one resumes it (jobs, accounting, SSH
keys) and ignores the shape options.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
import time
from typing import Any

from clustrix_sim import frontends
from clustrix_sim.controller import protocol
from clustrix_sim.engine.model import ClusterConfig, make_nodes, parse_mem_mb

DOWN_TIMEOUT_S = 15.0


def default_state_dir() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "clustrix-sim", "default")


def _ready_info(state_dir: str) -> dict[str, Any]:
    path = os.path.join(state_dir, "ready.json")
    try:
        with open(path) as fh:
            return json.load(fh)
    except (OSError, ValueError):
        raise SystemExit(f"clustrix-sim: no simulator in {state_dir} (no {path}); start one with "
                         f"`clustrix-sim up --state-dir {shlex.quote(state_dir)}`") from None


def _ping(info: dict[str, Any]) -> int:
    try:
        return protocol.call("ping", "clustrix-sim", path=info["socket"], timeout_s=5.0)["pid"]
    except protocol.ControllerUnavailable:
        raise SystemExit(f"clustrix-sim: the simulator in {info['state_dir']} is not running; "
                         "start it with `clustrix-sim up`") from None


def profile_yaml(ssh: dict[str, Any], scheduler: str = "slurm", name: str = "sim", *,
                 max_array_size: int | None = None, ledger: str | None = None) -> str:
    """A clustrix config file section for this simulator (``profiles: {name: ...}``)."""
    from clustrix_sim.cluster import profile_mapping

    lines = ["profiles:", f"  {name}:"]
    mapping = profile_mapping(ssh, scheduler, max_array_size=max_array_size, ledger=ledger)
    for key, value in mapping.items():
        text = json.dumps(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else value
        lines.append(f"    {key}: {text}")
    return "\n".join(lines) + "\n"


def env_lines(info: dict[str, Any]) -> str:
    return (f"export PATH={shlex.quote(info['bin_dir'])}:\"$PATH\"\n"
            f"export {protocol.SOCKET_ENV}={shlex.quote(info['socket'])}\n")


def cmd_up(args: argparse.Namespace) -> int:
    if args.docker:
        from clustrix_sim.containers.cli import up

        return up(args.scheduler)
    if args.scheduler not in frontends.installed():
        raise SystemExit(f"clustrix-sim up: no simulator front end for {args.scheduler} (installed: "
                         f"{', '.join(frontends.installed())}); --docker runs the real scheduler in a container")
    from clustrix_sim.controller.server import Controller

    state_dir = os.path.abspath(args.state_dir)
    try:
        nodes = make_nodes(args.nodes, args.cores_per_node, parse_mem_mb(args.mem_per_node), args.gpus_per_node)
    except ValueError as exc:
        raise SystemExit(f"clustrix-sim up: {exc}") from None
    if args.time_scale <= 0:
        raise SystemExit(f"clustrix-sim up: --time-scale must be positive, got {args.time_scale}")
    server, _queue = frontends.site_defaults(args.scheduler)
    import getpass

    from clustrix_sim.cluster import default_partitions

    partitions = default_partitions([n.name for n in nodes], args.scheduler)  # SGE: all.q
    for node in nodes:
        node.partitions = [partitions[0].name]
    config = ClusterConfig(flavor=args.scheduler, cluster_name=args.cluster_name, time_scale=args.time_scale,
                           min_job_age_s=args.min_job_age, user=getpass.getuser(), nodes=nodes, server=server,
                           partitions=partitions)
    resumed = os.path.exists(os.path.join(state_dir, "cluster.db"))
    if args.scheduler == "slurm":  # the release the tools answer as (a resumed cluster may change it)
        from clustrix_sim.slurm.site import write_frontend_settings
        try:
            os.makedirs(state_dir, mode=0o700, exist_ok=True)
            write_frontend_settings(state_dir, args.slurm_version)
        except ValueError as exc:
            raise SystemExit(f"clustrix-sim up: --slurm-version: {exc}") from None
    try:
        controller = Controller(state_dir, config, ssh=not args.no_ssh)
        info = controller.start()
    except (RuntimeError, ValueError) as exc:
        raise SystemExit(f"clustrix-sim up: {exc}") from None
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGHUP, lambda *_: stop.set())  # terminal closed: stop cleanly, kill the jobs
    cfg = controller.engine.cfg
    print(f"clustrix-sim: {cfg.flavor} cluster {cfg.cluster_name!r} with {len(cfg.nodes)} node(s) "
          f"{'resumed from' if resumed else 'in'} {state_dir} (pid {os.getpid()}, time scale {cfg.time_scale:g})")
    print("\nLocal mode (tools on PATH):\n")
    print(f"  eval \"$(clustrix-sim env --state-dir {shlex.quote(state_dir)})\"\n")
    if info.get("ssh"):
        from clustrix_sim.cluster import SSHInfo

        ssh = SSHInfo(**{k: info["ssh"][k] for k in ("host", "port", "user", "key_file", "known_hosts", "home")})
        print("SSH (the simulated login node):\n")
        print("  " + " ".join(shlex.quote(a) for a in ssh.command()) + "\n")
        print("clustrix profile (add to clustrix.yaml):\n")
        print(profile_yaml(info["ssh"], cfg.flavor, max_array_size=cfg.max_array_size,
                           ledger=os.path.join(state_dir, "ledger.sqlite3")))
    print("Ctrl-C or `clustrix-sim down` stops it.", flush=True)
    while not stop.wait(1.0) and not controller.stopped.is_set():
        pass
    controller.stop()
    print("clustrix-sim: stopped", flush=True)
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    info = _ready_info(os.path.abspath(args.state_dir))
    _ping(info)
    sys.stdout.write(env_lines(info))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    info = _ready_info(os.path.abspath(args.state_dir))
    pid = _ping(info)
    path = info["socket"]
    meta = protocol.call("info", "clustrix-sim", path=path)
    nodes = protocol.call("nodes", "clustrix-sim", path=path)["nodes"]
    stats = protocol.call("stats", "clustrix-sim", path=path)
    print(f"{meta['flavor']} cluster {meta['cluster_name']!r}: controller pid {pid}, state dir {info['state_dir']}")
    if meta.get("ssh"):
        print(f"ssh: {meta['ssh']['user']}@{meta['ssh']['host']} port {meta['ssh']['port']}")
    print("nodes:")
    for node in nodes:
        print(f"  {node['name']:<8} {node['state']:<10} cpus {node['alloc_cpus']}/{node['cpus']}  "
              f"mem {node['alloc_mem_mb']}/{node['mem_mb']} MB  gpus {node['alloc_gpus']}/{node['gpus']}")
    states = ", ".join(f"{k} {v}" for k, v in sorted(stats["states"].items())) or "none"
    print(f"jobs: {stats['jobs']} ({states})")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    state_dir = os.path.abspath(args.state_dir)
    info = _ready_info(state_dir)
    try:
        pid = protocol.call("ping", "clustrix-sim", path=info["socket"], timeout_s=5.0)["pid"]
    except protocol.ControllerUnavailable:
        print(f"clustrix-sim: nothing running in {state_dir}")
        return 0
    protocol.call("shutdown", "clustrix-sim", path=info["socket"], timeout_s=5.0)
    deadline = time.monotonic() + DOWN_TIMEOUT_S
    while _alive(pid):
        if time.monotonic() > deadline:
            raise SystemExit(f"clustrix-sim down: the controller (pid {pid}) did not stop within "
                             f"{DOWN_TIMEOUT_S:.0f} s")
        time.sleep(0.05)
    print(f"clustrix-sim: stopped the simulator in {state_dir}")
    return 0


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie whose parent has not reaped it yet counts as stopped)."""
    from clustrix_sim.engine.processes import pid_alive

    return pid_alive(pid)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clustrix-sim", description="A simulated HPC cluster for testing.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_state(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--state-dir", default=default_state_dir(), help="cluster state directory (default: %(default)s)")
        return p

    up = with_state(sub.add_parser("up", help="run a simulated cluster in the foreground"))
    up.add_argument("--scheduler", default="slurm", choices=sorted({*frontends.installed(), "slurm", "sge"}))
    up.add_argument("--docker", action="store_true",
                    help="run the REAL scheduler (Slurm 22.05, Grid Engine 8.1.9) in a Docker container behind OpenSSH")
    up.add_argument("--slurm-version", default="22.05",
                    help="the Slurm release the simulated tools answer as: 22.05 or 24.11 (default: %(default)s)")
    up.add_argument("--nodes", type=int, default=2)
    up.add_argument("--cores-per-node", type=int, default=4)
    up.add_argument("--mem-per-node", default="16G")
    up.add_argument("--gpus-per-node", type=int, default=0)
    up.add_argument("--time-scale", type=float, default=1.0, help="simulated seconds per real second")
    up.add_argument("--cluster-name", default="simcluster")
    up.add_argument("--min-job-age", type=float, default=300.0, help="real seconds finished jobs stay in squeue")
    up.add_argument("--no-ssh", action="store_true", help="do not start the SSH login node")
    up.set_defaults(func=cmd_up)
    with_state(sub.add_parser("env", help="print export lines for local mode")).set_defaults(func=cmd_env)
    with_state(sub.add_parser("status", help="print nodes and jobs")).set_defaults(func=cmd_status)
    with_state(sub.add_parser("down", help="stop a running `clustrix-sim up`")).set_defaults(func=cmd_down)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
