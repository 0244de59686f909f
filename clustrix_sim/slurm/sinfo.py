"""``sinfo``: partitions and nodes, grouped by node state (§1.7)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass

from clustrix_sim.engine.model import NodeRecord, PartitionRecord
from clustrix_sim.slurm.options import table

OPTIONS = table("""
    all a all -
    dead d dead -
    exact e exact -
    noheader h noheader -
    help . help -
    hide . hide -
    iterate i iterate :
    long l long -
    clusters M clusters :
    nodes n nodes :
    Node N Node -
    noconvert . noconvert -
    format o format :
    Format O Format :
    partition p partition :
    responding r responding -
    list-reasons R list-reasons -
    summarize s summarize -
    sort S sort :
    states t states :
    usage . usage -
    verbose v verbose -
    version V version -
    json . json ?
    yaml . yaml ?
    local . local -
    federation . federation -
""")

COMPACT = {"idle": "idle", "mixed": "mix", "mix": "mix", "allocated": "alloc", "alloc": "alloc",
           "down": "down", "drained": "drain", "drain": "drain", "draining": "drng",
           "completing": "comp", "comp": "comp", "reserved": "resv", "maint": "maint"}
LONG = {"idle": "idle", "mix": "mixed", "alloc": "allocated", "down": "down", "drain": "drained",
        "drng": "draining", "comp": "completing", "resv": "reserved", "maint": "maint"}


@dataclass(frozen=True)
class Group:
    """One sinfo line: a partition and the nodes of it sharing one state (or one node, -N)."""

    part: PartitionRecord
    nodes: tuple[NodeRecord, ...]
    state: str  # compact


def _time(part: PartitionRecord) -> str:
    from clustrix_sim.slurm.timefmt import squeue_secs

    return "infinite" if part.max_time_s is None else squeue_secs(part.max_time_s)


def _counts(group: Group) -> str:
    alloc = sum(1 for n in group.nodes if COMPACT.get(n.state) in ("alloc", "mix"))
    idle = sum(1 for n in group.nodes if COMPACT.get(n.state) == "idle")
    total = len(group.nodes)
    return f"{alloc}/{idle}/{total - alloc - idle}/{total}"


def _cpu_counts(group: Group) -> str:
    total = sum(n.cpus for n in group.nodes)
    alloc = sum(n.alloc_cpus for n in group.nodes)
    other = sum(n.cpus - n.alloc_cpus for n in group.nodes
                if COMPACT.get(n.state) in ("down", "drain", "drng"))
    return f"{alloc}/{total - alloc - other}/{other}/{total}"


def _value(letter: str, group: Group) -> str:
    from clustrix_sim.slurm.hostlist import compress

    part = group.part
    if letter == "P":
        return part.name + ("*" if part.default else "")
    if letter == "R":
        return part.name
    if letter == "a":
        return {"up": "up", "down": "down", "drain": "drain", "inactive": "inact"}.get(
            part.state.lower(), part.state.lower())
    if letter == "l":
        return _time(part)
    if letter == "D":
        return str(len(group.nodes))
    if letter == "t":
        return group.state
    if letter == "T":
        return LONG.get(group.state, group.state)
    if letter in "NnB":
        return compress([n.name for n in group.nodes])
    if letter == "c":
        return str(group.nodes[0].cpus) if group.nodes else "0"
    if letter == "m":
        return str(group.nodes[0].mem_mb) if group.nodes else "0"
    if letter == "G":
        gpus = group.nodes[0].gpus if group.nodes else 0
        return f"gpu:{gpus}" if gpus else "(null)"
    if letter == "F":
        return _counts(group)
    if letter == "C":
        return _cpu_counts(group)
    if letter == "E":
        return next((n.reason for n in group.nodes if n.reason), "none")
    if letter == "s":
        return "unlimited"
    if letter == "h":
        return "NO"
    if letter == "g":
        return "all"
    if letter == "r":
        return "no"
    return "?"


HEADERS = {"P": "PARTITION", "R": "PARTITION", "a": "AVAIL", "l": "TIMELIMIT", "D": "NODES",
           "t": "STATE", "T": "STATE", "N": "NODELIST", "n": "HOSTNAMES", "B": "NODELIST",
           "c": "CPUS", "m": "MEMORY", "G": "GRES", "F": "NODES(A/I/O/T)",
           "C": "CPUS(A/I/O/T)", "E": "REASON", "s": "JOB_SIZE", "h": "OVERSUBSCRIBE",
           "g": "GROUPS", "r": "ROOT"}
_TOKEN = re.compile(r"%(\.?)(#|\d*)(.)")


def render(fmt: str, groups: list[Group], header: bool) -> str:
    """Render groups with an ``-o`` format (``%.N`` right, ``%N`` left, ``%#`` auto width)."""
    from clustrix_sim.slurm.squeue_fields import print_str

    pieces: list[tuple[str, str, int, bool, str]] = []  # letter, prefix, width, right, suffix
    pos = fmt.find("%")
    prefix = fmt[:pos] if pos > 0 else ("" if pos == 0 else fmt)
    while 0 <= pos < len(fmt):
        match = _TOKEN.match(fmt, pos)
        if not match:
            break
        nxt = fmt.find("%", match.end())
        suffix = fmt[match.end(): nxt if nxt >= 0 else len(fmt)]
        width_text, letter = match.group(2), match.group(3)
        if width_text == "#":
            width = max([len(_value(letter, g)) for g in groups] + [len(HEADERS.get(letter, ""))])
        else:
            width = int(width_text or 0)
        pieces.append((letter, "", width, match.group(1) == ".", suffix))
        pos = nxt
    lines = []
    if header:
        lines.append(prefix + "".join(print_str(HEADERS.get(p[0], "?"), p[2], p[3], True) + p[4]
                                      for p in pieces))
    for group in groups:
        lines.append(prefix + "".join(print_str(_value(p[0], group), p[2], p[3], p[0] not in "NB")
                                      + p[4] for p in pieces))
    return "".join(line + "\n" for line in lines)


def main(argv: list[str]) -> int:
    """Run sinfo with ``argv``; returns the exit code."""
    from clustrix_sim.controller import protocol
    from clustrix_sim.slurm.common import call, parse_tool_args

    parsed = parse_tool_args(argv, OPTIONS, "sinfo", "Usage: sinfo [OPTIONS]\n")
    if isinstance(parsed, int):
        return parsed
    present, last = parsed.present, parsed.last
    try:
        parts = [PartitionRecord.from_dict(p) for p in call("partitions", "sinfo")["partitions"]]
        nodes = [NodeRecord.from_dict(n) for n in call("nodes", "sinfo")["nodes"]]
    except protocol.ControllerUnavailable:
        sys.stderr.write("slurm_load_partitions: Unable to contact slurm controller "
                         "(connect failure)\n")
        return 1
    by_name = {n.name: n for n in nodes}
    if "partition" in present:
        wanted = set((last["partition"] or "").split(","))
        parts = [p for p in parts if p.name in wanted]
    state_filter = None
    if "states" in present:
        state_filter = {COMPACT.get(s.lower(), s.lower()) for s in (last["states"] or "").split(",")}

    groups: list[Group] = []
    for part in parts:
        members = [by_name[n] for n in part.nodes if n in by_name]
        if "Node" in present:
            for node in members:
                groups.append(Group(part, (node,), COMPACT.get(node.state, node.state)))
            continue
        if "summarize" in present:
            groups.append(Group(part, tuple(members), ""))
            continue
        order: list[str] = []
        buckets: dict[str, list[NodeRecord]] = {}
        for node in members:
            state = COMPACT.get(node.state, node.state)
            if state not in buckets:
                order.append(state)
                buckets[state] = []
            buckets[state].append(node)
        if not members:
            groups.append(Group(part, (), "n/a"))
        groups.extend(Group(part, tuple(buckets[s]), s) for s in order)
    if state_filter is not None:
        groups = [g for g in groups if g.state in state_filter]

    if "format" in present:
        fmt = last["format"] or ""
    elif "Node" in present:
        fmt = "%#N %.6D %#P %6t"
    elif "summarize" in present:
        fmt = "%#P %.5a %.10l %.16F  %N"
    elif "long" in present:
        fmt = "%#P %.5a %.10l %.10s %.4r %.8h %.10g %.6D %.11T %N"
    else:
        fmt = "%#P %.5a %.10l %.6D %.6t %N"
    if "%#P" in fmt:
        width = max([len(g.part.name) + (1 if g.part.default else 0) for g in groups] + [9])
        fmt = fmt.replace("%#P", f"%-{width}P".replace("-", ""))
    out = render(fmt, groups, header="noheader" not in present)
    if "long" in present and "format" not in present:
        from clustrix_sim.slurm.timefmt import clock_str

        out = clock_str(float(call("info", "sinfo")["now"])) + "\n" + out
    sys.stdout.write(out)
    return 0
