"""``pbsnodes -a`` (and ``pbsnodes <node>...``): each node, its state and resources.

PBS Pro prints the node name, then ``     key = value`` lines (five spaces), then a blank line;
states are ``free``, ``job-busy`` (every CPU taken), ``down`` and ``offline``. Torque prints
``state``, ``np``, ``ntype = cluster`` and the ``jobs`` list (``0-3/123.server``).
"""

from __future__ import annotations

import getopt
import sys

from clustrix_sim.pbs.dialect import PBSPRO, Dialect

__all__ = ["main"]


def _state(node: dict, dialect: Dialect) -> str:
    if node["state"] in ("down", "drained", "drain"):
        return "down" if node["state"] == "down" else "offline"
    if node.get("alloc_cpus", 0) >= node["cpus"]:
        return "job-exclusive" if dialect.name == "torque" else "job-busy"
    return "free"


def _size(mb: int) -> str:
    return f"{mb // 1024}gb" if mb % 1024 == 0 else f"{mb}mb"


def main(argv: list[str], dialect: Dialect = PBSPRO) -> int:
    from clustrix_sim.pbs.common import call, fail

    try:
        opts, names = getopt.getopt(argv, "aljvSs:F:")
    except getopt.GetoptError as exc:
        sys.stderr.write(f"pbsnodes: invalid option -- '{exc.opt}'\nusage: pbsnodes [-a] [node...]\n")
        return 2
    nodes = call("nodes", "pbsnodes")["nodes"]
    by_name = {n["name"]: n for n in nodes}
    rc = 0
    chosen = []
    for name in names:
        if name in by_name:
            chosen.append(by_name[name])
        else:
            rc = fail("pbsnodes", f"Server has no node list {name}" if dialect.name != "torque"
                      else f"Unknown node  MSG=cannot locate specified node {name}", 15062)
    if not names:
        chosen = nodes
    out = []
    for node in chosen:
        state = _state(node, dialect)
        if dialect.name == "torque":
            lines = [f"state = {state}", "power_state = Running", f"np = {node['cpus']}", "properties = " +
                     ",".join(node.get("partitions", [])), "ntype = cluster",
                     "mom_service_port = 15002", "mom_manager_port = 15003", f"gpus = {node.get('gpus', 0)}"]
        else:
            lines = [f"Mom = {node['name']}", "ntype = PBS", f"state = {state}", f"pcpus = {node['cpus']}",
                     "resources_available.arch = linux", f"resources_available.host = {node['name']}",
                     f"resources_available.mem = {_size(node['mem_mb'])}",
                     f"resources_available.ncpus = {node['cpus']}",
                     f"resources_available.ngpus = {node.get('gpus', 0)}",
                     f"resources_available.vnode = {node['name']}",
                     f"resources_assigned.mem = {node.get('alloc_mem_mb', 0) * 1024}kb",
                     f"resources_assigned.ncpus = {node.get('alloc_cpus', 0)}",
                     f"resources_assigned.ngpus = {node.get('alloc_gpus', 0)}",
                     "resv_enable = True", "sharing = default_shared"]
        out.append(node["name"] + "\n" + "".join(f"     {line}\n" for line in lines) + "\n")
    sys.stdout.write("".join(out))
    return rc
