"""``qhost``: the execution hosts, after a ``global`` line, in real 8.1.9's columns."""

from __future__ import annotations

import os
import sys

from clustrix_sim.sge.common import call, err

__all__ = ["main", "memory"]

HEADER = ("HOSTNAME                ARCH         NCPU NSOC NCOR NTHR  LOAD  MEMTOT  MEMUSE  SWAPTO  SWAPUS")


def memory(mb: float) -> str:
    """qhost's memory figures: ``23.5G``, ``958.9M``, ``0.0``."""
    if mb <= 0:
        return "0.0"
    return f"{mb / 1024:.1f}G" if mb >= 1024 else f"{mb:.1f}M"


def main(argv: list[str]) -> int:
    from clustrix_sim.controller import protocol

    try:
        nodes = call("nodes", "qhost")["nodes"]
    except protocol.ControllerUnavailable:
        from clustrix_sim.sge.tools import UNREACHABLE

        err(UNREACHABLE["qhost"])
        return 1
    load = os.getloadavg()[0]
    lines = [HEADER, "-" * 94, f"{'global':<23} {'-':<12} {'-':>4} {'-':>4} {'-':>4} {'-':>4} {'-':>5} {'-':>7} "
             f"{'-':>7} {'-':>7} {'-':>7}"]
    for node in nodes:
        used = node.get("alloc_mem_mb", 0)
        lines.append(f"{node['name']:<23} {'lx-amd64':<12} {node['cpus']:>4} {1:>4} {node['cpus']:>4} "
                     f"{node['cpus']:>4} {load:>5.2f} {memory(node['mem_mb']):>7} {memory(used):>7} "
                     f"{'0.0':>7} {'0.0':>7}")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
