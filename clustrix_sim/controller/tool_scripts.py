"""The executables on a simulated cluster's PATH (``bin/sbatch`` ...) and what they run.

Each shim is a short Python script (``#!<python>``). It first asks the cluster's tool server
(``clustrix_sim.controller.toolserver``, a fork server with the tools preloaded) to run the tool with the
shim's own stdin/stdout/stderr, cwd and environment; when that is unavailable it calls :func:`run`
in-process, which imports the flavour's tool table (``clustrix_sim.<flavor>.tools.TOOLS``) and
runs one tool. The shim bakes in the cluster's socket path, used when ``$CLUSTRIX_SIM_SOCKET`` is
unset, so a shim works from any shell. Startup cost matters (sbatch latency is measured): the
fast path imports only os/socket/marshal/signal/struct.

When the controller is down the tool fails like the real one when slurmctld is unreachable; when
fault injection says so it prints the injected output and exits with the injected code.
"""

from __future__ import annotations

import os
import sys

from clustrix_sim.controller import protocol

TOOL_NAMES = {
    "slurm": ("sbatch", "squeue", "sacct", "scancel", "scontrol", "sinfo", "srun"),
    "pbs": ("qsub", "qstat", "qdel"),
    "sge": ("qsub", "qstat", "qdel", "qacct"),
}

_UNREACHABLE = "Unable to contact slurm controller (connect failure)"
CONNECT_ERRORS = {
    "sbatch": f"sbatch: error: Batch job submission failed: {_UNREACHABLE}",
    "squeue": f"slurm_load_jobs error: {_UNREACHABLE}",
    "scontrol": f"slurm_load_jobs error: {_UNREACHABLE}",
    "sinfo": f"slurm_load_partitions: {_UNREACHABLE}",
    "scancel": f"scancel: error: {_UNREACHABLE}",
    "srun": f"srun: error: Unable to allocate resources: {_UNREACHABLE}",
    "sacct": ("sacct: error: slurm_persist_conn_open_without_init: failed to open persistent connection "
              "to host:localhost:6819: Connection refused\n"
              "sacct: error: Problem talking to the database: Connection refused"),
}


def run(flavor: str, tool: str, argv: list[str], socket_path: str | None = None) -> int:
    """Run ``tool`` of ``flavor`` with ``argv``; returns its exit code."""
    if socket_path and not os.environ.get(protocol.SOCKET_ENV):
        os.environ[protocol.SOCKET_ENV] = socket_path
    try:
        import importlib

        tools = importlib.import_module(f"clustrix_sim.{flavor}.tools").TOOLS
        entry = tools[tool]
    except (ImportError, AttributeError, KeyError) as exc:
        sys.stderr.write(f"{tool}: error: the simulator has no {flavor} tool {tool!r} ({exc})\n")
        return 1
    try:
        return int(entry(list(argv)) or 0)
    except protocol.ControllerUnavailable:
        sys.stderr.write(CONNECT_ERRORS.get(tool, f"{tool}: error: {_UNREACHABLE}") + "\n")
        return 1
    except protocol.InjectedFault as fault:
        sys.stdout.write(fault.stdout)
        sys.stderr.write(fault.stderr)
        return fault.rc
    except BrokenPipeError:  # e.g. `squeue | head`: exit quietly like a C tool killed by SIGPIPE
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stop the interpreter's flush error
        except OSError:
            pass
        return 1
    except KeyboardInterrupt:
        return 130


# -S skips site (a few ms per call); the fallback path loads it when it needs the full tools.
SHIM_TEMPLATE = """#!{python} -S
# clustrix-sim {flavor} tool shim (generated; do not edit)
import os
import sys
sys.path.insert(0, {root!r})
os.environ.setdefault("CLUSTRIX_SIM_SOCKET", {socket!r})
from clustrix_sim.controller.toolserver import client_run
rc = client_run(os.path.join(os.path.dirname(os.environ["CLUSTRIX_SIM_SOCKET"]), "tools.sock"),
                {flavor!r}, {tool!r}, sys.argv[1:])
if rc is None:  # no tool server: run the tool in this process
    import site
    site.main()
    from clustrix_sim.controller.tool_scripts import run
    rc = run({flavor!r}, {tool!r}, sys.argv[1:], {socket!r})
sys.exit(rc)
"""


def write_shims(state_dir: str, flavor: str, socket_path: str, python: str | None = None) -> str:
    """Write one executable shim per tool of ``flavor`` into ``<state_dir>/bin``; returns the dir."""
    if flavor not in TOOL_NAMES:
        raise ValueError(f"unknown scheduler flavor {flavor!r}; choose one of {', '.join(TOOL_NAMES)}")
    bin_dir = os.path.join(state_dir, "bin")
    os.makedirs(bin_dir, mode=0o755, exist_ok=True)
    # the directory that holds the clustrix_sim package: <root>/clustrix_sim/controller/this file
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for tool in TOOL_NAMES[flavor]:
        path = os.path.join(bin_dir, tool)
        text = SHIM_TEMPLATE.format(python=python or sys.executable, flavor=flavor, tool=tool,
                                    root=root, socket=socket_path)
        tmp = f"{path}.tmp"
        with open(tmp, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    return bin_dir
