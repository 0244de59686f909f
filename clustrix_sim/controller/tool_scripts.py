"""The executables on a simulated cluster's PATH (``bin/sbatch`` ...) and what they run.

The controller writes one tool script per command of its scheduler's front end (the names come
from ``clustrix_sim.<flavor>.tools.TOOLS``, see :mod:`clustrix_sim.frontends`). Each is a short
Python script (``#!<python> -S``). It first asks the cluster's tool server
(:mod:`clustrix_sim.controller.toolserver`, a pool of workers with the tools preloaded) to run the tool
with the script's own stdin/stdout/stderr, cwd and environment; when that is unavailable it calls
:func:`run_tool` in-process. The script bakes in the cluster's socket path, used when
``$CLUSTRIX_SIM_SOCKET`` is unset, so it works from any shell. Startup cost matters (sbatch
latency is measured): the fast path imports only os/socket/signal/struct. When a C compiler is
at hand, ``bin/`` holds the compiled client (:mod:`clustrix_sim.controller.toolclient`) under each
tool's name instead, and the scripts it falls back to live in ``tools-py/``.

When the controller is down the tool fails like the real one when its controller is unreachable
(the front end's ``UNREACHABLE`` line); when fault injection says so it prints the injected output
and exits with the injected code.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Collection

from clustrix_sim import frontends
from clustrix_sim.controller import protocol
from clustrix_sim.engine import processes


def run_tool(flavor: str, tool: str, argv: list[str], socket_path: str | None = None,
             table: frontends.ToolTable | None = None) -> int:
    """Run ``tool`` of ``flavor``'s front end with ``argv``; returns its exit code. ``table`` is
    the flavour's tool table when the caller already holds it (the tool server)."""
    if socket_path and not os.environ.get(protocol.SOCKET_ENV):
        os.environ[protocol.SOCKET_ENV] = socket_path
    try:
        table = table or frontends.tool_table(flavor)
        entry = table.TOOLS[tool]
    except (ImportError, AttributeError, KeyError, ValueError) as exc:
        sys.stderr.write(f"{tool}: error: the simulator has no {flavor} tool {tool!r} ({exc})\n")
        return 1
    try:
        return int(entry(list(argv)) or 0)
    except protocol.ControllerUnavailable:
        message = table.UNREACHABLE.get(tool) or f"{tool}: error: the simulated controller is unreachable"
        sys.stderr.write(message + "\n")
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
SCRIPT_TEMPLATE = """#!{python} -S
# clustrix-sim {flavor} tool script (generated; do not edit)
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
    from clustrix_sim.controller.tool_scripts import run_tool
    rc = run_tool({flavor!r}, {tool!r}, sys.argv[1:], {socket!r})
sys.exit(rc)
"""


SCRIPT_DIR = "tools-py"  # beside bin/ when bin/ holds the compiled client


def write_tool_scripts(state_dir: str, flavor: str, socket_path: str, python: str | None = None,
                       client: str | None = None, scripts_only: Collection[str] = ()) -> str:
    """Write one executable per tool of ``flavor`` into ``<state_dir>/bin``; returns the dir.

    Each is the Python tool script, or with ``client`` (the compiled tool client, see
    :mod:`clustrix_sim.controller.toolclient`) a copy of it, and the scripts it falls back to go
    to ``<state_dir>/tools-py``. The tools in ``scripts_only`` (those that never use the tool
    server: ``toolserver.IN_PROCESS_ONLY``) stay scripts.
    """
    try:
        tools = frontends.tool_table(flavor).TOOLS
    except (ImportError, ValueError):
        raise ValueError(f"unknown scheduler flavor {flavor!r}; choose one of "
                         f"{', '.join(frontends.installed())}") from None
    bin_dir = os.path.join(state_dir, "bin")
    os.makedirs(bin_dir, mode=0o755, exist_ok=True)
    # the directory that holds the clustrix_sim package: <root>/clustrix_sim/controller/this file
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script_dir = bin_dir
    compiled = [t for t in tools if t not in scripts_only] if client else []
    if compiled:
        script_dir = os.path.join(state_dir, SCRIPT_DIR)
        os.makedirs(script_dir, mode=0o755, exist_ok=True)
    for tool in tools:
        path = os.path.join(script_dir if tool in compiled else bin_dir, tool)
        text = SCRIPT_TEMPLATE.format(python=python or sys.executable, flavor=flavor, tool=tool,
                                      root=root, socket=socket_path)
        processes.write_script(path, text, 0o755)
    if client and compiled:
        from clustrix_sim.controller import toolclient  # not on the tools' own import path

        toolclient.install(client, bin_dir, compiled, flavor, socket_path, script_dir)
    return bin_dir
